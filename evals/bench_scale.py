"""Does the work scale past one engine? The same run on one engine, on 2 Ray replicas and on 2 servers.

GSM8K 8-shot CoT on SmolLM2-135M-Instruct, greedy, no cache: the same requests each time.

- single: one engine in this process, all of it on one core while it runs (this process, and the
  engine process vLLM starts, which binds its compute threads there; hf: torch with one thread);
- ray: `--engine ray`, 2 replicas of the same engine on a local Ray cluster, each pinned to a core of
  its own (`resources.pin_cores`);
- fleet: `--engine openai` over 2 `vllm serve` processes on loopback, each bound to a core of its own;
- share: one engine on one core, as `single`, on one replica's share of the questions alone: the
  most that splitting the work can give here. An engine batching 64 questions answers more per
  second than one batching 32 (decoding reads the weights once a step for the whole batch);
  `--max-num-seqs` caps every engine's running sequences, the regime of a run too large for one
  engine, where each replica is as full as the single engine.

Engines are started and warmed before the clock starts (each replica and server answers a short
request first): the figure is throughput, not start-up. Ratios are against the configuration named by
`--baseline` (the single engine by default), whatever order the configurations run in.

    python evals/bench_scale.py --data ../shared/data/gsm8k/test.jsonl --questions 64
    python evals/bench_scale.py --data ../shared/data/gsm8k/test.jsonl --questions 64 --max-num-seqs 16
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
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from promptkit import build_method, evaluate
from promptkit.engines.base import Engine
from promptkit.engines.engine_kinds import ENGINE_KINDS
from promptkit.engines.model_files import builtin_model_folder
from promptkit.tasks import load_task
from promptkit.testing.servers import LocalServer
from promptkit.types import GenRequest, Sampling

# Small KV space and eager mode, as the tests run vLLM's CPU build: the work fits, the start is short.
VLLM_ARGS = {"enforce_eager": True, "max_model_len": 4096, "kv_cache_memory_bytes": 1 << 30}
SERVE_ARGS = ("--dtype", "float32", "--enforce-eager", "--max-model-len", "4096", "--kv-cache-memory-bytes", str(1 << 30),
              "--served-model-name", "smollm2")  # fmt: skip
WARM = GenRequest("Q: 1 + 1?\nA:", Sampling(max_tokens=4))


def inner_spec(kind: str, max_num_seqs: int | None) -> dict:
    """The engine alone and in each replica; max_num_seqs caps its running sequences (hf: rows a batch)."""
    if kind == "vllm":
        cap = {"max_num_seqs": max_num_seqs} if max_num_seqs else {}
        return {"kind": "vllm", "dtype": "float32", "engine_args": {**VLLM_ARGS, **cap}}
    return {
        "kind": "hf",
        "dtype": "float32",
        "device": "cpu",
        **({"max_batch_size": max_num_seqs} if max_num_seqs else {}),
    }


@contextlib.contextmanager
def single(inner: dict) -> Iterator[Engine]:
    """One engine on one core: this process (and the engine process vLLM starts) on it while it runs."""
    kind = ENGINE_KINDS.get(inner["kind"])
    everything = os.sched_getaffinity(0)
    core = min(everything)
    os.environ["VLLM_CPU_OMP_THREADS_BIND"] = str(core)  # vLLM's engine process binds its threads here
    os.sched_setaffinity(0, {core})
    if inner["kind"] == "hf":
        import torch

        threads = torch.get_num_threads()
        torch.set_num_threads(1)
    engine = kind.build(kind.spec.model_validate(inner), False)
    try:
        engine.generate([WARM])
        yield engine
    finally:
        engine.close()
        os.environ.pop("VLLM_CPU_OMP_THREADS_BIND", None)
        if inner["kind"] == "hf":
            torch.set_num_threads(threads)
        os.sched_setaffinity(0, everything)


@contextlib.contextmanager
def on_ray(inner: dict, replicas: int, batch_size: int | None) -> Iterator[Engine]:
    resources = {"num_cpus": 1, "pin_cores": True}
    spec = ENGINE_KINDS.get("ray").spec.model_validate(
        {"kind": "ray", "replicas": replicas, "inner": inner, "resources": resources}
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
def fleet(servers: int, logs: Path, max_num_seqs: int | None) -> Iterator[Engine]:
    model = builtin_model_folder()
    args = (*SERVE_ARGS, *(("--max-num-seqs", str(max_num_seqs)) if max_num_seqs else ()))
    started = [
        LocalServer(model, log=logs / f"serve-{k}.log", server="vllm", extra_args=args,
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


CONFIGS = ("single", "share", "ray", "fleet")


@dataclass(frozen=True)
class Run:
    config: str
    seconds: float
    predictions: list
    row: dict


def against(runs: Sequence[Run], baseline: str) -> list[dict]:
    """Each run's row with its speed against the named baseline's (above 1: faster) and whether its
    predictions equal the baseline's on the questions both ran (`share` runs a prefix of them)."""
    base = next((r for r in runs if r.config == baseline), None)
    if base is None:
        raise ValueError(f"the baseline {baseline!r} did not run (ran: {', '.join(r.config for r in runs)})")
    rows = []
    for run in runs:
        both = min(len(run.predictions), len(base.predictions))
        same = run.predictions[:both] == base.predictions[:both]
        rows.append({**run.row, "ratio": round(base.seconds / run.seconds, 2), "same_predictions": same})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True, help="GSM8K test JSONL")
    parser.add_argument("--questions", type=int, default=64)
    parser.add_argument("--max-tokens", type=int, default=256)
    parser.add_argument("--inner", choices=("vllm", "hf"), default="vllm", help="the engine, alone and in each replica")
    parser.add_argument("--replicas", type=int, default=2, help="Ray replicas and fleet servers")
    parser.add_argument("--batch-size", type=int, help="ray: requests per call to a replica (default: the engine's)")
    parser.add_argument("--max-num-seqs", type=int, help="cap every engine's running sequences (vLLM's max_num_seqs)")
    parser.add_argument("--configs", nargs="+", default=list(CONFIGS), choices=CONFIGS)
    parser.add_argument("--baseline", default="single", choices=CONFIGS, help="what the ratios are against")
    parser.add_argument("--json", help="also write the figures here")
    args = parser.parse_args()
    if args.baseline not in args.configs:
        parser.error(f"--baseline {args.baseline} is not among --configs {' '.join(args.configs)}")
    cores = len(os.sched_getaffinity(0))
    if cores < args.replicas:
        sys.exit(f"bench_scale: {args.replicas} replicas need {args.replicas} cores, this machine gives {cores}")

    task = load_task("gsm8k", args.data)
    task = task.with_examples(task.examples[: args.questions])
    share = task.with_examples(task.examples[: -(-len(task.examples) // args.replicas)])
    built = build_method(task, "few_shot_cot", shots=8, max_tokens={"answer": args.max_tokens})
    inner = inner_spec(args.inner, args.max_num_seqs)
    runs: list[Run] = []
    with tempfile.TemporaryDirectory() as logs:
        for config in args.configs:
            questions = share if config == "share" else task
            if config in ("single", "share"):
                engine_cm = single(inner)
            elif config == "ray":
                engine_cm = on_ray(inner, args.replicas, args.batch_size)
            else:
                engine_cm = fleet(args.replicas, Path(logs), args.max_num_seqs)
            with engine_cm as engine:
                seconds, predictions = timed_run(questions, built, engine)
                spread = getattr(engine, "served", None)
            row = {
                "config": {"single": "single", "share": f"share 1/{args.replicas}"}.get(
                    config, f"{config} x{args.replicas}"
                ),
                "engine": "vllm serve" if config == "fleet" else args.inner,
                "questions": len(questions.examples),
                "seconds": round(seconds, 1),
                "questions_per_s": round(len(questions.examples) / seconds, 3),
                **({"served": spread} if spread else {}),
            }
            runs.append(Run(config, seconds, predictions, row))
            print(json.dumps(row), flush=True)
    rows = against(runs, args.baseline)

    cap = f", at most {args.max_num_seqs} sequences running per engine" if args.max_num_seqs else ""
    print(f"\nGSM8K 8-shot CoT, SmolLM2-135M-Instruct, greedy, max_tokens {args.max_tokens}{cap}")
    print(
        f"{'config':<12} {'engine':<11} {'questions':>9} {'seconds':>8} {'q/s':>7} {'vs ' + args.baseline:>10}  "
        f"same predictions as {args.baseline}"
    )
    for r in rows:
        print(f"{r['config']:<12} {r['engine']:<11} {r['questions']:>9} {r['seconds']:>8} {r['questions_per_s']:>7} "
              f"{r['ratio']:>9}x  {r['same_predictions']}")  # fmt: skip
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
