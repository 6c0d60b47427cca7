"""Samples: how the n samples of one example are joined back into one state, and when a pipeline must.

A generation stage that draws n > 1 samples splits each example into n states (adjacent, in sample
order); a reducer joins them. This module is the one place that decides it: `closing_stage` is what
a spec's expansion appends when the pipeline does not join its samples itself (so the resolved spec
shows it), and `join_first` is the same rule at run time, for a pipeline built in Python.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any

from promptkit.types import StageRecord, State

REDUCERS = ("vote", "first")
"""The stage kinds that join samples."""

Rule = Callable[[list[Any]], dict[str, Any]]
"""rule(answers): the fields one example's samples' answers join into."""


def group_samples(states: Sequence[State]) -> list[list[State]]:
    """The states of each example together, in example order (samples are adjacent)."""
    groups: list[list[State]] = []
    for state in states:
        if groups and groups[-1][0].example.id == state.example.id and state.sample is not None:
            groups[-1].append(state)
        else:
            groups.append([state])
    return groups


def joined(group: Sequence[State], **fields: Any) -> State:
    """One state for the example: the first sample's fields, every sample's calls in the trace.

    The samples drawn from one request share its prompt: they become one record holding the list of
    texts, as a single n-sample call would be written.
    """
    records: dict[tuple[str, int], list[StageRecord]] = {}
    for state in group:
        for record in state.trace:
            # calls made before the split are the same objects in every sample: kept once
            key = (record.stage, id(record.prompt)) if record.sample is not None else ("", id(record))
            same = records.setdefault(key, [])
            if record not in same:
                same.append(record)
    trace = tuple(_merged(rs) for rs in records.values())
    errors = [s.error for s in group if s.failed]
    live = [s for s in group if not s.failed]
    base = live[0] if live else group[0]
    failed = {"failed_samples": len(errors)} if errors and live else {}
    return replace(base.with_fields(**fields, **failed), trace=trace, sample=None, error=None if live else errors[0])


def _merged(records: list[StageRecord]) -> StageRecord:
    if len(records) == 1:
        return records[0]
    notes = "; ".join(dict.fromkeys(r.note for r in records if r.note)) or None
    return replace(records[0], completion=[str(r.completion) for r in records], note=notes, sample=None)


def reduce_samples(states: Sequence[State], source: str, rule: Rule) -> list[State]:
    """One state per example: rule(answers) gives the fields its samples' answers join into."""
    out = []
    for group in group_samples(states):
        answers = [None if s.failed else s.fields.get(source) for s in group]
        out.append(joined(group, samples=answers, **rule(answers)))
    return out


def first_answer(answers: list[Any]) -> dict[str, Any]:
    return {"prediction": answers[0]}


def join_first(states: Sequence[State], source: str = "prediction") -> list[State]:
    """Samples no stage joined: the first one speaks (the `first` reducer's rule)."""
    if all(s.sample is None for s in states):
        return list(states)
    return reduce_samples(states, source, first_answer)


def closing_stage(stages: Sequence[Mapping[str, Any]]) -> dict[str, Any] | None:
    """The reducer a pipeline's stage data needs at its end: `first` where a stage draws samples and the
    last stage joins none; None otherwise."""
    if any(s.get("n", 1) > 1 for s in stages) and stages[-1].get("kind") not in REDUCERS:
        return {"kind": "first"}
    return None
