"""Auto-CoT as a pipeline stage: the model writes the demonstrations, then every example gets them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import ClassVar

from promptkit.engines.base import Engine
from promptkit.stages.auto_cot_build import AutoCoTSettings, auto_cot
from promptkit.stages.base import map_states
from promptkit.tasks.base import Task
from promptkit.types import State


@dataclass(frozen=True)
class AutoCoTDemos:
    """Builds the demonstrations from `pool` with the run's engine (batched), once per call."""

    pool: Task
    settings: AutoCoTSettings = field(default_factory=AutoCoTSettings)
    name: str = "auto_cot"

    reads: ClassVar[tuple[str, ...]] = ("question",)
    writes: ClassVar[tuple[str, ...]] = ("demos",)

    def __call__(self, states: Sequence[State], engine: Engine) -> list[State]:
        demos = auto_cot(self.pool, engine, self.settings).demos
        chosen = [{**d.variables(), "rank": i} for i, d in enumerate(demos)]
        return map_states(self.name, states, lambda s: s.with_fields(demos=list(chosen)))
