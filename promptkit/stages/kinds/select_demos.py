"""Demonstration selection: which demonstrations each example gets, and in what order.

Draws are seeded from (seed, example id), never from a shared generator, so an example's
demonstrations do not depend on --limit, batch makeup or the order examples arrive in. `seeded`
draws once per seed and shares the draw with every example, as the ICL literature does (Zhao et
al.'s draw: NumPy's RandomState(seed).choice(len(pool), k, replace=False), in the order drawn).
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, get_args

import numpy as np
from pydantic import Field

from promptkit.engines.base import Engine
from promptkit.errors import PromptkitError
from promptkit.files.jsonl import read_text
from promptkit.schema import CountFromZero
from promptkit.stages.framework.declaration import BuildContext, Recorded, StageKind
from promptkit.stages.framework.spec_fields import Seed, SpecModel
from promptkit.stages.framework.stage import map_states
from promptkit.stages.library.ablations import Ablation, Answers, Inputs, Rationales
from promptkit.stages.library.demo_pools import Demo, demo_pool
from promptkit.stages.library.embedders import Embedder, sentence_transformer_embedder, tfidf_embedder
from promptkit.types import State

Strategy = Literal["fixed", "random", "seeded", "similar", "mmr", "embedding"]
Order = Literal["given", "random", "similar_last"]
STRATEGIES: tuple[str, ...] = get_args(Strategy)
ORDERS: tuple[str, ...] = get_args(Order)


@dataclass(frozen=True)
class SelectDemos:
    """Writes `demos` (in prompt order) and `demo_rank` (0 = most relevant) for every example."""

    pool: tuple[Demo, ...]
    k: int
    strategy: Strategy = "fixed"
    order: Order = "given"
    seed: int = 0
    mmr_lambda: float = 0.7
    ablation: Ablation = field(default_factory=Ablation)
    order_seed: int | None = None
    """Seed of the `random` order alone (the draw keeps `seed`): K order seeds permute the same demonstrations."""
    embedder: Embedder | None = field(default=None, compare=False)
    name: str = "demos"

    reads: ClassVar[tuple[str, ...]] = ("question",)
    writes: ClassVar[tuple[str, ...]] = ("demos",)

    def __post_init__(self) -> None:
        if self.strategy not in STRATEGIES:
            raise PromptkitError(f"unknown selector {self.strategy!r} (known: {', '.join(STRATEGIES)})")
        if self.order not in ORDERS:
            raise PromptkitError(f"unknown demonstration order {self.order!r} (known: {', '.join(ORDERS)})")
        if self.k < 0:
            raise PromptkitError(f"shots must be >= 0, got {self.k}")
        if self.k > 0 and not self.pool:
            raise PromptkitError("demonstration pool is empty")

    def __call__(self, states: Sequence[State], engine: Engine) -> list[State]:
        live = [s for s in states if not s.failed]
        picks = {id(s): p for s, p in zip(live, self._rank(live))}
        return map_states(self.name, states, lambda s: self._with_demos(s, picks[id(s)]))

    def _with_demos(self, state: State, picks: list[int]) -> State:
        order = self._ordered(state, picks)
        demos = [{**self.pool[i].variables(), "rank": picks.index(i)} for i in order]
        if self.ablation.active:
            shared = self.strategy == "seeded"  # one ablated set for every question (see _rng)
            question = None if shared else str(state.example.inputs.get("question", ""))
            demos = self.ablation.apply(demos, self.pool, question, self._rng(state, "ablation"))
        return state.with_fields(demos=demos)

    # -- which -------------------------------------------------------------------------------------
    def _candidates(self, state: State) -> list[int]:
        question = state.example.inputs.get("question")
        return [i for i, d in enumerate(self.pool) if d.question != question]  # never the example itself

    def _rank(self, states: Sequence[State]) -> list[list[int]]:
        if self.k == 0:
            return [[] for _ in states]
        if self.strategy == "fixed":
            return [self._candidates(s)[: self.k] for s in states]
        if self.strategy == "seeded":
            drawn = [int(i) for i in np.random.RandomState(self.seed).choice(len(self.pool), self.k, replace=False)]
            return [drawn for _ in states]
        if self.strategy == "random":
            return [
                self._rng(s, "draw").sample(self._candidates(s), min(self.k, len(self._candidates(s)))) for s in states
            ]
        pool_texts = [d.question for d in self.pool]
        embed = self.embedder or (
            sentence_transformer_embedder() if self.strategy == "embedding" else tfidf_embedder(pool_texts)
        )
        pool_vecs = embed(pool_texts)
        query_vecs = embed([s.example.inputs["question"] for s in states])
        sims = _dense(query_vecs @ pool_vecs.T)
        if self.strategy == "mmr":
            pool_sims = _dense(pool_vecs @ pool_vecs.T)
            return [self._mmr(sims[r], pool_sims, self._candidates(s)) for r, s in enumerate(states)]
        return [_top(sims[r], self._candidates(s), self.k) for r, s in enumerate(states)]

    def _mmr(self, relevance: np.ndarray, pool_sims: np.ndarray, candidates: list[int]) -> list[int]:
        """Maximal marginal relevance: relevant to the question, unlike the ones already picked."""
        left = _top(relevance, candidates, min(len(candidates), 20 * self.k))
        picked: list[int] = []
        while left and len(picked) < self.k:
            redundancy = pool_sims[np.ix_(left, picked)].max(axis=1) if picked else np.zeros(len(left))
            scores = self.mmr_lambda * relevance[left] - (1 - self.mmr_lambda) * redundancy
            picked.append(left.pop(int(np.argmax(scores))))
        return picked

    # -- in what order -----------------------------------------------------------------------------
    def _ordered(self, state: State, picks: list[int]) -> list[int]:
        if self.order == "random":
            shuffled = list(picks)
            self._rng(state, "order", self.order_seed).shuffle(shuffled)
            return shuffled
        if self.order == "similar_last":
            return list(reversed(picks))  # the most relevant sits right before the question
        return sorted(picks) if self.strategy in ("fixed", "random") else list(picks)

    def _rng(self, state: State, purpose: str, seed: int | None = None) -> random.Random:
        """Seeded from (seed, purpose, example id); a draw shared by every example gets one order and one
        ablation shared by every example, as the ICL literature permutes and ablates it (and the
        demonstrations stay one prefix that every question runs after)."""
        seed = self.seed if seed is None else seed
        key = f"{seed}:{purpose}" if self.strategy == "seeded" else f"{seed}:{purpose}:{state.example.id}"
        return random.Random(key)


def _dense(m) -> np.ndarray:
    return np.asarray(m.toarray() if hasattr(m, "toarray") else m, dtype=np.float64)


def _top(scores: np.ndarray, candidates: list[int], k: int) -> list[int]:
    """The k best candidates, best first; ties go to the earlier pool entry (stable)."""
    if not candidates:
        return []
    cand = np.asarray(candidates)
    order = np.argsort(-scores[cand], kind="stable")[:k]
    return [int(i) for i in cand[order]]


class SelectDemosSpec(SpecModel):
    kind: Literal["select_demos"]
    pool: str | None = Field(
        None, description="exemplars JSON or a data file of the task; the shipped exemplars when absent"
    )
    k: CountFromZero | None = Field(
        None, description="demonstrations per prompt (default: all of a fixed pool, else 8)"
    )
    strategy: Strategy = "fixed"
    order: Order = "given"
    seed: Seed = Field(0, description="seed of the per-example draws")
    order_seed: Seed | None = Field(None, description="seed of the random order alone (default: seed)")
    answers: Answers = Field("gold", description="ablation of the demonstrations' answers")
    rationales: Rationales = Field("gold", description="ablation of their rationales")
    inputs: Inputs = Field("gold", description="ablation of their questions")
    ood_pool: str | None = Field(None, description="inputs: ood: a text file of sentences, one per line")
    relabel: dict[str, str] = Field({}, description="answers shown as other words (answer -> word): a label space")
    ids: list[str] | None = Field(
        None, description="pinned demonstrations: pool record ids in prompt order (what `promptkit tune` chooses)"
    )


def _build(s: SelectDemosSpec, ctx: BuildContext) -> SelectDemos:
    if s.strategy == "seeded" and s.seed >= 2**32:
        raise PromptkitError(
            f"select_demos: the seeded draw takes seeds below 2**32 (NumPy's RandomState), got {s.seed}"
        )
    if s.ids is not None:
        return _pinned(s, ctx)
    pool = demo_pool(s.pool, s.strategy, ctx.task) if s.k != 0 else ()  # zero shots need no pool
    k = s.k if s.k is not None else (len(pool) if s.strategy == "fixed" else 8)
    if k > len(pool):
        raise PromptkitError(f"select_demos: k={k} demonstrations asked for, but the pool holds {len(pool)}")
    ablation = Ablation(s.answers, s.rationales, s.inputs, _ood_sentences(s), tuple(s.relabel.items()))
    return SelectDemos(pool, k, s.strategy, s.order, s.seed, ablation=ablation, order_seed=s.order_seed)


def _pinned(s: SelectDemosSpec, ctx: BuildContext) -> SelectDemos:
    """The named records of the pool (the task's training data unless a pool is named), in the order named."""
    ids = s.ids or []
    if s.strategy != "fixed" or s.order != "given":
        raise PromptkitError("select_demos: ids pins the demonstrations and their order: no selector or order")
    if s.k is not None and s.k != len(ids):
        raise PromptkitError(f"select_demos: k={s.k}, but ids names {len(ids)}")
    if len(set(ids)) != len(ids):
        raise PromptkitError(f"select_demos: ids: {next(i for i in ids if ids.count(i) > 1)!r} is named twice")
    by_id = {d.id: d for d in demo_pool(s.pool, "random", ctx.task)} if ids else {}
    missing = [i for i in ids if i not in by_id]
    if missing:
        raise PromptkitError(f"select_demos: ids: {missing[0]!r} is not a record of the demonstration pool")
    ablation = Ablation(s.answers, s.rationales, s.inputs, _ood_sentences(s), tuple(s.relabel.items()))
    return SelectDemos(tuple(by_id[i] for i in ids), len(ids), "fixed", "given", s.seed, ablation=ablation)


def _ood_sentences(s: SelectDemosSpec) -> tuple[str, ...]:
    if s.inputs != "ood":
        return ()
    if not s.ood_pool:
        raise PromptkitError("select_demos: inputs: ood needs ood_pool, a text file of sentences (one per line)")
    sentences = tuple(line.strip() for line in read_text(s.ood_pool).splitlines() if line.strip())
    if not sentences:
        raise PromptkitError(f"{s.ood_pool}: no sentences (ood_pool: one per line)")
    return sentences


def _shown(row: Mapping[str, Any]) -> str:
    packed = f" ({row['demos_packed']} packed)" if row.get("demos_packed") is not None else ""
    return f"demonstrations: {', '.join(map(str, row['demos']))}{packed}"


DEMOS = Recorded("demos", "demonstrations", row=lambda demos: [d["id"] for d in demos], show=_shown)
"""Kept by id, in prompt order."""


def _options(s: SelectDemosSpec) -> dict[str, Any]:
    shots = {"shots": s.k} if s.k is not None else {}
    return {**shots, **{f"demo_{k}": getattr(s, k) for k in ("answers", "rationales", "inputs")}}


KINDS = (StageKind(SelectDemosSpec, _build, files=("pool", "ood_pool"), records=(DEMOS,), options=_options),)
