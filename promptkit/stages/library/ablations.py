"""Demonstration ablations (Min et al., 2022, "Rethinking the Role of Demonstrations").

Applied to the demonstrations an example was given, after selection and ordering, seeded from
(seed, example id) so an example's ablated prompt does not depend on the others; a draw shared by every
example (`seeded`) is ablated once per seed, from the seed alone, and the result is shared too:
- answers: `random` gives each demonstration another one's answer (a derangement of the chosen
  ones; with a single demonstration, another pool entry's), `uniform` one drawn uniformly from the
  pool's distinct answers (Min et al.'s random labels: for a classification task, its label set),
  `none` leaves the question alone;
- rationales: `shuffled` gives each another one's rationale (answer kept), `none` drops them;
- inputs: `random` swaps each question for another pool question (answer and rationale kept); `ood` for a
  sentence of another corpus (`ood_pool`) of about its length, Min et al.'s out-of-distribution inputs: one
  of the LENGTH_MATCHED sentences whose word counts are nearest.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

Answers = Literal["gold", "random", "uniform", "none"]
Rationales = Literal["gold", "shuffled", "none"]
Inputs = Literal["gold", "random", "ood"]
LENGTH_MATCHED = 5


def derangement(n: int, rng: random.Random) -> list[int]:
    """A permutation of range(n) that moves every index (identity when n < 2)."""
    if n < 2:
        return list(range(n))
    while True:  # about e tries on average
        order = list(range(n))
        rng.shuffle(order)
        if all(i != j for i, j in enumerate(order)):
            return order


@dataclass(frozen=True)
class Ablation:
    answers: Answers = "gold"
    rationales: Rationales = "gold"
    inputs: Inputs = "gold"
    ood: tuple[str, ...] = ()
    """The out-of-distribution sentences `inputs: ood` draws from."""
    relabel: tuple[tuple[str, str], ...] = ()
    """(answer, the word shown instead): another label space (label_words.py)."""

    @property
    def active(self) -> bool:
        return (self.answers, self.rationales, self.inputs) != ("gold", "gold", "gold") or bool(self.relabel)

    def apply(
        self, demos: list[dict[str, Any]], pool: Sequence[Any], question: str | None, rng: random.Random
    ) -> list[dict[str, Any]]:
        out = [dict(d) for d in demos]
        if self.answers == "random":
            if len(out) >= 2:
                for d, j in zip(out, derangement(len(out), rng)):
                    d["answer"] = demos[j]["answer"]
            else:
                for d in out:
                    others = [p.answer for p in pool if p.id != d["id"]]
                    d["answer"] = rng.choice(others) if others else d["answer"]
        elif self.answers == "uniform":
            labels = sorted({p.answer for p in pool})  # sorted: the draw must not depend on set order
            for d in out:
                d["answer"] = rng.choice(labels)
        elif self.answers == "none":
            for d in out:
                d["answer"] = None
        if self.rationales == "shuffled":
            for d, j in zip(out, derangement(len(out), rng)):
                d["rationale"] = demos[j]["rationale"]
        elif self.rationales == "none":
            for d in out:
                d["rationale"] = None
        renamed = dict(self.relabel)
        for d in out:
            d["answer"] = renamed.get(d["answer"], d["answer"]) if d["answer"] is not None else None
        if self.inputs == "ood":
            for d in out:
                words = len(str(d["question"]).split())
                nearest = sorted(self.ood, key=lambda text: (abs(len(text.split()) - words), text))
                d["question"] = rng.choice(nearest[:LENGTH_MATCHED])
        if self.inputs == "random":
            shown = {d["question"] for d in demos} | ({question} if question is not None else set())
            others = [p.question for p in pool if p.question not in shown]
            for d in out:
                d["question"] = rng.choice(others) if others else d["question"]
        return out
