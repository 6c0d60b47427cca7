"""What in the demonstrations matters (Min et al. 2022, "Rethinking the Role of Demonstrations"), on SST-2.

    python evals/ablation_table.py --data ../shared/data/zhao --out runs/ablations

`classify` with contextual calibration over the reference's 300 SST-2 test sentences, at k = 4, 8 and 16
demonstrations, drawn once per seed (Zhao et al.'s draw, seeds 0..N-1) and ablated once per seed, as Min
et al. ablate them:
- gold labels;
- labels drawn uniformly at random from the label set (`demo_answers: uniform`);
- no labels, the inputs alone (`demo_answers: none`);
- out-of-distribution inputs: each sentence replaced by one of the 5 AGNews descriptions (AGNews's
  `test.csv`, written one per line to --out) nearest to it in word count (`demo_inputs: ood`);
- random English words as the label space, one to one (`label_words: random_english`: the
  `english-words` package's web2 list, the list Min et al.'s code draws from).
Printed: mean ± standard deviation over the seeds, calibrated and uncalibrated, per condition and k;
`ablations.png` draws each condition's runs, the table is also written to `ablations.md`.
"""

from __future__ import annotations

import argparse
import csv
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import matplotlib

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from promptkit.engines.model_files import BUILTIN_MODEL
from promptkit.runs.experiments import sweep
from promptkit.runs.report import COLORS, new_figure, save_figure

SHOTS = (4, 8, 16)
SEEDS = 3
OOD_FILE = "agnews_sentences.txt"
CONDITIONS: dict[str, list[str]] = {
    "gold labels": [],
    "labels drawn uniformly at random": ["method.demo_answers=uniform"],
    "no labels (inputs alone)": ["method.demo_answers=none"],
    "inputs: AGNews sentences of about the length": ["method.demo_inputs=ood", f"method.demo_ood_pool={OOD_FILE}"],
    "random English words as labels": ["method.label_words=random_english"],
}
"""Each condition's settings of the spec, besides the shot counts swept."""


def ood_sentences(data: Path, out: Path) -> Path:
    """AGNews's descriptions, one per line: the out-of-distribution pool."""
    source = data / "agnews" / "test.csv"
    with source.open(encoding="utf-8", newline="") as f:
        lines = [" ".join(row["Description"].replace("\\", " ").split()) for row in csv.DictReader(f)]
    path = out / OOD_FILE
    path.write_text("".join(line + "\n" for line in lines if line), encoding="utf-8")
    return path


def run(data: Path, out: Path, engine: dict[str, Any], seeds: int, shots: tuple[int, ...], limit: int | None,
        cache: Path) -> dict[str, list[dict]]:  # fmt: skip
    out.mkdir(parents=True, exist_ok=True)
    pool = ood_sentences(data, out)
    base = {
        "task": {"name": "sst2", "data": str(data / "sst2"), **({"limit": limit} if limit else {})},
        "engine": engine,
        "method": {"name": "classify", "calibrate": "content_free"},
    }
    shot_values = "method.shots=" + ",".join(map(str, shots))
    by_condition: dict[str, list[dict]] = {}
    for k, (name, settings) in enumerate(CONDITIONS.items()):
        settings = [s.replace(OOD_FILE, str(pool)) for s in settings]
        result = sweep(base, [*settings, shot_values], out / f"condition-{k}", seeds=seeds, cache=cache)
        by_condition[name] = [
            {"shots": row["values"]["method.shots"], "calibrated": row["spread"]["accuracy"],
             "uncalibrated": row["spread"]["metrics"]["acc_uncalibrated"]}
            for row in result.rows
        ]  # fmt: skip
    return by_condition


def _cell(values: list[float]) -> str:
    return f"{100 * statistics.fmean(values):.1f} ± {100 * statistics.stdev(values):.1f}"


def table(by_condition: dict[str, list[dict]]) -> str:
    shots = [p["shots"] for p in next(iter(by_condition.values()))]
    header = "| demonstrations | " + " | ".join(f"{k} shots, calibrated | uncalibrated" for k in shots) + " |"
    lines = [header, "|---|" + "---|---|" * len(shots)]
    for name, points in by_condition.items():
        cells = [f"{_cell(p['calibrated'])} | {100 * p['uncalibrated']['mean']:.1f} ± "
                 f"{100 * p['uncalibrated']['std']:.1f}" for p in points]  # fmt: skip
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def plot(by_condition: dict[str, list[dict]], seeds: int, path: Path) -> None:
    matplotlib.use("Agg")  # a PNG file, no display
    fig, ax = new_figure((8, 5))
    width = 0.8 / len(by_condition)
    for c, ((name, points), color) in enumerate(zip(by_condition.items(), COLORS)):
        xs = [i + (c - (len(by_condition) - 1) / 2) * width for i in range(len(points))]
        runs = [[100 * v for v in p["calibrated"]] for p in points]
        ax.bar(xs, [statistics.fmean(r) for r in runs], width=width, color=color, alpha=0.6, label=name,
               yerr=[statistics.stdev(r) for r in runs], capsize=2)  # fmt: skip
        for x, values in zip(xs, runs):
            ax.scatter([x] * len(values), values, s=10, color=color, edgecolors="black", linewidths=0.4)
    shots = [p["shots"] for p in next(iter(by_condition.values()))]
    ax.set_xticks(range(len(shots)), [f"k = {k}" for k in shots])
    ax.axhline(50, color="grey", linewidth=0.8, linestyle=":")
    ax.set_ylim(0, 100)
    ax.set_ylabel(f"calibrated accuracy (%), mean ± std, {seeds} seeds")
    ax.set_title("SST-2, SmolLM2-135M: Min et al.'s ablations of the demonstrations")
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.1), ncol=2)
    save_figure(fig, path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="Zhao et al.'s data folder (sst2/ and agnews/)")
    parser.add_argument("--out", type=Path, default=Path("runs/ablations"), help="a new folder for the runs")
    parser.add_argument("--seeds", type=int, default=SEEDS, help=f"demonstration draws 0..N-1 (default {SEEDS})")
    parser.add_argument("--shots", nargs="+", type=int, default=list(SHOTS))
    parser.add_argument("--limit", type=int, help="the first N test sentences only (a quick look)")
    parser.add_argument("--cache", type=Path, help="the generation cache (default: --out/cache.sqlite)")
    parser.add_argument("--model", default=BUILTIN_MODEL, help="the embedded model (default) or a model folder")
    args = parser.parse_args(argv)
    if args.seeds < 2:
        parser.error("--seeds must be 2 or more: the table gives a spread")
    if len(set(args.shots)) < 2:
        parser.error("--shots takes two or more shot counts (each condition is a sweep over them)")
    start = time.perf_counter()
    engine = {"kind": "hf", "model": args.model, "device": "cpu"}
    by_condition = run(args.data, args.out, engine, args.seeds, tuple(args.shots), args.limit,
                       args.cache or args.out / "cache.sqlite")  # fmt: skip
    text = table(by_condition)
    (args.out / "ablations.md").write_text(text + "\n", encoding="utf-8")
    plot(by_condition, args.seeds, args.out / "ablations.png")
    print(text)
    runs = len(CONDITIONS) * len(args.shots) * args.seeds
    print(f"\n{runs} runs in {time.perf_counter() - start:.0f} s; plot: {args.out / 'ablations.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
