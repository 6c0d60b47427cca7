"""Reducers: join the samples of each example into one prediction (see `promptkit.stages.framework.samples`).

`Vote` is self-consistency (Wang et al., 2023): the majority over the samples' extracted answers.
`First` keeps the first sample's. Either ends a pipeline whose generation drew n > 1 samples.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from typing import Literal

from pydantic import Field

from promptkit.engines.base import Engine
from promptkit.stages.framework.declaration import Metric, Recorded, Scorer, StageKind
from promptkit.stages.framework.samples import first_answer, reduce_samples
from promptkit.stages.framework.spec_fields import SpecModel
from promptkit.stages.library.voting import maj_at_k, majority
from promptkit.types import State


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
        return reduce_samples(states, self.source, first_answer)


class VoteSpec(SpecModel):
    kind: Literal["vote"]
    source: str = Field("prediction", description="field holding each sample's extracted answer")


class FirstSpec(SpecModel):
    kind: Literal["first"]
    source: str = Field("prediction", description="field holding each sample's extracted answer")


def _right(scorer: Scorer, gold: str | None, answer: str) -> bool:
    return scorer(answer, gold)


def maj_curve(states: Sequence[State], scorer: Scorer) -> dict[str, float] | None:
    """maj@k for k = 1..N, averaged over examples, from the N samples each example drew."""
    samples = [(s.fields.get("samples") or [None], s.example.target) for s in states]
    most = min(len(answers) for answers, _ in samples) if samples else 0
    if most < 2:
        return None
    return {
        str(k): sum(maj_at_k(answers, partial(_right, scorer, gold), k) for answers, gold in samples) / len(samples)
        for k in range(1, most + 1)
    }


RECORDS = (
    Recorded("votes", "votes"),
    Recorded("agreement", "agreement", show=lambda row: f"agreement: {100 * row['agreement']:.1f}%"),
    Recorded("samples", "samples"),
    Recorded("failed_samples", "failed samples"),
)
MAJ_AT_K = Metric("maj_at_k", "expected accuracy of a vote over k samples", maj_curve, curve=True, share=True)

KINDS = (
    StageKind(VoteSpec, lambda s, ctx: Vote(s.source), records=RECORDS, metrics=(MAJ_AT_K,)),
    StageKind(FirstSpec, lambda s, ctx: First(s.source), records=RECORDS, metrics=(MAJ_AT_K,)),
)
