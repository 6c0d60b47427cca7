"""A task: its examples, what kind of answer it expects, and the definition they were read by."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from promptkit.tasks.definition import AnswerKind
from promptkit.types import Example

if TYPE_CHECKING:
    from promptkit.tasks.definition import TaskDefinition
    from promptkit.tasks.lm_eval.source import LmEvalSource


@dataclass(frozen=True)
class LeftOut:
    """Records of the set that the task did not take: refused by its source's `keep` test, or skipped for a gold
    answer that does not fit its answer type (`on_bad_answer: skip`)."""

    filtered: int = 0
    skipped: tuple[str, ...] = ()
    """'file:line: why', one per skipped record."""

    SHOWN = 3
    """Skipped records quoted where they are reported (all of them are in the count)."""

    def __bool__(self) -> bool:
        return bool(self.filtered or self.skipped)

    def as_dict(self) -> dict[str, Any]:
        """What summary.json records (RunSummary.left_out)."""
        return {
            "filtered": self.filtered,
            "skipped": len(self.skipped),
            "first_skipped": list(self.skipped[: self.SHOWN]),
        }

    def describe(self) -> str:
        return left_out_line(self.as_dict())


def left_out_line(left_out: Mapping[str, Any]) -> str:
    """One line from a summary's `left_out`: how many records were skipped (the first few quoted) and filtered."""
    parts = []
    skipped, first = int(left_out.get("skipped") or 0), list(left_out.get("first_skipped") or ())
    if skipped:
        quoted = "; ".join(str(line) for line in first) + ("; ..." if skipped > len(first) else "")
        parts.append(f"{skipped} records skipped, their gold answer does not fit: {quoted}")
    if left_out.get("filtered"):
        parts.append(f"{left_out['filtered']} records left out by the task's keep test")
    return "; ".join(parts)


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
    left_out: LeftOut = field(default_factory=LeftOut)
    """Records of the set the task did not take, and why."""
    whole: Task | None = field(default=None, repr=False, compare=False)
    """Before limit(): what depends on the data as a whole (Auto-CoT's clusters) must not depend on --limit."""
    load_whole: Callable[[], Task] | None = field(default=None, repr=False, compare=False)
    """For a task read only as far as its limit: how to read the whole set, should something need it."""
    lm_eval: LmEvalSource | None = field(default=None, repr=False, compare=False)
    """A task of lm-evaluation-harness: its documents and lm-eval's own code over them (the lm_eval method's)."""
    absent: Mapping[str, str] = field(default_factory=dict)
    """Inputs its examples lack on purpose -> why, for the message when a method's template reads one."""

    def limit(self, n: int | None) -> Task:
        """The first n examples; ids are positions in the full set, so they do not change."""
        if n is None:
            return self
        return replace(self, examples=self.examples[:n], whole=self.whole or (None if self.load_whole else self))

    def whole_set(self) -> Task:
        """Every example of the set, whatever limit() kept (read again where the task was read only in part)."""
        if self.whole is not None:
            return self.whole
        return self.load_whole() if self.load_whole is not None else self

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
