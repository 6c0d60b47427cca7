"""Answer extraction: no model call; reads a text field and writes the prediction."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..engines.base import Engine
from ..extract import Extractor
from ..types import State


@dataclass(frozen=True)
class Extract:
    extractor: Extractor
    source: str = "answer"
    output: str = "prediction"
    name: str = "extract"

    def __call__(self, states: Sequence[State], engine: Engine) -> list[State]:
        out = []
        for s in states:
            text = s.fields.get(self.source)
            if isinstance(text, list):
                value = [self.extractor.extract(t) for t in text]
            else:
                value = None if text is None else self.extractor.extract(text)
            out.append(s.with_fields(**{self.output: value}))
        return out
