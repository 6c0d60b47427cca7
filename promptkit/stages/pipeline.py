"""A pipeline is a list of stages applied to all examples together, stage by stage."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from tqdm.auto import tqdm

from promptkit.engines.base import Engine
from promptkit.stages.base import Stage
from promptkit.stages.vote import First
from promptkit.types import Example, State


@dataclass(frozen=True)
class Pipeline:
    stages: tuple[Stage, ...]

    def run(self, examples: Sequence[Example], engine: Engine, progress: bool = False) -> list[State]:
        """One state per example, in order; a failed example carries its error instead of stopping the run."""
        states = [State(e) for e in examples]
        with tqdm(total=len(self.stages), desc="stages", unit="stage", disable=None if progress else True) as bar:
            for stage in self.stages:
                bar.set_postfix_str(stage.name)
                states = stage(states, engine)
                bar.update(1)
        if any(s.sample is not None for s in states):  # samples never joined: the first one speaks
            states = First()(states, engine)
        if [s.example.id for s in states] != [e.id for e in examples]:
            raise RuntimeError(f"the pipeline returned {len(states)} states for {len(examples)} examples")
        return states
