"""The ray engine for real: a local Ray cluster, 2 replicas of the hf engine on SmolLM2, against one engine.

One engine (and the cluster it starts) serves the module; the last test closes it and checks that no
process it started is left, Ray's own included.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
import yaml
from conftest import unavailable
from helpers import cache_rows, kill_once_stored, run_method, start_run
from test_process_cleanup import alive, descendants

from promptkit.engines import CachedEngine
from promptkit.engines.engine_kinds import ENGINE_KINDS, RayEngineSpec
from promptkit.tasks import load_task
from promptkit.types import GenRequest, Sampling

INNER = {"kind": "hf", "dtype": "float32", "device": "cpu"}


def _require_ray() -> None:
    import importlib.util

    if importlib.util.find_spec("ray") is None:
        unavailable("Ray is not installed: pip install 'promptkit[ray]'")


def _engine_flags(*flags: str, base=None) -> dict:
    from promptkit.cli.parser import build_parser
    from promptkit.cli.specs import engine_data

    return engine_data(build_parser().parse_args(["eval", "--task", "gsm8k", "--method", "direct", *flags]), base)


def test_the_command_line_puts_model_flags_on_the_inner_engine_and_ray_flags_on_ray():
    data = _engine_flags(
        "--engine", "ray", "--replicas", "8", "--inner", "vllm", "--model", "M", "--ray-address", "auto"
    )
    assert data == {"kind": "ray", "inner": {"kind": "vllm", "model": "M"}, "replicas": 8, "address": "auto"}
    spec = RayEngineSpec.model_validate(data)
    assert spec.inner.kind == "vllm" and spec.inner.model == "M" and spec.replicas == 8
    # A spec's own engine becomes the inner one when --engine ray is given.
    assert _engine_flags("--engine", "ray", base={"kind": "hf", "model": "X"})["inner"] == {"kind": "hf", "model": "X"}


def test_ray_flags_on_another_engine_are_a_one_line_error():
    from promptkit.errors import PromptkitError

    with pytest.raises(PromptkitError, match="--replicas: only for --engine ray"):
        _engine_flags("--engine", "hf", "--replicas", "2")


def test_an_unreachable_cluster_is_a_one_line_error_before_any_work(tmp_path):
    _require_ray()
    from promptkit.testing.servers import free_port

    cmd = [sys.executable, "-m", "promptkit", "eval", "--task", "last_letters", "--method", "direct", "--limit", "2",
           "--engine", "ray", "--ray-address", f"127.0.0.1:{free_port()}", "--out", str(tmp_path / "out"), "--quiet"]  # fmt: skip
    run = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert run.returncode == 2 and "Traceback" not in run.stderr
    assert (
        run.stderr.strip().splitlines()[-1].startswith("promptkit: error: ray: cannot reach the cluster at 127.0.0.1:")
    )


@pytest.fixture(scope="module")
def ray_engine(smollm2):
    _require_ray()
    spec = RayEngineSpec.model_validate({"kind": "ray", "replicas": 2, "batch_size": 2, "inner": INNER})
    engine = ENGINE_KINDS.get("ray").build(spec, False)
    yield engine
    engine.close()


def _task(n: int):
    task = load_task("last_letters")
    return task.with_examples(task.examples[:n])


def _traces(result):
    return [(s.example.id, s.fields.get("prediction"), [r.completion for r in s.trace]) for s in result.states]


def test_two_replicas_give_the_single_engines_predictions_greedy_and_sampled(ray_engine, smol_hf):
    budget = {"reason": 32, "answer": 8}
    for method, options in (
        ("zero_shot_cot", {"max_tokens": budget}),
        ("self_consistency", {"max_tokens": {"answer": 24}, "samples": 3, "temperature": 0.8, "seed": 5}),
    ):  # 4 examples in batches of 2: both replicas get work
        on_ray = run_method(_task(4), method, ray_engine, **options)
        alone = run_method(_task(4), method, smol_hf, **options)
        assert _traces(on_ray) == _traces(alone), method
    assert all(n > 0 for n in ray_engine.served), f"both replicas worked: {ray_engine.served}"


def test_least_to_most_chains_stream_through_the_replicas_with_the_same_results(ray_engine, smol_hf):
    options = {"max_tokens": {"decompose": 48, "solve": 24}}
    on_ray = run_method(_task(3), "least_to_most_promptkit", ray_engine, **options)
    alone = run_method(_task(3), "least_to_most_promptkit", smol_hf, **options)
    assert _traces(on_ray) == _traces(alone)


def test_a_replica_killed_mid_run_loses_nothing_and_changes_nothing(ray_engine, smol_hf, tmp_path):
    requests = [GenRequest(f"Q: Name a colour number {i}.\nA:", Sampling(max_tokens=16)) for i in range(10)]
    victim = ray_engine.replica_pids()[0]
    killed = []

    def kill_once(i, completion):
        if not killed:
            os.kill(victim, signal.SIGKILL)
            killed.append(i)

    cache = tmp_path / "cache.sqlite"
    engine = CachedEngine(ray_engine, cache)
    results = engine.generate(requests, kill_once)
    assert killed, "the replica was killed after the first request finished"
    assert ray_engine.deaths == [1, 0] and ray_engine.resent > 0, "its requests in flight were sent again"
    assert cache_rows(cache) == len(requests), "each request stored once"
    assert results == smol_hf.generate(requests), "the same texts as an undisturbed engine's"
    assert victim not in ray_engine.replica_pids(), "Ray restarted the replica in a new process"


def test_a_replica_that_keeps_dying_ends_the_run_with_one_line_keeping_what_finished(ray_engine, tiny_model, tmp_path):
    """A second engine on the module's cluster (its replica reserves no CPU), which Ray may not restart."""
    from promptkit.engines.engine_kinds import SpecFactory
    from promptkit.engines.ray_cluster import RayEngine
    from promptkit.errors import EngineUnavailable

    factory = SpecFactory(ENGINE_KINDS.get("hf").spec.model_validate({"model": str(tiny_model), "device": "cpu"}))
    fragile = RayEngine(factory(), factory, replicas=1, num_cpus=0, batch_size=1, max_restarts=0, progress=False)
    victim = fragile.replica_pids()[0]
    cache = tmp_path / "cache.sqlite"
    requests = [GenRequest(f"Q: {i}", Sampling(max_tokens=4)) for i in range(6)]

    stored_at_kill: list[int] = []

    def kill_at_second(i, completion):
        if not stored_at_kill and cache_rows(cache) >= 2:
            stored_at_kill.append(cache_rows(cache))
            os.kill(victim, signal.SIGKILL)

    try:
        with pytest.raises(EngineUnavailable) as raised:
            CachedEngine(fragile, cache).generate(requests, kill_at_second)
    finally:
        fragile.close()
    message = str(raised.value)
    assert message.startswith("ray: replica 0 failed 1 times") and "\n" not in message, message
    # What finished before the replica died is kept. On a busy machine the one request the replica was
    # already answering may arrive (and be stored) after the kill was sent: kept too, never lost.
    assert stored_at_kill and stored_at_kill[0] <= cache_rows(cache) <= stored_at_kill[0] + 1, stored_at_kill


