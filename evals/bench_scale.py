"""Does the work scale past one engine? The same run on one engine, on 2 Ray replicas and on 2 servers.

GSM8K 8-shot CoT on SmolLM2-135M-Instruct, greedy, no cache: the same requests each time.

- single: one engine in this process, all of it on one core while it runs (this process, and the
  engine process vLLM starts, which binds its compute threads there; hf: torch with one thread);
- ray: `--engine ray`, 2 replicas of the same engine on a local Ray cluster, each pinned to a core of
  its own (`resources.pin_cores`);
- fleet: `--engine openai` over 2 `vllm serve` processes on loopback, each bound to a core of its own.

Engines are started and warmed before the clock starts (each replica and server answers a short
request first): the figure is throughput, not start-up. Ratios are against the single engine.

    python evals/bench_scale.py --data ../shared/data/gsm8k/test.jsonl --questions 64
    python evals/bench_scale.py --data ../shared/data/gsm8k/test.jsonl --questions 64 --inner hf --configs single ray
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from promptkit import build_method, evaluate
from promptkit.engines.base import Engine
from promptkit.engines.kinds import ENGINE_KINDS
from promptkit.engines.model_files import builtin_model_folder
from promptkit.tasks import load_task
from promptkit.testing.servers import LocalServer
from promptkit.types import GenRequest, Sampling

# Small KV space and eager mode, as the tests run vLLM's CPU build: the work fits, the start is short.
VLLM_ARGS = {"enforce_eager": True, "max_model_len": 4096, "kv_cache_memory_bytes": 1 << 30}
SERVE_ARGS = ("--dtype", "float32", "--enforce-eager", "--max-model-len", "4096", "--kv-cache-memory-bytes", str(1 << 30),
              "--served-model-name", "smollm2")  # fmt: skip
WARM = GenRequest("Q: 1 + 1?\nA:", Sampling(max_tokens=4))


def inner_spec(kind: str) -> dict:
    if kind == "vllm":
        return {"kind": "vllm", "dtype": "float32", "engine_args": VLLM_ARGS}
    return {"kind": "hf", "dtype": "float32", "device": "cpu"}


@contextlib.contextmanager
def single(kind: str) -> Iterator[Engine]:
    """One engine on one core: this process (and the engine process vLLM starts) on it while it runs."""
    spec = ENGINE_KINDS.get(kind).spec.model_validate(inner_spec(kind))
    everything = os.sched_getaffinity(0)
    core = min(everything)
    os.environ["VLLM_CPU_OMP_THREADS_BIND"] = str(core)  # vLLM's engine process binds its threads here
    os.sched_setaffinity(0, {core})
    if kind == "hf":
        import torch

        threads = torch.get_num_threads()
        torch.set_num_threads(1)
    engine = ENGINE_KINDS.get(kind).build(spec, False)
    try:
        engine.generate([WARM])
        yield engine
    finally:
        engine.close()
        os.environ.pop("VLLM_CPU_OMP_THREADS_BIND", None)
        if kind == "hf":
            torch.set_num_threads(threads)
        os.sched_setaffinity(0, everything)


@contextlib.contextmanager
def on_ray(kind: str, replicas: int, batch_size: int | None) -> Iterator[Engine]:
    spec = ENGINE_KINDS.get("ray").spec.model_validate(
        {
            "kind": "ray",
            "replicas": replicas,
            "inner": inner_spec(kind),
            "resources": {"num_cpus": 1, "pin_cores": True},
        }
    )
    engine = ENGINE_KINDS.get("ray").build(spec, False)
    try:
        engine.batch_size = 1  # warm every replica: one short request each
        engine.generate([WARM] * replicas)
        engine.batch_size = batch_size
        engine.served = [0] * replicas
        yield engine
    finally:
        engine.close()


@contextlib.contextmanager
def fleet(servers: int, logs: Path) -> Iterator[Engine]:
    model = builtin_model_folder()
    started = [
        LocalServer(model, log=logs / f"serve-{k}.log", server="vllm", extra_args=SERVE_ARGS,
                    env={"VLLM_CPU_OMP_THREADS_BIND": str(k)})
        for k in range(servers)
    ]  # fmt: skip
    try:
        for server in started:
            server.start(timeout=600)
        spec = ENGINE_KINDS.get("openai").spec.model_validate(
            {"kind": "openai", "model": "smollm2", "base_url": [s.base_url for s in started], "concurrency": 64}
        )
        engine = ENGINE_KINDS.get("openai").build(spec, False)
        engine.generate([WARM] * servers * 4)
        yield engine
    finally:
        for server in started:
            server.stop()


def timed_run(task, built, engine: Engine) -> tuple[float, list]:
    start = time.perf_counter()
    result = evaluate(task, built.pipeline, engine, built.extractor, method="few_shot_cot")
    seconds = time.perf_counter() - start
    return seconds, [(r["id"], r["prediction"], r["trace"][-1]["completion"]) for r in result.rows]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True, help="GSM8K test JSONL")
    parser.add_argument("--questions", type=int, default=64)
    parser.add_argument("--max-tokens", type=int, default=256)
    parser.add_argument("--inner", choices=("vllm", "hf"), default="vllm", help="the engine, alone and in each replica")
    parser.add_argument("--replicas", type=int, default=2, help="Ray replicas and fleet servers")
    parser.add_argument("--batch-size", type=int, help="ray: requests per call to a replica (default: the engine's)")
    parser.add_argument("--configs", nargs="+", default=["single", "ray", "fleet"], choices=("single", "ray", "fleet"))
    parser.add_argument("--json", help="also write the figures here")
    args = parser.parse_args()
    if len(os.sched_getaffinity(0)) < args.replicas:
        sys.exit(
            f"bench_scale: {args.replicas} replicas need {args.replicas} cores, this machine gives {len(os.sched_getaffinity(0))}"
        )

    task = load_task("gsm8k", args.data)
    task = task.with_examples(task.examples[: args.questions])
    built = build_method(task, "few_shot_cot", shots=8, max_tokens={"answer": args.max_tokens})
    rows = []
    baseline = None
    with tempfile.TemporaryDirectory() as logs:
        for config in args.configs:
            if config == "single":
                engine_cm = single(args.inner)
            elif config == "ray":
                engine_cm = on_ray(args.inner, args.replicas, args.batch_size)
            else:
                engine_cm = fleet(args.replicas, Path(logs))
            with engine_cm as engine:
                seconds, predictions = timed_run(task, built, engine)
                spread = getattr(engine, "served", None)
            if baseline is None:
                baseline = (seconds, predictions)
            rows.append(
                {
                    "config": config if config == "single" else f"{config} x{args.replicas}",
                    "engine": "vllm serve" if config == "fleet" else args.inner,
                    "seconds": round(seconds, 1),
                    "questions_per_s": round(len(task.examples) / seconds, 3),
                    "ratio": round(baseline[0] / seconds, 2),
                    "same_predictions": predictions == baseline[1],
                    **({"served": spread} if spread else {}),
                }
            )
            print(json.dumps(rows[-1]), flush=True)

    print(
        f"\nGSM8K 8-shot CoT, SmolLM2-135M-Instruct, {len(task.examples)} questions, greedy, max_tokens {args.max_tokens}"
    )
    print(f"{'config':<12} {'engine':<11} {'seconds':>8} {'q/s':>7} {'vs single':>10}  same predictions")
    for r in rows:
        print(
            f"{r['config']:<12} {r['engine']:<11} {r['seconds']:>8} {r['questions_per_s']:>7} {r['ratio']:>9}x  {r['same_predictions']}"
        )
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
