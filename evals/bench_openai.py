"""Benchmark: the openai engine through a local `transformers serve` vs the hf engine in-process.

    python evals/bench_openai.py                      # tiny random model, 64 requests
    python evals/bench_openai.py --model PATH --n 256 --concurrency 32

Both engines get the same prompts and greedy settings; the served texts are checked against the
in-process ones. The server is started and stopped by this script, on loopback.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from promptkit.engines.hf import HFEngine
from promptkit.engines.openai import OpenAIEngine
from promptkit.tasks import generated_task
from promptkit.testing.servers import LocalServer
from promptkit.testing.tiny_model import build_tiny_model
from promptkit.types import GenRequest, Sampling


def timed(fn):
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", help="model path (default: a tiny random model)")
    parser.add_argument("--n", type=int, default=64, help="requests")
    parser.add_argument("--max-tokens", type=int, default=32)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--continuous-batching", action="store_true", help="start the server with continuous batching")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        model = args.model or str(build_tiny_model(Path(tmp) / "tiny"))
        task = generated_task(count=args.n, words=4, seed=0)
        sampling = Sampling(max_tokens=args.max_tokens)
        requests = [
            GenRequest(f"Q: {e.inputs['question']}\nA: Let's think step by step.", sampling) for e in task.examples
        ]

        local = HFEngine(model, device="cpu", progress=False)
        local.generate(requests[:2])
        local_out, t_local = timed(lambda: local.generate(requests))

        extra = ("--continuous-batching",) if args.continuous_batching else ()
        with LocalServer(model, log=Path(tmp) / "serve.log", extra_args=extra) as server:
            remote = OpenAIEngine(model, base_url=server.base_url, concurrency=args.concurrency, progress=False)
            remote.generate(requests[:2])
            remote_out, t_remote = timed(lambda: remote.generate(requests))
            _, t_single = timed(
                lambda: OpenAIEngine(model, base_url=server.base_url, concurrency=1, progress=False).generate(requests)
            )

        tokens = sum(c.completion_tokens for c in local_out)
        same = sum(a.text == b.text for a, b in zip(local_out, remote_out))
        print(f"model: {model if args.model else 'tiny random Llama (2 layers, hidden 32)'}; {len(requests)} requests, "
              f"max {args.max_tokens} new tokens, greedy, CPU")  # fmt: skip
        print(
            f"hf engine, in-process batched:        {t_local:7.3f} s  {len(requests) / t_local:7.1f} req/s  {tokens / t_local:8.1f} tok/s"
        )
        print(
            f"openai engine, concurrency {args.concurrency:<3}:      {t_remote:7.3f} s  {len(requests) / t_remote:7.1f} req/s  {tokens / t_remote:8.1f} tok/s"
        )
        print(
            f"openai engine, concurrency 1:         {t_single:7.3f} s  {len(requests) / t_single:7.1f} req/s  {tokens / t_single:8.1f} tok/s"
        )
        print(f"served texts equal to in-process texts: {same}/{len(requests)}")


if __name__ == "__main__":
    main()
