"""Last-letter length generalization: few-shot CoT vs least-to-most on generated sets of L words.

    python evals/last_letters_sweep.py --model PATH_OR_HUB_ID [--lengths 2-12] [--count 500]

The demonstrations have 2 to 5 words; longer lists test length generalization, as in Zhou et al.
(2023), Table 3, who report for code-davinci-002 the figures printed beside ours.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from promptkit import build_method, evaluate
from promptkit.engines import default_cache_path, make_engine
from promptkit.runs.records import RunSummary
from promptkit.runspec import HFEngineSpec, VLLMEngineSpec
from promptkit.tasks import generated_task

ZHOU_2023 = {  # L: (CoT, least-to-most), accuracy in percent, code-davinci-002
    4: (84.2, 94.0),
    6: (69.2, 88.4),
    8: (50.2, 83.0),
    10: (39.8, 76.4),
    12: (31.8, 74.0),
}
METHODS = ("few_shot_cot", "least_to_most")


def parse_lengths(text: str) -> list[int]:
    if "-" in text:
        low, high = (int(x) for x in text.split("-"))
        return list(range(low, high + 1))
    return [int(x) for x in text.split(",")]


def sweep(engine, lengths: list[int], count: int, seed: int) -> dict[int, dict[str, dict]]:
    results: dict[int, dict[str, dict]] = {}
    for length in lengths:
        task = generated_task(count=count, words=length, seed=seed)
        results[length] = {}
        for method in METHODS:
            built = build_method(task, method)
            results[length][method] = evaluate(task, built.pipeline, engine, built.extractor, method=method).summary
    return results


def table(results: dict[int, dict[str, RunSummary]]) -> str:
    lines = [
        "| L | CoT | least-to-most | L2M engine calls | Zhou et al. CoT | Zhou et al. L2M |",
        "|---|-----|---------------|------------------|-----------------|-----------------|",
    ]
    for length, by_method in results.items():
        cot, l2m = by_method["few_shot_cot"], by_method["least_to_most"]
        zhou = ZHOU_2023.get(length)
        ref = f"{zhou[0]:.1f} | {zhou[1]:.1f}" if zhou else "- | -"
        lines.append(f"| {length} | {cot.accuracy:.1%} | {l2m.accuracy:.1%} | {l2m.engine_calls} | {ref} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True)
    parser.add_argument("--engine", default="hf", choices=["hf", "vllm"])
    parser.add_argument("--lengths", default="2-12", help="e.g. 2-12 or 4,6,8")
    parser.add_argument("--count", type=int, default=500, help="questions per length")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cache", default=str(default_cache_path()))
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args()
    spec = HFEngineSpec(model=args.model) if args.engine == "hf" else VLLMEngineSpec(model=args.model)
    engine = make_engine(spec, Path(args.cache), progress=not args.quiet)
    print(table(sweep(engine, parse_lengths(args.lengths), args.count, args.seed)))


if __name__ == "__main__":
    main()
