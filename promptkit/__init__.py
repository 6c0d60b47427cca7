"""promptkit: prompting and reasoning pipelines over large language models."""

import warnings
from typing import Any

from promptkit.engines import CachedEngine, Engine, ReplayEngine, ScriptedEngine, make_engine
from promptkit.engines.engine_kinds import ENGINE_KINDS
from promptkit.errors import PromptkitError
from promptkit.runs.build import Built, build, build_method
from promptkit.runs.evaluate import RunResult, evaluate
from promptkit.runs.experiments import SweepResult, auto_cot_exemplars, compare, orders, repeats, run, sweep
from promptkit.runs.pool import EnginePool
from promptkit.runs.records import RunSummary, read_summary
from promptkit.runs.render import RenderedPrompt, render
from promptkit.runspec import HFEngineSpec, OpenAIEngineSpec, PipelineSpec, ReplayEngineSpec, RunSpec, VLLMEngineSpec
from promptkit.runspec.load import CheckedSpec, load_spec
from promptkit.runspec.methods import METHODS
from promptkit.stages import Extract, Generate
from promptkit.stages.framework.pipeline import Pipeline
from promptkit.stages.framework.templating import Templates
from promptkit.stages.library.extractors import EXTRACTORS, Extractor, get_extractor
from promptkit.stages.stage_kinds import STAGE_KINDS
from promptkit.tasks import Task, TaskDefinition, load_task, read_definition, shipped_names
from promptkit.tuning.settings import TuneSettings
from promptkit.types import Completion, Example, GenRequest, Sampling, StageRecord, State

__version__ = "0.1.0"

# Names that moved, kept for one release: each warns where it is used.
_MOVED = {"PRESETS": ("METHODS", lambda: METHODS)}


# Learning prompts loads torch: imported when first used, not by `import promptkit`.
_LAZY = {"tune": "promptkit.tuning", "TuneResult": "promptkit.tuning"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    if name in _MOVED:
        new, value = _MOVED[name]
        warnings.warn(f"promptkit.{name} is deprecated: use promptkit.{new}", DeprecationWarning, stacklevel=2)
        return value()
    raise AttributeError(f"module 'promptkit' has no attribute {name!r}")


__all__ = [
    "ENGINE_KINDS",
    "EXTRACTORS",
    "METHODS",
    "STAGE_KINDS",
    "Built",
    "CachedEngine",
    "CheckedSpec",
    "Completion",
    "Engine",
    "EnginePool",
    "Example",
    "Extract",
    "Extractor",
    "GenRequest",
    "Generate",
    "HFEngineSpec",
    "OpenAIEngineSpec",
    "Pipeline",
    "PipelineSpec",
    "PromptkitError",
    "RenderedPrompt",
    "ReplayEngine",
    "ReplayEngineSpec",
    "RunResult",
    "RunSpec",
    "RunSummary",
    "Sampling",
    "ScriptedEngine",
    "StageRecord",
    "State",
    "SweepResult",
    "Task",
    "TaskDefinition",
    "Templates",
    "TuneResult",
    "TuneSettings",
    "VLLMEngineSpec",
    "auto_cot_exemplars",
    "build",
    "build_method",
    "compare",
    "evaluate",
    "get_extractor",
    "load_spec",
    "load_task",
    "make_engine",
    "orders",
    "read_definition",
    "read_summary",
    "render",
    "repeats",
    "run",
    "shipped_names",
    "sweep",
    "tune",
]
