"""Benchmark: batched vs one-at-a-time generation, and pipeline overhead over the bare engine.

    python evals/bench_engine.py                 # the tiny random model, built in a temp folder
    python evals/bench_engine.py --model PATH    # any local model or hub id

Overhead = promptkit wall time for zero-shot-CoT / bare engine time for the same requests.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from promptkit import build_method
from promptkit.engines.cache import CachedEngine
from promptkit.engines.hf import HFEngine
from promptkit.engines.implementing import CountingEngine
from promptkit.runs.evaluate import evaluate
from promptkit.tasks import generated_task
from promptkit.testing.tiny_model import build_tiny_model
from promptkit.types import GenRequest, Sampling


class Recorder(CountingEngine):
    """Counts calls and keeps every request list, to replay them on the bare engine."""

    def __init__(self, inner):
        super().__init__(inner)
        self.batches: list[list[GenRequest]] = []

    def generate(self, requests, on_complete=None):
        self.batches.append(list(requests))
        return super().generate(requests, on_complete)


def timed(fn, repeats: int = 1):
    """The result of the last run and the fastest of `repeats` runs (the least disturbed)."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - start)
    return out, best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", help="model path or hub id (default: a tiny random model)")
    parser.add_argument("--n", type=int, default=64, help="examples")
    parser.add_argument("--max-tokens", type=int, default=32)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--repeats", type=int, default=5, help="runs per measurement; the fastest counts")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        model = args.model or str(build_tiny_model(Path(tmp) / "tiny"))
        engine = HFEngine(model, device=args.device, progress=False)
        task = generated_task(count=args.n, words=4, seed=0)
        sampling = Sampling(max_tokens=args.max_tokens)
        requests = [
            GenRequest(f"Q: {e.inputs['question']}\nA: Let's think step by step.", sampling) for e in task.examples
        ]
        engine.generate(requests[:2])  # warm-up

        batched, t_batched = timed(lambda: engine.generate(requests), args.repeats)
        _, t_single = timed(lambda: [engine.generate([r]) for r in requests], max(1, args.repeats // 2))
        tokens = sum(c.completion_tokens for c in batched)
        print(f"model: {model if args.model else 'tiny random Llama (2 layers, hidden 32)'}; device {engine.device}")
        print(f"{len(requests)} requests, max {args.max_tokens} new tokens, {tokens} tokens generated")
        print(
            f"batched:        {t_batched:7.3f} s  {len(requests) / t_batched:8.1f} req/s  {tokens / t_batched:9.1f} tok/s"
        )
        print(
            f"one at a time:  {t_single:7.3f} s  {len(requests) / t_single:8.1f} req/s  {tokens / t_single:9.1f} tok/s"
        )
        print(f"speed-up from batching: {t_single / t_batched:.1f}x")

        built = build_method(task, "zero_shot_cot", max_tokens={"reason": args.max_tokens, "answer": 8})
        pipeline, extractor = built.pipeline, built.extractor
        recorder = Recorder(engine)
        result = evaluate(task, pipeline, recorder, extractor, method="zero_shot_cot")
        batches = recorder.batches
        _, t_bare = timed(lambda: [engine.generate(batch) for batch in batches], args.repeats)
        _, t_pipeline = timed(lambda: evaluate(task, pipeline, engine, extractor, method="zero_shot_cot"), args.repeats)

        def cached_run():
            with tempfile.TemporaryDirectory() as d:  # a fresh cache each time: every request is a miss
                return evaluate(
                    task, pipeline, CachedEngine(engine, Path(d) / "c.sqlite"), extractor, method="zero_shot_cot"
                )

        _, t_cached = timed(cached_run, args.repeats)
        print(
            f"zero-shot-CoT, {result.summary.engine_calls} engine calls, {result.summary.requests} requests (fastest of {args.repeats}):"
        )
        print(f"  bare engine on the same requests: {t_bare:.3f} s")
        print(
            f"  promptkit pipeline, no cache:     {t_pipeline:.3f} s  overhead ratio {t_pipeline / t_bare:.3f} ({(t_pipeline - t_bare) * 1000:+.1f} ms)"
        )
        print(
            f"  promptkit pipeline, cold cache:   {t_cached:.3f} s  overhead ratio {t_cached / t_bare:.3f} ({(t_cached - t_bare) * 1000:+.1f} ms)"
        )


if __name__ == "__main__":
    main()
