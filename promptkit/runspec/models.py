"""Declarative run specs: YAML checked by pydantic, built into task, engine and pipeline.

Every model forbids unknown fields, so a typo is an error that names its dotted path.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Literal, Union

from pydantic import Field, model_validator

from promptkit.engines.engine_kinds import ENGINE_KINDS
from promptkit.schema import Count, CountFromZero
from promptkit.stages.framework.spec_fields import Seed, SpecModel
from promptkit.stages.kinds.score_classes import Calibration
from promptkit.stages.kinds.select_demos import Order, Strategy
from promptkit.stages.library.ablations import Answers, Inputs, Rationales
from promptkit.stages.stage_kinds import STAGE_KINDS

_Spec = SpecModel


# --- task ------------------------------------------------------------------------------------------


class TaskSpec(_Spec):
    name: str = Field(
        description="a shipped task by name (`promptkit tasks` lists them), or a task file (.yaml, relative to the spec)"
    )
    data: str | None = Field(
        None, description="the task's data: a JSONL, JSON or CSV file, or a dataset folder; the task's own when absent"
    )
    limit: Count | None = Field(None, description="first N examples only")
    whole_set: bool = Field(
        False, description="all the records, where the task's standard set is a subsample (Zhao et al.'s 300)"
    )


# --- engines: each kind's model is declared with its factory (promptkit.engines.engine_kinds) -------------


if TYPE_CHECKING:  # the union is made from the registry at run time; a checker sees any engine's spec
    EngineSpec = Any
else:
    EngineSpec = Annotated[Union[tuple(kind.spec for kind in ENGINE_KINDS.values())], Field(discriminator="kind")]  # noqa: UP007


# --- a method by name ------------------------------------------------------------------------------


LabelWords = Literal["task", "random_english"]


class MethodSpec(_Spec):
    """A named method: it expands into a `pipeline:` list (see spec.resolved.yaml)."""

    name: str = Field(description="a method by name (promptkit.METHODS; `promptkit eval --help` lists them)")
    shots: CountFromZero | None = Field(
        None, description="demonstrations per prompt (default: all exemplars, or 8 from a pool)"
    )
    selector: Strategy = Field("fixed", description="how demonstrations are chosen")
    order: Order = Field("given", description="demonstration order in the prompt")
    selection_seed: Seed = Field(0, description="seed of the per-example demonstration draws")
    order_seed: Seed | None = Field(None, description="seed of the random order alone (default: selection_seed)")
    demo_answers: Answers = Field(
        "gold", description="ablation: gold answers, another demonstration's, or none (question only)"
    )
    demo_rationales: Rationales = Field(
        "gold", description="ablation: gold rationales, another demonstration's, or none"
    )
    demo_inputs: Inputs = Field(
        "gold", description="ablation: gold questions, another pool question, or an ood_pool sentence (answer kept)"
    )
    demo_ood_pool: str | None = Field(None, description="demo_inputs: ood: a text file of sentences, one per line")
    pool: str | None = Field(None, description="demonstration pool: exemplars JSON or a data file of the task")
    demos: list[str] | None = Field(
        None, description="pinned demonstrations: pool record ids in prompt order (what `promptkit tune` chooses)"
    )
    chat: bool = Field(False, description="demonstrations as chat turns")
    label_words: LabelWords = Field(
        "task", description="classify: the task's label words, or random English words (Min et al.), seeded"
    )
    calibrate: Calibration = Field(
        "none", description="classify: content_free for contextual calibration (Zhao et al.)"
    )
    samples: Count | None = Field(
        None,
        description="samples per question, joined by a majority vote (default: 5 for self_consistency, else 1)",
    )
    temperature: float | None = Field(
        None,
        ge=0,
        allow_inf_nan=False,
        description="sampling temperature (default: 0.7 with samples > 1, else 0 = greedy)",
    )
    seed: Seed | None = Field(None, description="sampling seed")
    max_tokens: dict[str, Count] = Field(default_factory=dict, description="stage name -> generation budget")
    templates: dict[str, str] = Field(default_factory=dict, description="stage name -> template name or file")


# --- an explicit list of stages: each kind's model is declared with its code (promptkit.stages) ----


if TYPE_CHECKING:  # as EngineSpec: made from the stage kinds' registry at run time
    StageSpec = Any
else:
    StageSpec = Annotated[Union[tuple(kind.spec for kind in STAGE_KINDS.values())], Field(discriminator="kind")]  # noqa: UP007


# --- the whole run ---------------------------------------------------------------------------------


class PipelineSpec(_Spec):
    """A task and what to run on it: everything but the engine (what `build` and `render` need)."""

    task: TaskSpec
    name: str | None = Field(None, description="the run's name in summaries and tables; the method's by default")
    method: MethodSpec | None = Field(None, description="a method by name with its parameters")
    pipeline: list[StageSpec] | None = Field(None, description="or an explicit list of stages")
    extractor: str | None = Field(None, description="how predictions are scored; the method's default when absent")
    words: dict[str, str] = Field(
        default_factory=dict,
        description="task words replaced for this run (cot_trigger, instruction, prompt_prefix, ...): what "
        "`promptkit tune` searches; `promptkit render` shows the prompts they make",
    )
    template_dirs: list[str] = Field(default_factory=list, description="folders searched before the shipped templates")

    @model_validator(mode="after")
    def _method_or_pipeline(self):
        if (self.method is None) == (self.pipeline is None):
            raise ValueError("give exactly one of 'method' or 'pipeline'")
        return self

    @property
    def label(self) -> str:
        return self.name or (self.method.name if self.method else "pipeline")


class RunSpec(PipelineSpec):
    """Everything about a run; the resolved spec written beside the results reproduces it."""

    engine: EngineSpec
