"""Scoring's batch cut, side by side: one black-box tuning call (a soft prompt before each of a task's training
examples, every label word scored) with the rows cut as the hf engine cuts them (what a pass costs counted
with its tokens, padding included) against the fewest, widest batches its token budget allows (the cut
before it), the same rows and model on both sides.

    python evals/bench_score_batches.py --data ../shared/data/zhao --tasks sst2 trec agnews

Printed per task: the examples and their tokens, seconds per call each way (the median of --repeats after
one unmeasured call), the ratio, and the largest difference between the two sides' log-probabilities;
then one JSON line per task.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from promptkit.engines.hf import HFEngine
from promptkit.engines.hf_score import score_pairs
from promptkit.engines.model_files import BUILTIN_MODEL
from promptkit.files.learned_prompt import LearnedPrompt
from promptkit.tasks import load_task
from promptkit.tuning.bbt import FIRST_WORD_ID
from promptkit.tuning.data import tuning_data

WIDEST = 10**9
"""A pass taken to cost more than any padding: the fewest batches the budget allows."""


def bench_task(engine: HFEngine, name: str, args: argparse.Namespace) -> dict:
    task = load_task(name, args.data / name)
    data = tuning_data(task, args.k, 0, None)
    pairs = [engine.tokens.encode_pair(c, cont) for c in data.train.contexts for _, cont in data.continuations]
    embeddings = engine.model.get_input_embeddings().weight.detach().float().numpy()
    first = min(FIRST_WORD_ID, len(embeddings) - args.tokens)
    prompt = LearnedPrompt("bbt", engine.model_key, embeddings[first : first + args.tokens].copy())

    def timed(pass_tokens: int | None) -> tuple[float, list[float]]:
        def call() -> list[float]:
            scores = score_pairs(engine.model, pairs, engine.device, engine.max_batch_tokens, engine.max_batch_size,
                                 prompt, pass_tokens=pass_tokens)  # fmt: skip
            return [s.logprob for s in scores]

        out = call()
        seconds = []
        for _ in range(args.repeats):
            started = time.perf_counter()
            call()
            seconds.append(time.perf_counter() - started)
        return statistics.median(seconds), out

    cut, cut_lp = timed(None)
    widest, widest_lp = timed(WIDEST)
    return {
        "task": name,
        "examples": len(data.train.contexts),
        "tokens": sum(len(c) for c in {tuple(c) for c, _ in pairs}),
        "cut_s": round(cut, 3),
        "widest_s": round(widest, 3),
        "ratio": round(cut / widest, 2),
        "max_logprob_diff": max(abs(a - b) for a, b in zip(cut_lp, widest_lp)),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="Zhao et al.'s data folder (one folder per task)")
    parser.add_argument("--tasks", nargs="+", default=["sst2", "trec", "agnews"])
    parser.add_argument("--k", type=int, default=16, help="training examples per class (default 16)")
    parser.add_argument("--tokens", type=int, default=10, help="the soft prompt's tokens (default 10)")
    parser.add_argument("--repeats", type=int, default=5, help="measured calls each way (default 5)")
    parser.add_argument("--model", default=BUILTIN_MODEL, help="the embedded model (default) or a model folder")
    parser.add_argument("--dtype", default="bfloat16", choices=("float32", "bfloat16", "float16"))
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args(argv)
    engine = HFEngine(args.model, device=args.device, dtype=args.dtype, progress=False)
    rows = [bench_task(engine, name, args) for name in args.tasks]
    print(f"one call: a {args.tokens}-token soft prompt before each training example, {args.dtype} on {args.device}")
    print("| task | examples | tokens | cut by a pass's cost (s) | widest batches (s) | ratio | largest difference |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['task']} | {r['examples']} | {r['tokens']} | {r['cut_s']:.3f} | {r['widest_s']:.3f} | "
              f"{r['ratio']:.2f}x | {r['max_logprob_diff']:.1e} |")  # fmt: skip
    for r in rows:
        print(json.dumps(r))
    return 0


if __name__ == "__main__":
    sys.exit(main())
