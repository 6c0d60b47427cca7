"""hf and vllm on the same GSM8K 8-shot CoT prompts (greedy, float32): speed, and identical outputs.

    python evals/engine_agreement.py --data ../shared/data/gsm8k/test.jsonl --n 64 --max-tokens 256

Prints each engine's start (cold: first start in this process; warm: a second start) and generation
seconds, tokens per second, how many completions are identical, and for each difference the top-2
logit gap where it starts. Needs vLLM (its CPU build on a CPU machine).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a script: the repository root holds `evals`
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from evals.agreement import compare_greedy
from promptkit.engines.hf import HFEngine
from promptkit.engines.model_files import BUILTIN_MODEL
from promptkit.engines.placeholder import PlaceholderEngine
from promptkit.runs.build import build
from promptkit.runspec.files import validate
from promptkit.runspec.methods import FEW_SHOT_STOP
from promptkit.types import GenRequest, Sampling


def few_shot_cot_requests(data: str, n: int, max_tokens: int) -> list[GenRequest]:
    spec = validate(
        {
            "task": {"name": "gsm8k", "data": data, "limit": n},
            "engine": {"kind": "hf"},
            "method": {"name": "few_shot_cot"},
        },
        "engine_agreement",
    )
    built = build(spec)
    states = built.pipeline.run(built.task.examples, PlaceholderEngine())
    sampling = Sampling(max_tokens=max_tokens, stop=tuple(FEW_SHOT_STOP))
    return [GenRequest(s.trace[0].prompt, sampling) for s in states]


def timed(fn):
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", required=True, help="GSM8K test JSONL")
    p.add_argument("--model", default=BUILTIN_MODEL)
    p.add_argument("--n", type=int, default=64)
    p.add_argument("--max-tokens", type=int, default=256)
    p.add_argument("--eager", action="store_true", help="vLLM: skip torch.compile (faster start, slower steps)")
    args = p.parse_args()

    from promptkit.engines.vllm import VLLMEngine

    requests = few_shot_cot_requests(args.data, args.n, args.max_tokens)
    hf = HFEngine(args.model, device="cpu", dtype="float32", progress=False)
    _, hf_start = timed(lambda: hf.model)
    hf_out, hf_gen = timed(lambda: hf.generate(requests))

    engine_args = {"max_model_len": 4096, "gpu_memory_utilization": 0.3, "enforce_eager": args.eager}
    starts = []
    for _ in range(2):  # cold, then warm (vLLM's compile cache and the OS file cache are filled)
        vllm = VLLMEngine(args.model, dtype="float32", engine_args=engine_args, progress=False)
        _, seconds = timed(lambda v=vllm: v.engine)
        starts.append(seconds)
        if len(starts) == 1:
            vllm.close()
    vllm_out, vllm_gen = timed(lambda: vllm.generate(requests))
    vllm.close()

    def line(name, out, start, gen):
        tokens = sum(c.completion_tokens for c in out)
        return f"{name:5s} start {start:6.1f} s   generate {gen:6.1f} s   {tokens} tokens   {tokens / gen:7.1f} tok/s"

    print(f"{len(requests)} GSM8K 8-shot CoT prompts, {args.max_tokens} tokens, greedy, float32, {args.model}")
    print(line("hf", hf_out, hf_start, hf_gen))
    print(line("vllm", vllm_out, starts[1], vllm_gen) + f"   (cold start {starts[0]:.1f} s, warm {starts[1]:.1f} s)")
    print(compare_greedy(hf, requests, hf_out, vllm_out).summary())


if __name__ == "__main__":
    main()
