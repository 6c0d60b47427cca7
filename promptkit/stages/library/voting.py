"""The arithmetic of votes: the majority over samples' answers, and the expected accuracy of a vote over k of them."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Sequence


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


def maj_at_k(answers: Sequence[str | None], correct: Callable[[str], bool], k: int) -> float:
    """Expected accuracy of a majority vote over k of these n samples, drawn without replacement.

    Exact (no resampling): counts every k-subset through the answers' multiplicities. Unparsed
    answers (None) do not vote; answers that score as correct count as one answer; a tie counts as
    the share of tied answers that is correct, as the vote's first-seen rule gives on a random order.
    """
    n = len(answers)
    if not 1 <= k <= n:
        raise ValueError(f"k must be in 1..{n}, got {k}")
    right = sum(1 for a in answers if a is not None and correct(a))
    unparsed = sum(1 for a in answers if a is None)
    wrong = list(Counter(a for a in answers if a is not None and not correct(a)).values())
    total = 0.0
    for x in range(1, min(right, k) + 1):
        # ways[(chosen, ties)]: subsets of the wrong answers, each with at most x votes
        ways: dict[tuple[int, int], int] = {(0, 0): 1}
        for count in wrong:
            nxt: dict[tuple[int, int], int] = {}
            for (chosen, ties), w in ways.items():
                for y in range(min(count, x, k - x - chosen) + 1):
                    key = (chosen + y, ties + (y == x))
                    nxt[key] = nxt.get(key, 0) + w * math.comb(count, y)
            ways = nxt
        for (chosen, ties), w in ways.items():
            rest = k - x - chosen
            if 0 <= rest <= unparsed:
                total += math.comb(right, x) * w * math.comb(unparsed, rest) / (1 + ties)
    return total / math.comb(n, k)
