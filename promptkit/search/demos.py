"""demo_search: which demonstrations, in which order. Random draws from the pool, each in its drawn order,
kept by successive halving on development minibatches; or ranked without labels by Lu et al.'s entropy."""

from __future__ import annotations

import random
from collections.abc import Sequence
from functools import partial
from typing import Any

from promptkit.errors import PromptkitError
from promptkit.search.budget import BudgetSpent
from promptkit.search.candidate import Candidate
from promptkit.search.entropy import entropies, probe_lines, probe_prefix, probe_requests, probe_task
from promptkit.search.halving import affordable, halve
from promptkit.search.scoring import Scorer, logged_generation
from promptkit.search.settings import SearchSettings
from promptkit.tasks import Task

MOST_CANDIDATES = 1000
Ranked = list[tuple[Candidate, dict[str, Any]]]


def draw_candidates(
    ids: Sequence[str], labels: Sequence[str] | None, k: int, n: int, seed: int, *, balanced: bool = False
) -> list[Candidate]:
    """n different demonstration lists of k pool ids, each drawn (seeded by its number) in its drawn order;
    balanced: k / classes of each class (the remainder to classes drawn at random)."""
    if k > len(ids):
        raise PromptkitError(f"shots: {k} demonstrations asked for, but the pool holds {len(ids)}")
    out: list[Candidate] = []
    seen: set[str] = set()
    for i in range(20 * n):
        if len(out) == n:
            break
        rng = random.Random(f"{seed}:draw:{i}")
        picks = _balanced(labels or [], k, rng) if balanced else rng.sample(range(len(ids)), k)
        candidate = Candidate(tuple(ids[j] for j in picks), origin=f"draw {i}")
        if candidate.key not in seen:
            seen.add(candidate.key)
            out.append(candidate)
    return out


def _balanced(labels: Sequence[str], k: int, rng: random.Random) -> list[int]:
    classes = list(dict.fromkeys(labels))
    quota = {c: k // len(classes) for c in classes}
    for c in rng.sample(classes, k % len(classes)):
        quota[c] += 1
    picks: list[int] = []
    for c in classes:
        members = [i for i, label in enumerate(labels) if label == c]
        if len(members) < quota[c]:
            raise PromptkitError(
                f"class {c!r} has {len(members)} records in the pool; a balanced draw needs {quota[c]}"
            )
        picks += rng.sample(members, quota[c])
    rng.shuffle(picks)
    return picks


def search_demos(
    scorer: Scorer, dev: Task, settings: SearchSettings, ids: Sequence[str], labels: Sequence[str] | None
) -> Ranked:
    """The candidates worth keeping, best first, each with its log entry (score: development accuracy, or
    the entropy criterion's value)."""
    k = min(settings.shots, len(ids))
    cost = scorer.cost(Candidate(tuple(ids[:k])))
    if settings.criterion == "dev":
        n = affordable(
            scorer.ledger.left(), cost, settings.leaders, MOST_CANDIDATES, len(dev.examples), settings.min_batch
        )
        if n == 0:
            raise BudgetSpent(f"budget {settings.budget}: not one candidate can be scored ({cost} calls each)")
        candidates = draw_candidates(ids, labels, k, n, settings.seed, balanced=settings.balanced)
        return halve(candidates, scorer, dev, settings.leaders, settings.min_batch)
    n = min(MOST_CANDIDATES, (scorer.ledger.left() - 1) // cost)  # one call makes the probing set
    if n < 1:
        raise BudgetSpent(f"budget {settings.budget}: the probing set and one candidate need {1 + cost} calls")
    candidates = draw_candidates(ids, labels, k, n, settings.seed, balanced=settings.balanced)
    prefixes = [probe_prefix(dev, partial(scorer.built, c)) for c in candidates]
    lines = probe_lines(logged_generation(scorer, "probing set", probe_requests(prefixes, settings.seed)))
    probing = probe_task(dev, lines)
    scored = [(c, scorer.score(c, probing, "probing set", measure=entropies)) for c in candidates]
    ranked = sorted(enumerate(scored), key=lambda t: (-t[1][1][settings.criterion], t[0]))
    return [pair for _, pair in ranked]
