"""Do two identical vLLM runs give identical texts? The same GSM8K 8-shot CoT prompts, greedy, run twice per
dtype, each run on a freshly started engine, the completions compared one by one.

    python evals/vllm_repro.py --data ../shared/data/gsm8k/test.jsonl --n 32 --max-tokens 256

Prints, per dtype, the completions identical in both runs, where the first difference starts (in characters),
and each run's generation seconds. On a CPU, `--dtype auto` (promptkit's default) is float32; bfloat16 is vLLM's
own choice for this model. Needs vLLM (its CPU build on a CPU machine).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a script: the repository root holds `evals`
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from evals.engine_agreement import few_shot_cot_requests
from promptkit.engines.model_files import BUILTIN_MODEL


def first_difference(a: str, b: str) -> int:
    return next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", required=True, help="GSM8K test JSONL")
    p.add_argument("--model", default=BUILTIN_MODEL)
    p.add_argument("--n", type=int, default=32)
    p.add_argument("--max-tokens", type=int, default=256)
    p.add_argument("--dtypes", nargs="+", default=["bfloat16", "float32"])
    p.add_argument("--runs", type=int, default=2)
    args = p.parse_args()

    from promptkit.engines.vllm import VLLMEngine

    requests = few_shot_cot_requests(args.data, args.n, args.max_tokens)
    engine_args = {"max_model_len": 4096, "gpu_memory_utilization": 0.3, "enforce_eager": True}
    print(f"{len(requests)} GSM8K 8-shot CoT prompts, {args.max_tokens} tokens, greedy, {args.model}, "
          f"{os.cpu_count()} CPUs, {args.runs} runs per dtype, each on a fresh engine")  # fmt: skip
    print("| dtype | identical in every run | first difference at (characters) | seconds per run |")
    print("|---|---|---|---|")
    for dtype in args.dtypes:
        runs, seconds = [], []
        for _ in range(args.runs):
            engine = VLLMEngine(args.model, dtype=dtype, engine_args=engine_args, progress=False)
            _ = engine.engine  # started before the clock
            start = time.perf_counter()
            runs.append([c.text for c in engine.generate(requests)])
            seconds.append(time.perf_counter() - start)
            engine.close()
        same = [all(run[i] == runs[0][i] for run in runs) for i in range(len(requests))]
        starts = sorted(
            first_difference(runs[0][i], run[i]) for i in range(len(requests)) if not same[i] for run in runs[1:]
        )
        where = f"{starts[0]} to {starts[-1]}, median {starts[len(starts) // 2]}" if starts else "-"
        print(f"| {dtype} | {sum(same)} of {len(same)} | {where} | {', '.join(f'{s:.0f}' for s in seconds)} |")


if __name__ == "__main__":
    main()
