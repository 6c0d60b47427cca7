"""Majority-label and recency bias (Zhao et al. 2021, section 4): what the model predicts after unbalanced and
reordered demonstrations.

    python evals/bias_table.py --data ../shared/data/zhao/sst2 --out runs/bias

SST-2, four demonstrations in a set pattern of labels (P = Positive, N = Negative): balanced (PPNN, NNPP),
three of one label with the odd one last or first (PPPN, NPPP; NNNP, PNNN). Majority-label bias shows as
more Positive predictions after PPPN/NPPP than after NNNP/PNNN; recency bias as more predictions of the
last demonstration's label (NPPP against PPPN). Each pattern is filled with sentences drawn from the training
pool by seed (seeds 0-2: 4 positive and 4 negative sentences each, used in order), so a pattern's figure is
a mean ± std over three sets of sentences. Every run scores the 300 test sentences with `classify` and
contextual calibration (`selector: fixed`, the pattern as an exemplars file): printed is the share predicted
Positive and the accuracy, before and after calibration. Runs, `bias.md` and a plot are under --out.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import matplotlib
import numpy as np

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from promptkit.engines.model_files import BUILTIN_MODEL
from promptkit.runs.experiments import compare
from promptkit.runs.records import RunSummary
from promptkit.runs.report import new_figure, save_figure
from promptkit.runspec.files import validate
from promptkit.tasks import load_train, read_definition

PATTERNS = ("PPNN", "NNPP", "PPPN", "NPPP", "NNNP", "PNNN")
LABELS = {"P": "Positive", "N": "Negative"}
SEEDS = (0, 1, 2)


def pattern_pool(pattern: str, sentences: dict[str, list[str]]) -> dict:
    """An exemplars file's content: the pattern's labels, each filled with the next sentence of that label."""
    used = {"P": 0, "N": 0}
    rows = []
    for mark in pattern:
        rows.append({"question": sentences[mark][used[mark]], "answer": LABELS[mark]})
        used[mark] += 1
    return {"exemplars": rows}


def draw_sentences(data: Path, seed: int) -> dict[str, list[str]]:
    """4 positive and 4 negative training sentences, NumPy RandomState(seed)'s permutation of the pool."""
    train = load_train(read_definition("sst2"), data)
    order = np.random.RandomState(seed).permutation(len(train.examples))
    picked: dict[str, list[str]] = {"P": [], "N": []}
    for i in order:
        example = train.examples[int(i)]
        mark = "P" if example.target == "Positive" else "N"
        if len(picked[mark]) < 4:
            picked[mark].append(str(example.inputs["question"]))
        if all(len(v) == 4 for v in picked.values()):
            return picked
    raise SystemExit(f"{data}: fewer than 4 sentences of each label in the training pool")


def run(data: Path, out: Path, engine: dict, limit: int | None) -> dict[str, list[RunSummary]]:
    pools = out / "pools"
    pools.mkdir(parents=True, exist_ok=True)
    specs = []
    for seed in SEEDS:
        sentences = draw_sentences(data, seed)
        for pattern in PATTERNS:
            pool = pools / f"{pattern}-seed{seed}.json"
            pool.write_text(json.dumps(pattern_pool(pattern, sentences), indent=1) + "\n", encoding="utf-8")
            task = {"name": "sst2", "data": str(data), **({"limit": limit} if limit else {})}
            method = {"name": "classify", "shots": 4, "selector": "fixed", "pool": str(pool),
                      "calibrate": "content_free"}  # fmt: skip
            specs.append(validate({"name": f"{pattern}-seed{seed}", "task": task, "engine": engine,
                                   "method": method}, pattern))  # fmt: skip
    summaries = compare(specs, out / "runs", cache=out / "cache.sqlite")
    by_pattern: dict[str, list[RunSummary]] = {p: [] for p in PATTERNS}
    for spec, summary in zip(specs, summaries):
        by_pattern[spec.label.split("-")[0]].append(summary)
    return by_pattern


def _mean_std(values: list[float]) -> str:
    return f"{100 * statistics.fmean(values):.1f} ± {100 * statistics.stdev(values):.1f}"


def table(by_pattern: dict[str, list[RunSummary]]) -> str:
    lines = [
        "| demonstrations | predicted Positive, uncalibrated | calibrated | accuracy, uncalibrated | calibrated |",
        "|---|---|---|---|---|",
    ]
    for pattern, runs in by_pattern.items():
        before = [s.metrics["predicted_uncalibrated"]["Positive"] for s in runs]
        after = [s.metrics["predicted"]["Positive"] for s in runs]
        acc_before = [s.metrics["acc_uncalibrated"] for s in runs]
        lines.append(
            f"| {' '.join(pattern)} | {_mean_std(before)} | {_mean_std(after)} | {_mean_std(acc_before)} | "
            f"{_mean_std([s.accuracy for s in runs])} |"
        )
    return "\n".join(lines)


def plot(by_pattern: dict[str, list[RunSummary]], path: Path) -> None:
    matplotlib.use("Agg")  # a PNG file, no display
    fig, ax = new_figure((7, 4.2))
    xs = range(len(by_pattern))
    for offset, (field, name, color) in enumerate(
        (("predicted_uncalibrated", "uncalibrated", "#C44E52"), ("predicted", "calibrated", "#4C72B0"))
    ):
        shares = [[100 * s.metrics[field]["Positive"] for s in runs] for runs in by_pattern.values()]
        at = [x + (offset - 0.5) * 0.35 for x in xs]
        ax.bar(at, [statistics.fmean(v) for v in shares], width=0.35, color=color, alpha=0.6, label=name,
               yerr=[statistics.stdev(v) for v in shares], capsize=3)  # fmt: skip
        for x, values in zip(at, shares):
            ax.scatter([x] * len(values), values, s=10, color=color)
    ax.axhline(50, color="grey", linewidth=0.8, linestyle=":")
    ax.set_xticks(list(xs), [" ".join(p) for p in by_pattern])
    ax.set_xlabel("labels of the 4 demonstrations, in prompt order")
    ax.set_ylabel("% of test sentences predicted Positive (± std, 3 seeds)")
    ax.set_ylim(0, 100)
    ax.set_title("SST-2, SmolLM2-135M: majority-label and recency bias")
    ax.legend(fontsize=8)
    save_figure(fig, path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="Zhao et al.'s sst2 folder")
    parser.add_argument("--out", type=Path, default=Path("runs/bias"), help="a new folder for the runs")
    parser.add_argument("--limit", type=int, help="the first N test sentences only")
    parser.add_argument("--model", default=BUILTIN_MODEL, help="the embedded model (default) or a model folder")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    by_pattern = run(args.data, args.out, {"kind": "hf", "model": args.model, "device": "cpu"}, args.limit)
    text = table(by_pattern)
    (args.out / "bias.md").write_text(text + "\n", encoding="utf-8")
    plot(by_pattern, args.out / "bias.png")
    print(text)
    print(f"\n{len(PATTERNS) * len(SEEDS)} runs in {time.perf_counter() - start:.0f} s; plot: {args.out / 'bias.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
