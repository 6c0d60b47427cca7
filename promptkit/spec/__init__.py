"""Specs: the pydantic models of a run, named methods (presets), reading spec files, and what a spec may read."""

from promptkit.spec.models import (
    ChatSpec,
    EngineSpec,
    HFEngineSpec,
    MethodSpec,
    OpenAIEngineSpec,
    ReplayEngineSpec,
    RunSpec,
    StageSpec,
    TaskSpec,
    VLLMEngineSpec,
)

__all__ = [
    "ChatSpec",
    "EngineSpec",
    "HFEngineSpec",
    "MethodSpec",
    "OpenAIEngineSpec",
    "ReplayEngineSpec",
    "RunSpec",
    "StageSpec",
    "TaskSpec",
    "VLLMEngineSpec",
]
