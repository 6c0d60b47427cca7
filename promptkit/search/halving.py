"""Successive halving (Jamieson & Talwalkar): every candidate scored on a small development minibatch, the
better half on twice as many examples, and so on until `leaders` are left, scored on the whole split."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from promptkit.search.candidate import Candidate
from promptkit.search.scoring import Scorer
from promptkit.tasks import Task


def alive_counts(n: int, leaders: int) -> list[int]:
    """How many candidates each rung scores: n, then half (rounded up), ... until `leaders` or fewer."""
    counts = [n]
    while counts[-1] > leaders:
        counts.append(math.ceil(counts[-1] / 2))
    return counts


def rung_sizes(n: int, dev: int, leaders: int, min_batch: int) -> list[int]:
    """Development examples each rung scores on: doubling, the last rung the whole split."""
    rungs = len(alive_counts(n, leaders))
    return [min(dev, max(min_batch, dev >> (rungs - 1 - r))) for r in range(rungs)]


def planned_scorings(n: int, dev: int, leaders: int, min_batch: int) -> int:
    """Scorings a halving of n candidates takes: a rung on as many examples as the last one costs nothing more."""
    counts, sizes = alive_counts(n, leaders), rung_sizes(n, dev, leaders, min_batch)
    return counts[0] + sum(c for r, c in enumerate(counts) if r and sizes[r] != sizes[r - 1])


def affordable(calls: int, cost: int, leaders: int, most: int, dev: int, min_batch: int) -> int:
    """The most candidates (at most `most`) whose whole halving fits in `calls`, each scoring taking `cost`."""
    best = 0
    for n in range(1, most + 1):
        if cost * planned_scorings(n, dev, leaders, min_batch) > calls:
            break
        best = n
    return best


def halve(
    candidates: Sequence[Candidate], scorer: Scorer, dev: Task, leaders: int, min_batch: int
) -> list[tuple[Candidate, dict[str, Any]]]:
    """The leaders, best first, with their log entries on the whole split. Ties go to the earlier candidate."""
    alive = list(enumerate(candidates))
    sizes = rung_sizes(len(candidates), len(dev.examples), leaders, min_batch)
    scored: list[tuple[int, Candidate, dict[str, Any]]] = []
    for r, size in enumerate(sizes):
        batch = dev.with_examples(dev.examples[:size])
        scored = [(i, c, scorer.score(c, batch, f"dev[:{size}]")) for i, c in alive]
        scored.sort(key=lambda t: (-t[2]["score"], t[0]))
        if r < len(sizes) - 1:
            alive = [(i, c) for i, c, _ in scored[: math.ceil(len(scored) / 2)]]
    return [(c, entry) for _, c, entry in scored]
