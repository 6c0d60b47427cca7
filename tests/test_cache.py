from __future__ import annotations

import json
import sqlite3

import pytest
from helpers import cache_rows

from promptkit.engines import CachedEngine, ScriptedEngine
from promptkit.engines.base import Engine, EngineIdentity
from promptkit.engines.hf import HFEngine
from promptkit.engines.implementing import CountingEngine
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
    assert again_engine.stats().hits == 3 and again_engine.stats().misses == 0


def test_another_model_never_gets_this_models_answers(tmp_path, tiny_model):
    from promptkit.testing.tiny_model import build_tiny_model

    other_path = build_tiny_model(tmp_path / "other", seed=1)
    a = HFEngine(str(tiny_model), device="cpu", progress=False)
    b = HFEngine(str(other_path), device="cpu", progress=False)
    request = [GenRequest("Q: Janet", Sampling(max_tokens=6))]
    CachedEngine(a, tmp_path / "c.sqlite").generate(request)
    cached_b = CachedEngine(b, tmp_path / "c.sqlite")
    got = cached_b.generate(request)
    assert cached_b.stats().misses == 1
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


class _DiesAfterFirst(Engine):
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
    assert again == ["s0", "s2", "s3", "s1"] and engine.stats().hits == 3
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


def _filled_cache(path, rows: int = 3000) -> None:
    """A promptkit cache of `rows` stored generations, checkpointed into the main file and closed.

    Keys are spread as real keys (SHA-256) are, so a later lookup lands on a page of the main file.
    """
    import hashlib

    from promptkit.engines.cache import open_cache

    db = open_cache(path)
    with db:
        db.executemany("INSERT INTO generations VALUES (?, 0, 'e', ?, 'stop', 1, 1)",
                       [(hashlib.sha256(str(i).encode()).hexdigest(), "x" * 300) for i in range(rows)])  # fmt: skip
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()


def _damage(path) -> None:
    """Overwrite every page but the first two: what a failing disk or a stray write leaves."""
    data = bytearray(path.read_bytes())
    for offset in range(2 * 4096, len(data) - 4096, 4096):
        data[offset : offset + 4096] = b"\xa5" * 4096
    path.write_bytes(bytes(data))


def test_a_damaged_cache_is_found_on_open(tmp_path):
    from promptkit.engines.cache import open_cache
    from promptkit.errors import PromptkitError

    path = tmp_path / "c.sqlite"
    _filled_cache(path)
    _damage(path)
    with pytest.raises(PromptkitError, match=r"cache .*c\.sqlite: not a promptkit cache, or damaged"):
        open_cache(path)


def test_damage_met_mid_run_keeps_the_runs_work_in_a_fresh_cache(tmp_path, monkeypatch):
    """Past the size that is checked on open, damage surfaces mid-run: one error naming the cache and
    a fresh cache holding every generation this run finished, which a rerun then serves."""
    import promptkit.engines.cache as cache
    from promptkit.errors import CacheFailed

    path = tmp_path / "c.sqlite"
    _filled_cache(path)
    monkeypatch.setattr(cache, "QUICK_CHECK_MAX_BYTES", 0)  # as if the file were too large to check
    counted = CountingEngine(ScriptedEngine(lambda p: f" {p[::-1]}"))
    engine = CachedEngine(counted, path)
    first = [GenRequest(f"first {i}", Sampling(max_tokens=4)) for i in range(20)]
    done = engine.generate(first)
    _damage(path)
    with pytest.raises(CacheFailed) as failed:
        engine.generate([GenRequest(f"second {i}", Sampling(max_tokens=4)) for i in range(20)])
    engine.close()
    message = str(failed.value)
    assert "\n" not in message and f"cache {path}: failed mid-run" in message
    rescued = next(tmp_path.glob("c.rescued-*.sqlite"))
    assert f"the 20 generations this run finished are kept in {rescued}" in message
    assert cache_rows(rescued) == 20
    calls = counted.calls
    again = CachedEngine(counted, rescued)
    assert again.generate(first) == done
    assert counted.calls == calls, "the rescued cache serves the finished work"


def test_damage_met_before_any_generation_loses_nothing(tmp_path, monkeypatch):
    import promptkit.engines.cache as cache
    from promptkit.errors import CacheFailed

    path = tmp_path / "c.sqlite"
    _filled_cache(path)
    monkeypatch.setattr(cache, "QUICK_CHECK_MAX_BYTES", 0)
    engine = CachedEngine(ScriptedEngine(lambda p: " x"), path)
    _damage(path)
    with pytest.raises(CacheFailed, match="finished no generation, so nothing is lost"):
        engine.generate([GenRequest(f"q {i}", Sampling(max_tokens=4)) for i in range(20)])
    engine.close()
    assert not list(tmp_path.glob("*.rescued-*"))


def test_a_run_meeting_damage_mid_run_is_one_line_exit_2(tmp_path, monkeypatch, capsys):
    """Zero-shot CoT makes two calls; the cache is damaged as the first ends (the replay engine is
    wrapped to do it): the run stops in one line, its first call's generations kept."""
    import promptkit.engines.cache as cache
    from promptkit.cli import main
    from promptkit.engines.replay import ReplayEngine

    data = tmp_path / "g.jsonl"
    data.write_text("".join(f'{{"question": "q{i}", "answer": "#### {i}"}}\n' for i in range(5)))
    first = [f"Q: q{i}\nA: Let's think step by step." for i in range(5)]
    replay = tmp_path / "r.jsonl"
    replay.write_text("".join(json.dumps({"prompt": p, "completions": [" It is 3."]}) + "\n" for p in first))
    path = tmp_path / "c.sqlite"
    _filled_cache(path)
    monkeypatch.setattr(cache, "QUICK_CHECK_MAX_BYTES", 0)  # too large to check on open
    generate = ReplayEngine.generate

    def generate_then_damage(self, requests, on_complete=None):
        done = generate(self, requests, on_complete)
        _damage(path)
        return done

    monkeypatch.setattr(ReplayEngine, "generate", generate_then_damage)
    out = tmp_path / "run"
    code = main(["eval", "--task", "gsm8k", "--method", "zero_shot_cot", "--data", str(data), "--engine", "replay",
                 "--replay", str(replay), "--cache", str(path), "--out", str(out), "--quiet"])  # fmt: skip
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert code == 2 and len(err) == 1, err
    assert err[0].startswith(f"promptkit: error: cache {path}: failed mid-run"), err
    assert "the 5 generations this run finished are kept in" in err[0]
    assert cache_rows(next(tmp_path.glob("c.rescued-*.sqlite"))) == 5
    assert not out.exists()
