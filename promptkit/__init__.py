"""promptkit: prompting and reasoning pipelines over large language models."""

from .build import Built, build, build_method
from .engines import CachedEngine, Engine, ReplayEngine, ScriptedEngine, make_engine
from .errors import PromptkitError
from .evaluate import RunResult, evaluate
from .extract import EXTRACTORS, Extractor, get_extractor
from .pipeline import Pipeline
from .presets import PRESETS
from .spec import HFEngineSpec, OpenAIEngineSpec, ReplayEngineSpec, RunSpec, VLLMEngineSpec
from .stages import Extract, Generate
from .tasks import TASKS, Task, load_task
from .templating import Templates
from .types import Completion, Example, GenRequest, Sampling, StageRecord, State

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
