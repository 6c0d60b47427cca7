"""A pipeline is a list of stages applied to all examples together, stage by stage."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from tqdm.auto import tqdm

from .engines.base import Engine
from .stages.base import Stage
from .types import Example, State


@dataclass(frozen=True)
class Pipeline:
    stages: tuple[Stage, ...]

    def run(self, examples: Sequence[Example], engine: Engine, progress: bool = False) -> list[State]:
        states = [State(e) for e in examples]
        with tqdm(total=len(self.stages), desc="stages", unit="stage", disable=None if progress else True) as bar:
            for stage in self.stages:
                bar.set_postfix_str(stage.name)
                states = stage(states, engine)
                if len(states) != len(examples):
                    raise RuntimeError(
                        f"stage {stage.name!r} returned {len(states)} states for {len(examples)} examples"
                    )
                bar.update(1)
        return states
