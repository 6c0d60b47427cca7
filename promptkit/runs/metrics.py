"""Accuracy with a Wilson score interval (sound at small n and near 0 or 1, unlike the normal one), and maj@k."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Sequence


def wilson_interval(correct: int, n: int, z: float = 1.959964) -> tuple[float, float]:
    if n == 0:
        return (0.0, 0.0)
    p = correct / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return (max(0.0, centre - half), min(1.0, centre + half))


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
