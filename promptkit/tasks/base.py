"""A task: its examples and what kind of answer it expects."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from promptkit.types import Example

AnswerKind = Literal["number", "letters"]


@dataclass(frozen=True)
class Task:
    name: str
    examples: tuple[Example, ...]
    answer_kind: AnswerKind
    source: str
    """Where the examples came from (a file path or a hub dataset), for the summary."""
    meta: Mapping[str, Any] = field(default_factory=dict)
    """Facts about the set for reports, e.g. {"words": 4} for last letters."""

    def limit(self, n: int | None) -> Task:
        """The first n examples; ids are positions in the full set, so they do not change."""
        if n is None:
            return self
        return Task(self.name, self.examples[:n], self.answer_kind, self.source, self.meta)
