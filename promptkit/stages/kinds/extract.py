"""Answer extraction: no model call; reads a text field of each sample and writes its answer."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from pydantic import Field

from promptkit.engines.base import Engine
from promptkit.stages.framework.declaration import BuildContext, StageKind
from promptkit.stages.framework.spec_fields import SpecModel
from promptkit.stages.framework.stage import map_states
from promptkit.stages.library.extractors import Extractor
from promptkit.stages.library.task_extractors import task_extractor
from promptkit.types import State


@dataclass(frozen=True)
class Extract:
    extractor: Extractor
    source: str = "answer"
    output: str = "prediction"
    name: str = "extract"

    @property
    def reads(self) -> tuple[str, ...]:
        return (self.source,)

    @property
    def writes(self) -> tuple[str, ...]:
        return (self.output,)

    def __call__(self, states: Sequence[State], engine: Engine) -> list[State]:
        return map_states(self.name, states, self._one)

    def _one(self, state: State) -> State:
        text = state.fields.get(self.source)
        answer = None if text is None else self.extractor.answer(str(text), state.example)
        return state.with_fields(**{self.output: answer})


class ExtractSpec(SpecModel):
    kind: Literal["extract"]
    extractor: str | None = Field(None, description="extractor name; the run's extractor when absent")
    source: str = Field("answer", description="field to read")
    output: str = Field("prediction", description="field to write")


def _build(s: ExtractSpec, ctx: BuildContext) -> Extract:
    chosen = task_extractor(s.extractor or ctx.extractor, ctx.task)
    return Extract(chosen, s.source, s.output)


KINDS = (StageKind(ExtractSpec, _build, extractor=lambda s: s.extractor),)
