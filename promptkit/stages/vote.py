"""Self-consistency (Wang et al., 2023): majority vote over the answers extracted from n samples."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from ..engines.base import Engine
from ..types import State


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


@dataclass(frozen=True)
class Vote:
    source: str = "prediction"
    name: str = "vote"

    def __call__(self, states: Sequence[State], engine: Engine) -> list[State]:
        out = []
        for s in states:
            answers = s.fields.get(self.source) or []
            winner, votes = majority(answers)
            agreement = votes.get(winner, 0) / len(answers) if answers and winner is not None else 0.0
            out.append(s.with_fields(samples=answers, prediction=winner, votes=votes, agreement=agreement))
        return out
