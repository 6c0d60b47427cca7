"""promptkit: prompting and reasoning pipelines over large language models."""

from promptkit.engines import CachedEngine, Engine, ReplayEngine, ScriptedEngine, make_engine
from promptkit.errors import PromptkitError
from promptkit.runs.build import Built, build, build_method
from promptkit.runs.evaluate import RunResult, evaluate
from promptkit.spec import HFEngineSpec, OpenAIEngineSpec, ReplayEngineSpec, RunSpec, VLLMEngineSpec
from promptkit.spec.presets import PRESETS
from promptkit.stages import Extract, Generate
from promptkit.stages.extractors import EXTRACTORS, Extractor, get_extractor
from promptkit.stages.pipeline import Pipeline
from promptkit.stages.templating import Templates
from promptkit.tasks import TASKS, Task, load_task
from promptkit.types import Completion, Example, GenRequest, Sampling, StageRecord, State

__version__ = "0.1.0"

__all__ = [
    "EXTRACTORS",
    "PRESETS",
    "TASKS",
    "Built",
    "CachedEngine",
    "Completion",
    "Engine",
    "Example",
    "Extract",
    "Extractor",
    "GenRequest",
    "Generate",
    "HFEngineSpec",
    "OpenAIEngineSpec",
    "Pipeline",
    "PromptkitError",
    "ReplayEngine",
    "ReplayEngineSpec",
    "RunResult",
    "RunSpec",
    "Sampling",
    "ScriptedEngine",
    "StageRecord",
    "State",
    "Task",
    "Templates",
    "VLLMEngineSpec",
    "build",
    "build_method",
    "evaluate",
    "get_extractor",
    "load_task",
    "make_engine",
]
