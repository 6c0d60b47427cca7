"""vLLM for real: a run killed mid-stage resumes from what finished; `vllm serve` gives the same texts."""

from __future__ import annotations

import json
import urllib.request

import pytest
import yaml
from helpers import kill_once_stored, start_run
from tests_support import VLLM_ARGS

from promptkit.engines import CachedEngine
from promptkit.engines.openai import OpenAIEngine
from promptkit.runs.build import run_spec
from promptkit.runspec.files import read_yaml, validate
from promptkit.testing.servers import LocalServer

SPEC = {
    "task": {"name": "last_letters", "limit": 12},
    # max_num_seqs only sizes the scheduler (not part of the engine's identity): requests finish in waves.
    "engine": {"kind": "vllm", "dtype": "float32", "engine_args": {**VLLM_ARGS, "max_num_seqs": 4}},
    "method": {"name": "zero_shot_cot", "max_tokens": {"reason": 64, "answer": 16}},
}


def _predictions(folder):
    rows = [json.loads(line) for line in (folder / "predictions.jsonl").open()]
    return [(r["id"], r["prediction"], [t["completion"] for t in r["trace"]]) for r in rows]


def test_a_vllm_run_killed_mid_stage_resumes_from_what_finished(vllm_engine, tmp_path):
    spec = tmp_path / "spec.yaml"
    spec.write_text(yaml.safe_dump(SPEC))
    cache = tmp_path / "cache.sqlite"
    stored = kill_once_stored(start_run(spec, cache, tmp_path / "killed"), cache, 4)  # vLLM's engine process too
    assert 4 <= stored < 24, f"the kill must land mid-run ({stored} of 24 generations stored)"
    print(f"vllm run killed with {stored} of 24 generations stored")

    resumed = start_run(spec, cache, tmp_path / "resumed")
    _, err = resumed.communicate(timeout=600)
    assert resumed.returncode == 0, err.decode()[-2000:]
    summary = json.loads((tmp_path / "resumed" / "summary.json").read_text())
    assert summary["cache_hits"] == stored and summary["cache_misses"] == 24 - stored

    straight = validate(read_yaml(str(spec)), str(spec))
    run_spec(straight, CachedEngine(vllm_engine, tmp_path / "fresh.sqlite"), tmp_path / "straight", progress=False)
    assert _predictions(tmp_path / "resumed") == _predictions(tmp_path / "straight")


SERVE_ARGS = ("--dtype", "float32", "--enforce-eager", "--max-model-len", "4096", "--gpu-memory-utilization", "0.1",
              "--kv-cache-memory-bytes", str(512 << 20))  # fmt: skip


@pytest.fixture(scope="module")
def vllm_server(smollm2, vllm_engine, tmp_path_factory):
    args = (*SERVE_ARGS, "--served-model-name", "smollm2")
    server = LocalServer(
        smollm2, log=tmp_path_factory.mktemp("vllm-serve") / "serve.log", server="vllm", extra_args=args
    )
    server.start(timeout=400)
    yield server
    server.stop()


def test_a_pipeline_through_vllm_serve_gives_the_in_process_engines_texts(vllm_server, vllm_engine, tmp_path):
    spec = validate({**SPEC, "task": {"name": "last_letters", "limit": 6}}, "test")
    served = OpenAIEngine("smollm2", base_url=vllm_server.base_url, progress=False)
    run_spec(spec, served, tmp_path / "served", progress=False)
    run_spec(spec, vllm_engine, tmp_path / "inprocess", progress=False)
    assert _predictions(tmp_path / "served") == _predictions(tmp_path / "inprocess")
    assert any(t[2][0].strip() for t in _predictions(tmp_path / "served")), "the model wrote rationales"


def test_scores_through_vllm_serve_equal_the_in_process_engines(vllm_server, vllm_engine):
    from promptkit.types import ScoreRequest

    requests = [ScoreRequest("Question: What is 2 + 3?\nA. 5\nB. 6\nAnswer:", f" {x}") for x in "AB"]
    requests += [ScoreRequest("The capital of France is ", "Paris, a city on the Seine")]
    served = OpenAIEngine("smollm2", base_url=vllm_server.base_url, progress=False).score(requests)
    local = vllm_engine.score(requests)
    for a, b in zip(served, local):
        assert a.tokens == b.tokens and abs(a.logprob - b.logprob) < 1e-3 and a.greedy == b.greedy


def test_a_fleet_of_two_vllm_servers_checks_its_model_and_survives_losing_one(vllm_server, vllm_engine, tmp_path):
    from promptkit.errors import EngineUnavailable
    from promptkit.types import GenRequest, Sampling

    # The second server knows the model by two names; the first by one.
    args = (*SERVE_ARGS, "--served-model-name", "smollm2", "smollm2-copy")
    second = LocalServer(vllm_server.model, log=tmp_path / "second.log", server="vllm", extra_args=args)
    second.start(timeout=400)
    try:
        odd = OpenAIEngine("smollm2-copy", base_url=[second.base_url, vllm_server.base_url], progress=False)
        with pytest.raises(
            EngineUnavailable, match=f"server {vllm_server.base_url} serves 'smollm2', not 'smollm2-copy'"
        ):
            odd.generate([GenRequest("Hello")])

        requests = [GenRequest(f"Q: Name a fruit, number {i}.\nA:", Sampling(max_tokens=24)) for i in range(12)]
        fleet = OpenAIEngine(
            "smollm2", base_url=[vllm_server.base_url, second.base_url], concurrency=2, max_retries=1, progress=False
        )
        finished, held_at_death = [], []

        def kill_second_while_it_holds_a_request(i, completion):
            finished.append(i)
            running = _requests_running(second.base_url) if second.proc is not None else 0
            if len(finished) >= 3 and running:
                held_at_death.append(running)  # its own metrics say it is working on these
                second.stop()  # SIGKILL, its whole process group

        results = fleet.generate(requests, kill_second_while_it_holds_a_request)
    finally:
        second.stop()
    assert held_at_death and held_at_death[0] >= 1, "the second server died holding a request"
    assert fleet.moved_from[second.base_url] >= 1, "and what it held was made again on the first"
    assert fleet.moved_from[vllm_server.base_url] == 0
    assert len(finished) == len(requests), "every request finished, on the server left"
    assert [c.texts for c in results] == [c.texts for c in vllm_engine.generate(requests)]


def _requests_running(base_url: str) -> int:
    """vLLM's own gauge of the requests it is running, from its Prometheus metrics."""
    with urllib.request.urlopen(base_url.removesuffix("/v1") + "/metrics", timeout=10) as response:
        text = response.read().decode()
    return int(sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
                   if line.startswith("vllm:num_requests_running")))  # fmt: skip
