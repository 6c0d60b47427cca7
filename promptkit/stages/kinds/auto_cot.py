"""Auto-CoT as a pipeline stage: the model writes the demonstrations, then every example gets them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import ClassVar, Literal

from pydantic import Field

from promptkit.engines.base import Engine
from promptkit.schema import Count
from promptkit.stages.framework.declaration import BuildContext, StageKind
from promptkit.stages.framework.spec_fields import Seed, SpecModel
from promptkit.stages.framework.stage import map_states
from promptkit.stages.library.auto_cot_build import AutoCoTSettings, Reasoner, auto_cot
from promptkit.stages.library.demo_pools import question_pool
from promptkit.tasks.base import Task
from promptkit.types import State


@dataclass(frozen=True)
class AutoCoTDemos:
    """Builds the demonstrations from `pool` with the run's engine (batched), once per call."""

    pool: Task
    reasoner: Reasoner
    settings: AutoCoTSettings = field(default_factory=AutoCoTSettings)
    name: str = "auto_cot"

    reads: ClassVar[tuple[str, ...]] = ("question",)
    writes: ClassVar[tuple[str, ...]] = ("demos",)

    def __call__(self, states: Sequence[State], engine: Engine) -> list[State]:
        demos = auto_cot(self.pool, engine, self.reasoner, self.settings).demos
        chosen = [{**d.variables(), "rank": i} for i, d in enumerate(demos)]
        return map_states(self.name, states, lambda s: s.with_fields(demos=list(chosen)))


class AutoCoTSpec(SpecModel):
    kind: Literal["auto_cot"]
    pool: str | None = Field(
        None,
        description="questions to cluster: a data file of the task (default: the data being evaluated, as the paper)",
    )
    clusters: Count | None = Field(None, description="demonstrations, one per cluster (default: 8; 4 for last letters)")
    max_question_words: Count = Field(60, description="filter: longest question kept")
    max_steps: Count | None = Field(None, description="filter: most reasoning lines (default: 5; 7 for last letters)")
    tries: Count = Field(5, description="questions tried per cluster, nearest the centroid first")
    seed: Seed = Field(0, description="k-means seed")
    embedder: Literal["tfidf", "embedding"] = Field("tfidf", description="question vectors for clustering")
    max_tokens: Count = Field(256, description="zero-shot-CoT reasoning budget")


def _build(s: AutoCoTSpec, ctx: BuildContext) -> AutoCoTDemos:
    settings = AutoCoTSettings(s.clusters, s.max_question_words, s.max_steps, s.tries, s.seed, s.embedder, s.max_tokens)
    return AutoCoTDemos(question_pool(s.pool, ctx.task), ctx.reasoner, settings)


KINDS = (StageKind(AutoCoTSpec, _build, files=("pool",), untraced_calls=True),)
