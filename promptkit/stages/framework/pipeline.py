"""A pipeline is a list of stages applied to all examples together, stage by stage; it is itself a stage."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from tqdm.auto import tqdm

from promptkit.engines.base import Engine
from promptkit.stages.framework.samples import join_first
from promptkit.stages.framework.stage import Stage
from promptkit.types import Example, State


@dataclass(frozen=True)
class Pipeline:
    stages: tuple[Stage, ...]
    name: str = "pipeline"
    progress: bool = False
    """A progress bar over the stages."""

    @property
    def reads(self) -> tuple[str, ...]:
        """What it needs from outside: what a stage reads that no earlier stage wrote."""
        written: set[str] = set()
        needed: list[str] = []
        for stage in self.stages:
            needed += [f for f in stage.reads if f not in written and f not in needed]
            written |= set(stage.writes)
        return tuple(needed)

    @property
    def writes(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(f for stage in self.stages for f in stage.writes))

    def __call__(self, states: Sequence[State], engine: Engine) -> list[State]:
        """Every stage in turn over all states; samples no stage joined are joined at the end."""
        return self._through(states, engine, self.progress)

    def _through(self, states: Sequence[State], engine: Engine, progress: bool) -> list[State]:
        out = list(states)
        with tqdm(total=len(self.stages), desc="stages", unit="stage", disable=None if progress else True) as bar:
            for stage in self.stages:
                bar.set_postfix_str(stage.name)
                out = stage(out, engine)
                bar.update(1)
        return join_first(out)

    def run(self, examples: Sequence[Example], engine: Engine, progress: bool = False) -> list[State]:
        """One state per example, in order; a failed example carries its error instead of stopping the run."""
        states = self._through([State(e) for e in examples], engine, progress)
        if [s.example.id for s in states] != [e.id for e in examples]:
            raise RuntimeError(f"the pipeline returned {len(states)} states for {len(examples)} examples")
        return states
