"""Reducers: join the samples of each example into one prediction.

`Vote` is self-consistency (Wang et al., 2023): the majority over the samples' extracted answers.
`First` keeps the first sample's. Either ends a pipeline whose generation drew n > 1 samples.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Literal

from pydantic import Field

from promptkit.engines.base import Engine
from promptkit.stages.kind import StageKind
from promptkit.stages.spec_fields import SpecModel
from promptkit.types import StageRecord, State


def majority(answers: Sequence[str | None]) -> tuple[str | None, dict[str, int]]:
    """The most frequent parsed answer; unparsed ones (None) do not vote.

    A tie goes to the tied answer that appeared first among the samples, so the result is
    deterministic and does not depend on hashing.
    """
    votes = Counter(a for a in answers if a is not None)
    if not votes:
        return None, {}
    top = max(votes.values())
    winner = next(a for a in answers if a is not None and votes[a] == top)
    return winner, dict(votes)


def group_samples(states: Sequence[State]) -> list[list[State]]:
    """The states of each example together, in example order (samples are adjacent)."""
    groups: list[list[State]] = []
    for state in states:
        if groups and groups[-1][0].example.id == state.example.id and state.sample is not None:
            groups[-1].append(state)
        else:
            groups.append([state])
    return groups


def joined(group: Sequence[State], **fields) -> State:
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


def reduce_samples(states: Sequence[State], source: str, rule) -> list[State]:
    """One state per example: rule(answers) gives the fields its samples' answers join into."""
    out = []
    for group in group_samples(states):
        answers = [None if s.failed else s.fields.get(source) for s in group]
        out.append(joined(group, samples=answers, **rule(answers)))
    return out


def _vote(answers: list) -> dict:
    winner, votes = majority(answers)
    agreement = votes.get(winner, 0) / len(answers) if winner is not None else 0.0
    return {"prediction": winner, "votes": votes, "agreement": agreement}


@dataclass(frozen=True)
class Vote:
    source: str = "prediction"
    name: str = "vote"

    @property
    def reads(self) -> tuple[str, ...]:
        return (self.source,)

    @property
    def writes(self) -> tuple[str, ...]:
        return ("prediction", "samples", "votes", "agreement")

    def __call__(self, states: Sequence[State], engine: Engine) -> list[State]:
        return reduce_samples(states, self.source, _vote)


@dataclass(frozen=True)
class First:
    source: str = "prediction"
    name: str = "first"

    @property
    def reads(self) -> tuple[str, ...]:
        return (self.source,)

    @property
    def writes(self) -> tuple[str, ...]:
        return ("prediction", "samples")

    def __call__(self, states: Sequence[State], engine: Engine) -> list[State]:
        return reduce_samples(states, self.source, lambda answers: {"prediction": answers[0]})


class VoteSpec(SpecModel):
    kind: Literal["vote"]
    source: str = Field("prediction", description="field holding each sample's extracted answer")


class FirstSpec(SpecModel):
    kind: Literal["first"]
    source: str = Field("prediction", description="field holding each sample's extracted answer")


KINDS = (StageKind(VoteSpec, lambda s, ctx: Vote(s.source)), StageKind(FirstSpec, lambda s, ctx: First(s.source)))
