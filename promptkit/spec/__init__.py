"""Specs: the pydantic models of a run, named methods (presets), reading spec files, and what a spec may read."""

from promptkit.engines.kinds import HFEngineSpec, OpenAIEngineSpec, ReplayEngineSpec, VLLMEngineSpec
from promptkit.spec.models import (
    EngineSpec,
    MethodSpec,
    PipelineSpec,
    RunSpec,
    StageSpec,
    TaskSpec,
)
from promptkit.stages.spec_fields import ChatSpec

__all__ = [
    "ChatSpec",
    "EngineSpec",
    "HFEngineSpec",
    "MethodSpec",
    "OpenAIEngineSpec",
    "PipelineSpec",
    "ReplayEngineSpec",
    "RunSpec",
    "StageSpec",
    "TaskSpec",
    "VLLMEngineSpec",
]
