"""The openai engine against real servers on loopback: `transformers serve`, and a failing stub."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest
from conftest import require
from helpers import cache_rows

from promptkit.engines.hf import HFEngine
from promptkit.engines.openai import OpenAIEngine, request_body
from promptkit.errors import EngineUnavailable
from promptkit.testing.servers import LocalServer, free_port
from promptkit.types import GenRequest, Sampling

SERVING = "transformers serve needs the serving extra (fastapi, uvicorn; the dev extra brings it)"


@pytest.fixture(scope="module")
def server(tiny_model, tmp_path_factory):
    require("fastapi", SERVING)
    with LocalServer(tiny_model, log=tmp_path_factory.mktemp("serve") / "serve.log") as s:
        yield s


def test_request_body_translation():
    s = Sampling(max_tokens=7, temperature=0.5, top_p=0.9, n=3, stop=("Q:",), seed=4)
    assert request_body(s, 2, 9) == {
        "max_tokens": 7,
        "temperature": 0.5,
        "top_p": 0.9,
        "n": 2,
        "stop": ["Q:"],
        "seed": 9,
    }
    assert "stop" not in request_body(Sampling(), 1, None) and "seed" not in request_body(Sampling(), 1, None)


def test_served_greedy_text_equals_the_hf_engine(server, tiny_model):
    requests = [
        GenRequest(p, Sampling(max_tokens=12)) for p in ("Q: Janet", "Take the last letters of each words", "A:")
    ]
    served = OpenAIEngine(str(tiny_model), base_url=server.base_url, progress=False, concurrency=3).generate(requests)
    local = HFEngine(str(tiny_model), device="cpu", progress=False).generate(requests)
    assert [c.text for c in served] == [c.text for c in local]
    assert all(c.prompt_tokens > 0 and c.completion_tokens > 0 for c in served)


def test_chat_messages_and_missing_samples(server, tiny_model):
    engine = OpenAIEngine(str(tiny_model), base_url=server.base_url, progress=False)
    chat = engine.generate([GenRequest(({"role": "user", "content": "Q: Janet"},), Sampling(max_tokens=5))])[0]
    assert chat.texts[0] and chat.finish_reasons == ("length",)
    # transformers serve ignores n: the engine asks again for the missing samples.
    three = engine.generate([GenRequest("Q: Janet", Sampling(max_tokens=4, n=3))])[0]
    assert len(three.texts) == 3


def _eval_cmd(tiny_model, base_url, tmp_path, out, limit=4):
    return [sys.executable, "-m", "promptkit", "eval", "--task", "last_letters", "--method", "zero_shot_cot",
            "--engine", "openai", "--model", str(tiny_model), "--base-url", base_url, "--concurrency", "2", "--max-retries", "1",
            "--limit", str(limit), "--cache", str(tmp_path / "cache.sqlite"), "--out", str(tmp_path / out), "--quiet"]  # fmt: skip


def _run_cmd(spec, tmp_path, out):
    return [sys.executable, "-m", "promptkit", "run", str(spec), "--cache", str(tmp_path / "cache.sqlite"),
            "--out", str(tmp_path / out), "--quiet"]  # fmt: skip


def test_pipeline_through_the_server_then_from_the_cache(server, tiny_model, tmp_path):
    first = subprocess.run(_eval_cmd(tiny_model, server.base_url, tmp_path, "a"), capture_output=True, text=True)
    assert first.returncode == 0, first.stderr
    summary = json.loads((tmp_path / "a" / "summary.json").read_text())
    assert summary["engine"] == "openai" and summary["engine_calls"] == 2 and summary["cache_misses"] == 8
    assert cache_rows(tmp_path / "cache.sqlite") == 8
    again = subprocess.run(_eval_cmd(tiny_model, server.base_url, tmp_path, "b"), capture_output=True, text=True)
    assert again.returncode == 0
    assert json.loads((tmp_path / "b" / "summary.json").read_text())["cache_hits"] == 8


def test_unreachable_server_is_a_clear_error(tiny_model, tmp_path):
    url = f"http://127.0.0.1:{free_port()}/v1"
    result = subprocess.run(_eval_cmd(tiny_model, url, tmp_path, "x"), capture_output=True, text=True)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    line = result.stderr.strip().splitlines()[-1]
    assert line.startswith(f"promptkit: error: cannot reach the server at {url}: ")
    assert "0 of 4 requests finished" in line


def test_outage_mid_run_loses_nothing_and_the_rerun_asks_only_for_the_rest(tiny_model, tmp_path):
    require("fastapi", SERVING)
    server = LocalServer(tiny_model, log=tmp_path / "serve.log").start()
    spec = tmp_path / "spec.yaml"
    spec.write_text(
        "task: {name: last_letters, limit: 20}\n"
        f"engine: {{kind: openai, model: {tiny_model}, base_url: '{server.base_url}', concurrency: 1, max_retries: 1}}\n"
        "method: {name: zero_shot_cot, max_tokens: {reason: 64, answer: 8}}\n"
    )
    try:
        run = subprocess.Popen(
            _run_cmd(spec, tmp_path, "killed"), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        deadline = time.time() + 120
        while cache_rows(tmp_path / "cache.sqlite") < 4 and time.time() < deadline and run.poll() is None:
            time.sleep(0.02)
        server.stop()
        _, err = run.communicate(timeout=120)
        assert run.returncode == 2, err
        assert f"cannot reach the server at {server.base_url}" in err and "Traceback" not in err
        stored = cache_rows(tmp_path / "cache.sqlite")
        assert 4 <= stored < 40

        server.start()
        resumed = subprocess.run(_run_cmd(spec, tmp_path, "resumed"), capture_output=True, text=True)
        assert resumed.returncode == 0, resumed.stderr
        summary = json.loads((tmp_path / "resumed" / "summary.json").read_text())
        assert summary["cache_hits"] == stored and summary["cache_misses"] == 40 - stored
    finally:
        server.stop()


def test_retries_with_backoff_on_5xx_and_rate_limits(flaky, monkeypatch):
    flaky, stub = flaky
    monkeypatch.setenv("MY_KEY", "secret")
    stub.script += [503, 429]
    engine = OpenAIEngine("m", base_url=flaky, api_key_env="MY_KEY", max_retries=3, progress=False)
    out = engine.generate([GenRequest("Q: x", Sampling(max_tokens=5, n=2, stop=("\n",), seed=1))])[0]
    assert out.texts == (" sample 0", " sample 0"), "greedy: one call, its text stands for both samples"
    assert len(stub.seen) == 3, "two failures, then success"
    sent = stub.seen[-1]
    assert sent["auth"] == "Bearer secret"
    assert sent["body"] == {
        "model": "m",
        "prompt": "Q: x",
        "max_tokens": 5,
        "temperature": 0.0,
        "top_p": 1.0,
        "n": 1,
        "stop": ["\n"],
    }


def test_each_sample_is_its_own_call_with_a_seed_from_seed_prompt_and_index(flaky):
    from promptkit.engines.implementing import sample_seed

    flaky, stub = flaky
    engine = OpenAIEngine("m", base_url=flaky, progress=False)
    request = GenRequest("Q: x", Sampling(max_tokens=5, temperature=0.7, n=3, seed=1), first_sample=2)
    out = engine.generate([request])[0]
    assert len(out.texts) == 3 and out.sample_tokens == (2, 2, 2)
    assert sorted(s["body"]["seed"] for s in stub.seen) == sorted(sample_seed(1, "Q: x", k) for k in (2, 3, 4))
    assert all(s["body"]["n"] == 1 for s in stub.seen)


def test_a_timed_out_request_is_retried(flaky):
    flaky, stub = flaky
    stub.script += ["slow"]
    # The stub's slow answer takes 5 s; its next, at once, well inside 2.5 s even on a busy machine.
    engine = OpenAIEngine("m", base_url=flaky, max_retries=2, timeout=2.5, progress=False)
    assert engine.generate([GenRequest("Q: x")])[0].texts == (" sample 0",)
    assert len(stub.seen) == 2


def test_retries_run_out_with_a_clear_error(flaky):
    flaky, stub = flaky
    stub.script += [500, 500, 500]
    engine = OpenAIEngine("m", base_url=flaky, max_retries=1, progress=False)
    with pytest.raises(EngineUnavailable, match=rf"the server at {flaky} answered 500"):
        engine.generate([GenRequest("Q: x")])
    assert len(stub.seen) == 2


def test_requests_run_concurrently_up_to_the_bound(flaky):
    """The server holds each request a while and counts those in flight: exactly the bound at the most."""
    flaky, stub = flaky
    stub.delay = 0.3
    engine = OpenAIEngine("m", base_url=flaky, concurrency=4, progress=False)
    results = engine.generate([GenRequest(f"Q: {i}") for i in range(10)])
    assert [c.text for c in results] == [" sample 0"] * 10
    assert sorted(s["body"]["prompt"] for s in stub.seen) == sorted(f"Q: {i}" for i in range(10))
    assert stub.peak == 4, f"{stub.peak} requests were in flight at the most, not the bound of 4"


def test_a_server_without_prompt_logprobs_cannot_score_and_says_so_first(server, tiny_model):
    """transformers serve returns no echoed prompt log-probabilities: one line, after one request, naming it."""
    from promptkit.types import ScoreRequest

    engine = OpenAIEngine(str(tiny_model), base_url=server.base_url, progress=False)
    with pytest.raises(EngineUnavailable) as raised:
        engine.score([ScoreRequest("Question: 2 + 3?\nAnswer:", f" {x}") for x in "ABCDE"])
    message = str(raised.value)
    assert server.base_url in message and "cannot score" in message and "\n" not in message


def test_called_from_threads_that_end_and_from_several_at_once(server, tiny_model):
    from test_engine_threads import PROMPTS, check_threads

    engine = OpenAIEngine(str(tiny_model), base_url=server.base_url, progress=False, concurrency=2)
    check_threads(engine, [GenRequest(p, Sampling(max_tokens=6)) for p in PROMPTS], inner="_run")
