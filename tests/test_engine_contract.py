"""The engine contract: abilities are declared on the base class and passed through by wrappers by name."""

from __future__ import annotations

import pytest

from promptkit.engines import CachedEngine, ScriptedEngine
from promptkit.engines.base import Engine, EngineIdentity
from promptkit.engines.implementing import CountingEngine, completion_of, draw_seeds
from promptkit.types import Completion, GenRequest, Sampling


class _Closing(ScriptedEngine):
    closed = 0

    def close(self) -> None:
        self.closed += 1


def test_an_engine_without_a_generate_cannot_be_made():
    class NoGenerate(Engine):
        identity = EngineIdentity("x", "y")

    with pytest.raises(TypeError):
        NoGenerate()


def test_with_closes_the_engine_and_wrappers_close_what_they_wrap(tmp_path):
    inner = _Closing(lambda p: "a")
    with CachedEngine(CountingEngine(inner), tmp_path / "c.sqlite") as engine:
        engine.generate([GenRequest("q")])
    assert inner.closed == 1


def test_wrappers_pass_the_declared_abilities_through(tmp_path, hf_engine):
    counted = CountingEngine(CachedEngine(hf_engine, tmp_path / "c.sqlite"))
    assert counted.tokens is hf_engine.tokens and counted.streams is False
    scripted = ScriptedEngine(lambda p: "a")
    assert scripted.tokens is None and scripted.stats() is None, "a scripted engine cannot count tokens, counts nothing"
    assert CountingEngine(scripted).stats() is None


def test_the_rounds_fallback_runs_each_link_in_one_call_per_round():
    engine = ScriptedEngine(lambda p: p + "!")
    seen = []

    def follow(i, completion: Completion):
        seen.append((i, completion.text))
        return GenRequest(completion.text) if completion.text.count("!") < 1 + i else None

    engine.generate_chains([GenRequest("a"), GenRequest("b")], follow)
    assert [len(call) for call in engine.calls] == [2, 1], "round 1: both chains; round 2: the longer one"
    assert seen == [(0, "a!"), (1, "b!"), (1, "b!!")]


def test_the_cache_counts_through_stats_and_the_counter_reports_them(tmp_path):
    cached = CachedEngine(ScriptedEngine(lambda p: "a"), tmp_path / "c.sqlite")
    cached.generate([GenRequest("q")])
    CountingEngine(cached).generate([GenRequest("q")])
    stats = cached.stats()
    assert (stats.hits, stats.misses, stats.model_calls) == (1, 1, 1)
    stats.hits = 99
    assert cached.stats().hits == 1, "stats() is a copy: a reader cannot change the counters"


def test_one_greedy_draw_stands_for_every_sample():
    greedy = GenRequest("q", Sampling(temperature=0.0, n=3))
    sampled = GenRequest("q", Sampling(temperature=0.7, n=3, seed=1))
    assert draw_seeds(greedy) == [None]
    seeds = draw_seeds(sampled)
    assert len(set(seeds)) == 3 and None not in seeds
    one = completion_of([("x", "stop", 2, (5, 6))], 3, 4)
    assert one.texts == ("x",) * 3 and one.sample_tokens == (2, 2, 2) and one.token_ids == ((5, 6),) * 3
    assert completion_of([("x", "stop", 1, None), ("y", "length", 1, None)], 2, 4).token_ids == ()
