"""Specs: the pydantic models of a run, named methods, reading spec files, and what a spec may read."""

from promptkit.engines.engine_kinds import HFEngineSpec, OpenAIEngineSpec, ReplayEngineSpec, VLLMEngineSpec
from promptkit.runspec.load import CheckedSpec, check, load_spec
from promptkit.runspec.models import (
    EngineSpec,
    MethodSpec,
    PipelineSpec,
    RunSpec,
    StageSpec,
    TaskSpec,
)
from promptkit.stages.framework.spec_fields import ChatSpec

__all__ = [
    "ChatSpec",
    "CheckedSpec",
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
    "check",
    "load_spec",
]
