"""promptkit: prompting and reasoning pipelines over large language models."""

from promptkit.engines import CachedEngine, Engine, ReplayEngine, ScriptedEngine, make_engine
from promptkit.engines.kinds import ENGINE_KINDS
from promptkit.errors import PromptkitError
from promptkit.runs.build import Built, build, build_method
from promptkit.runs.evaluate import RunResult, evaluate
from promptkit.runs.experiments import SweepResult, auto_cot_exemplars, compare, orders, run, sweep
from promptkit.runs.pool import EnginePool
from promptkit.runs.records import RunSummary, read_summary
from promptkit.spec import HFEngineSpec, OpenAIEngineSpec, PipelineSpec, ReplayEngineSpec, RunSpec, VLLMEngineSpec
from promptkit.spec.files import load_spec
from promptkit.spec.presets import PRESETS
from promptkit.stages import Extract, Generate
from promptkit.stages.extractors import EXTRACTORS, Extractor, get_extractor
from promptkit.stages.kinds import STAGE_KINDS
from promptkit.stages.pipeline import Pipeline
from promptkit.stages.templating import Templates
from promptkit.tasks import Task, TaskDefinition, load_task, read_definition, shipped_names
from promptkit.types import Completion, Example, GenRequest, Sampling, StageRecord, State

__version__ = "0.1.0"

__all__ = [
    "ENGINE_KINDS",
    "EXTRACTORS",
    "PRESETS",
    "STAGE_KINDS",
    "Built",
    "CachedEngine",
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
    "run",
    "shipped_names",
    "sweep",
]