SPEC = {
    "task": {"name": "last_letters", "limit": 6},
    "engine": {"kind": "ray", "replicas": 2, "batch_size": 1, "inner": INNER},
    "method": {"name": "zero_shot_cot", "max_tokens": {"reason": 48, "answer": 8}},
}


def _alive_in_session(sid: int) -> list[int]:
    """Processes (not zombies) still in the session a killed run started."""
    return [pid for pid in map(int, filter(str.isdigit, os.listdir("/proc"))) if _session(pid) == sid and alive(pid)]


def _session(pid: int) -> int | None:
    try:
        return int(open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[3])
    except OSError:
        return None


def test_a_killed_driver_reruns_only_the_missing_requests(ray_engine, tmp_path):
    spec = tmp_path / "spec.yaml"
    spec.write_text(yaml.safe_dump(SPEC))
    cache = tmp_path / "cache.sqlite"
    proc = start_run(spec, cache, tmp_path / "killed")
    stored = kill_once_stored(proc, cache, 3)  # the driver and the Ray cluster it started
    assert 3 <= stored < 12, f"the kill must land mid-run ({stored} of 12 generations stored)"
    deadline = time.time() + 120  # bounded against a hang; a busy machine makes it slower, not wrong
    while _alive_in_session(proc.pid) and time.time() < deadline:
        time.sleep(0.2)
    assert not _alive_in_session(proc.pid), "no process of the killed run is left"

    resumed = start_run(spec, cache, tmp_path / "resumed")
    _, err = resumed.communicate(timeout=600)
    assert resumed.returncode == 0, err.decode()[-2000:]
    summary = json.loads((tmp_path / "resumed" / "summary.json").read_text())
    assert summary["cache_hits"] == stored and summary["cache_misses"] == 12 - stored


def test_closing_stops_the_replicas_and_the_cluster_it_started(ray_engine):
    """Last in the module: after close() (ray.shutdown()), no process this test session started for Ray is left."""
    assert ray_engine.replica_pids()
    ray_engine.close()
    deadline = time.time() + 120
    while _ray_processes() and time.time() < deadline:
        time.sleep(0.2)
    assert not _ray_processes()


def _ray_processes() -> list[int]:
    return [pid for pid in descendants(os.getpid()) if alive(pid) and "ray" in _cmdline(pid)]


def _cmdline(pid: int) -> str:
    try:
        return open(f"/proc/{pid}/cmdline").read()
    except OSError:
        return ""
