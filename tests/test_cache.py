from __future__ import annotations

import sqlite3

import pytest
from helpers import cache_rows

from promptkit.engines import CachedEngine, ScriptedEngine
from promptkit.engines.base import CountingEngine, EngineIdentity
from promptkit.engines.hf import HFEngine
from promptkit.types import Completion, GenRequest, Sampling

PROMPTS = ["Q: Janet", "A:", "Take the last letters"]


def test_second_run_is_served_entirely_from_the_cache(hf_engine, tmp_path):
    requests = [GenRequest(p, Sampling(max_tokens=6)) for p in PROMPTS]
    counted = CountingEngine(hf_engine)
    first = CachedEngine(counted, tmp_path / "c.sqlite").generate(requests)
    assert counted.requests == 3
    again_engine = CachedEngine(counted, tmp_path / "c.sqlite")  # a new process would reopen the file
    again = again_engine.generate(requests)
    assert counted.calls == 1, "the rerun must not reach the engine"
    assert again == first
    assert again_engine.stats.hits == 3 and again_engine.stats.misses == 0


def test_another_model_never_gets_this_models_answers(tmp_path, tiny_model):
    from promptkit.testing import build_tiny_model

    other_path = build_tiny_model(tmp_path / "other", seed=1)
    a = HFEngine(str(tiny_model), device="cpu", progress=False)
    b = HFEngine(str(other_path), device="cpu", progress=False)
    request = [GenRequest("Q: Janet", Sampling(max_tokens=6))]
    CachedEngine(a, tmp_path / "c.sqlite").generate(request)
    cached_b = CachedEngine(b, tmp_path / "c.sqlite")
    got = cached_b.generate(request)
    assert cached_b.stats.misses == 1
    assert got == b.generate(request)


def test_sampling_settings_are_part_of_the_key(tmp_path):
    engine = ScriptedEngine(lambda p: "x")
    cached = CachedEngine(engine, tmp_path / "c.sqlite")
    cached.generate([GenRequest("p", Sampling(max_tokens=5))])
    cached.generate([GenRequest("p", Sampling(max_tokens=6))])
    cached.generate([GenRequest("p", Sampling(max_tokens=5, stop=("\n",)))])
    assert len(engine.calls) == 3


def test_more_samples_ask_only_for_the_missing_ones(tmp_path):
    engine = ScriptedEngine(lambda p: [f"s{k}" for k in range(8)])  # sample k is always "s{k}"
    cached = CachedEngine(engine, tmp_path / "c.sqlite")
    two = cached.generate([GenRequest("p", Sampling(temperature=1.0, n=2, seed=1))])[0]
    five = cached.generate([GenRequest("p", Sampling(temperature=1.0, n=5, seed=1))])[0]
    assert two.texts == ("s0", "s1")
    assert five.texts == ("s0", "s1", "s2", "s3", "s4"), "a top-up continues the samples by index"
    top_up = engine.calls[1][0]
    assert (top_up.sampling.n, top_up.first_sample, top_up.sampling.seed) == (3, 2, 1)


class _DiesAfterFirst:
    """Finishes the first request, then fails the way a killed process would."""

    identity = EngineIdentity("scripted", "dies")

    def generate(self, requests, on_complete=None):
        on_complete(0, Completion(("done",), ("stop",), 1, (1,)))
        raise RuntimeError("engine died")


def test_finished_requests_are_stored_before_the_call_returns(tmp_path):
    path = tmp_path / "c.sqlite"
    with pytest.raises(RuntimeError):
        CachedEngine(_DiesAfterFirst(), path).generate([GenRequest("a"), GenRequest("b")])
    rows = sqlite3.connect(path).execute("SELECT text FROM generations").fetchall()
    assert rows == [("done",)]
    resumed = ScriptedEngine(lambda p: "fresh", name="dies")
    resumed.identity = _DiesAfterFirst.identity
    out = CachedEngine(resumed, path).generate([GenRequest("a"), GenRequest("b")])
    assert [c.text for c in out] == ["done", "fresh"]
    assert [r.prompt for r in resumed.calls[0]] == ["b"], "only the missing request is asked for"


def test_a_request_for_sample_k_gets_sample_k_from_the_cache(tmp_path):
    from promptkit import ScriptedEngine
    from promptkit.engines import CachedEngine
    from promptkit.types import GenRequest, Sampling

    engine = CachedEngine(ScriptedEngine(lambda p: ["s0", "s1", "s2", "s3"]), tmp_path / "c.sqlite")
    sampling = Sampling(max_tokens=4, temperature=0.7, n=1)
    first = [engine.generate([GenRequest("p", sampling, first_sample=k)])[0].text for k in (2, 0, 3)]
    assert first == ["s2", "s0", "s3"]
    again = [engine.generate([GenRequest("p", sampling, first_sample=k)])[0].text for k in (0, 2, 3, 1)]
    assert again == ["s0", "s2", "s3", "s1"] and engine.stats.hits == 3
    both = engine.generate([GenRequest("p", Sampling(max_tokens=4, temperature=0.7, n=4))])[0]
    assert both.texts == ("s0", "s1", "s2", "s3")


def test_a_locked_cache_is_waited_on_then_a_one_line_error(tmp_path, monkeypatch, capsys):
    import sqlite3
    import threading

    import pytest

    from promptkit import ScriptedEngine
    from promptkit.engines import cache as cache_module
    from promptkit.engines.cache import CachedEngine
    from promptkit.errors import PromptkitError
    from promptkit.types import GenRequest, Sampling

    path = tmp_path / "c.sqlite"
    engine = CachedEngine(ScriptedEngine(lambda p: "x"), path)
    engine.generate([GenRequest("first", Sampling(max_tokens=2))])
    holder = sqlite3.connect(path, timeout=0, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN EXCLUSIVE")  # another process writing
    monkeypatch.setattr(cache_module, "LOCK_WAIT_SECONDS", 1.0)
    with pytest.raises(PromptkitError, match=r"locked by another process for over 1 s; finished rows are saved"):
        engine.generate([GenRequest("second", Sampling(max_tokens=2))])
    assert "is locked by another process; waiting up to 1 s" in capsys.readouterr().err
    timer = threading.Timer(0.4, lambda: holder.execute("COMMIT"))
    timer.start()
    assert engine.generate([GenRequest("third", Sampling(max_tokens=2))])[0].text == "x"  # waited, then wrote
    timer.join()
    holder.close()
    assert cache_rows(path) == 2  # 'first' and 'third'; 'second' was generated but could not be stored
