"""The prompt tokens a tuning run reports (`info["tokens"]`): white-box passes are counted as an engine's scoring
call counts its requests, so the two kinds of method are measured in one unit; a resumed run counts what an
unbroken one does."""

from __future__ import annotations

import pytest
from test_tuning import _killed_then_resumed, _task, engine, topics  # noqa: F401 (the fixtures)

from promptkit.engines import CachedEngine, ScriptedEngine
from promptkit.engines.implementing import CountingEngine
from promptkit.tuning import TuneSettings, tune
from promptkit.tuning.data import Split, tuning_data
from promptkit.tuning.objective import engine_class_log_probs


def _sent(engine, split: Split, data) -> int:  # noqa: F811
    """The prompt tokens one engine call scoring `split` sends, as `CountingEngine` counts them."""
    counting = CountingEngine(engine)
    engine_class_log_probs(counting, split, data)
    return counting.prompt_tokens


@pytest.fixture(scope="module")
def sent(engine, topics):  # noqa: F811
    data = tuning_data(_task(topics), 3, 0, str(topics[1]))
    return _sent(engine, data.train, data), _sent(engine, data.dev, data)


@pytest.mark.parametrize("method", ["prompt_tuning", "lora"])
def test_a_white_box_run_counts_its_steps_and_checks_as_scoring_calls_would(method, engine, topics, sent, tmp_path):  # noqa: F811
    train, dev = sent
    settings = TuneSettings(method, k=3, steps=4, eval_every=2, tokens=3)
    info = tune(_task(topics), engine, settings, tmp_path / "out", pool=str(topics[1]), progress=False).info
    assert train > 0 and dev > 0
    assert info["tokens"] == 4 * train + 2 * dev, (info["tokens"], train, dev)


def test_a_batched_step_counts_its_batch_only(engine, topics, sent, tmp_path):  # noqa: F811
    train, dev = sent
    settings = TuneSettings("prompt_tuning", k=3, steps=2, eval_every=2, tokens=3, batch=3)
    info = tune(_task(topics), engine, settings, tmp_path / "out", pool=str(topics[1]), progress=False).info
    assert dev < info["tokens"] < 2 * train + dev


@pytest.mark.parametrize("method", ["bbt", "bbtv2"])
def test_a_black_box_run_counts_what_each_call_sent(method, engine, topics, sent, tmp_path):  # noqa: F811
    train, dev = sent
    settings = TuneSettings(method, k=3, budget=8, population=4, eval_every=1, tokens=3, intrinsic_dim=20)
    info = tune(_task(topics), engine, settings, tmp_path / "out", pool=str(topics[1]), progress=False).info
    assert info["calls"] == 8 + 2 and info["tokens"] == 8 * train + 2 * dev, info


def test_bdpl_counts_its_text_prompt_and_cached_calls_as_asked(engine, topics, sent, tmp_path):  # noqa: F811
    """The learned text goes before every context, so each call sends more than the bare split; the count is of
    what was asked, so a run the cache serves counts the same."""
    train, dev = sent
    settings = TuneSettings("bdpl", k=3, tokens=2, candidates=4, samples=2, budget=4, eval_every=2)
    counted = []
    for name in ("first", "second"):
        cached = CachedEngine(engine, tmp_path / "cache.sqlite")
        result = tune(_task(topics), cached, settings, tmp_path / name, pool=str(topics[1]), progress=False)
        counted.append(result.prompt.info["tokens"])
        cached.close()
    assert counted[0] == counted[1] > 4 * train + dev, (counted, train, dev)


def test_an_engine_without_a_tokenizer_reports_no_count(topics, tmp_path):  # noqa: F811
    scripted = ScriptedEngine(scorer=lambda context, continuation: -1.0)  # a server's kind: no tokenizer
    assert scripted.tokens is None
    settings = TuneSettings("bdpl", k=3, tokens=1, candidates=4, samples=2, budget=2, eval_every=1)
    result = tune(_task(topics), scripted, settings, tmp_path / "out", pool=str(topics[1]), progress=False)
    assert result.prompt.info["tokens"] is None


def test_a_resumed_run_counts_what_an_unbroken_one_does(engine, topics, tmp_path, monkeypatch):  # noqa: F811
    settings = TuneSettings("bbt", k=3, budget=24, population=4, eval_every=1, tokens=3, intrinsic_dim=20)
    whole = tune(_task(topics), engine, settings, tmp_path / "whole", pool=str(topics[1]), progress=False)
    resumed = _killed_then_resumed(engine, topics, settings, tmp_path / "resumed", monkeypatch)
    assert resumed.resumed_at == 3 and resumed.prompt.info["tokens"] == whole.prompt.info["tokens"] > 0
