"""A task: its examples, what kind of answer it expects, and the definition they were read by."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from promptkit.tasks.definition import AnswerKind
from promptkit.types import Example

if TYPE_CHECKING:
    from promptkit.tasks.definition import TaskDefinition


@dataclass(frozen=True)
class Task:
    name: str
    examples: tuple[Example, ...]
    answer_kind: AnswerKind
    source: str
    """Where the examples came from (a file path or a hub dataset), for the summary."""
    meta: Mapping[str, Any] = field(default_factory=dict)
    """Facts about the set for reports, e.g. {"words": 4} for last letters."""
    rationales: Mapping[str, str] = field(default_factory=dict)
    """Worked solutions by example id, where the task file says how to write them (demonstration pools)."""
    definition: TaskDefinition | None = None
    """The task file it was read by; None for a task made in code (the shipped task of its name then applies)."""
    folder: Path | None = None
    """The folder --data named, where the task's files were found by name (its training file too)."""
    whole: Task | None = field(default=None, repr=False, compare=False)
    """Before limit(): what depends on the data as a whole (Auto-CoT's clusters) must not depend on --limit."""

    def limit(self, n: int | None) -> Task:
        """The first n examples; ids are positions in the full set, so they do not change."""
        return self if n is None else replace(self, examples=self.examples[:n], whole=self.whole or self)

    def with_examples(self, examples: tuple[Example, ...]) -> Task:
        return replace(self, examples=examples)

    @property
    def labels(self) -> tuple[str, ...]:
        """A choice task's allowed labels: the task file's, else every label its examples offer, in order."""
        if self.definition is not None and self.definition.answer.labels:
            return tuple(self.definition.answer.labels)
        seen: dict[str, None] = {}
        for e in self.examples:
            seen.update(dict.fromkeys(e.inputs.get("labels") or ()))
        return tuple(seen)
