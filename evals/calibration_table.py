"""Zhao et al.'s Table 4 on the embedded model: accuracy before and after contextual calibration.

    python evals/calibration_table.py --data ../shared/data/zhao --out runs/calibration

For each of SST-2, AGNews, TREC, CB and RTE, at 0, 1, 4 and 8 shots: `classify` with `calibrate:
content_free` over the reference's 300 test examples (fewer where the test set is smaller: CB 56, RTE
277), once per demonstration seed 0-4 (`promptkit sweep --seeds 5`: one draw per seed, shared by every
question). Each run scores the test prompts and the content-free prompts in one engine call, so it gives
both accuracies. Printed: mean ± standard deviation over the seeds, uncalibrated -> calibrated, beside
GPT-2 XL's published figures (the paper's Table 4, the same protocol), and drawn in `calibration.png`
(a panel per task); the run folders, sweep tables and `promptkit report` plots (a box per shot count)
are under --out. Zero shots draw nothing, so its
five seeds are one run served four times from the cache (std 0).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import matplotlib

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from promptkit.engines.model_files import BUILTIN_MODEL
from promptkit.runs.experiments import sweep
from promptkit.runs.report import new_figure, save_figure, write_report

TASKS = ("sst2", "agnews", "trec", "cb", "rte")
SHOTS = (0, 1, 4, 8)
SEEDS = 5

# Zhao et al. 2021, Table 4: GPT-2 XL (1.5B), mean over 5 seeds, uncalibrated -> calibrated, per shot count.
GPT2_XL: dict[str, dict[int, tuple[float, float]]] = {
    "sst2": {0: (60.0, 82.0), 1: (66.7, 73.0), 4: (64.9, 73.8), 8: (54.5, 64.6)},
    "agnews": {0: (44.0, 60.0), 1: (45.4, 67.9), 4: (44.6, 58.0), 8: (57.1, 63.1)},
    "trec": {0: (24.0, 37.3), 1: (21.5, 41.1), 4: (23.1, 44.2), 8: (32.7, 44.1)},
    "cb": {0: (44.6, 17.9), 1: (49.6, 47.1), 4: (40.0, 55.4), 8: (48.9, 63.2)},
    "rte": {0: (51.0, 48.5), 1: (57.6, 56.3), 4: (53.2, 57.5), 8: (54.9, 57.7)},
}


def run_task(
    task: str, data: Path, out: Path, engine: dict[str, Any], shots: tuple[int, ...], limit: int | None = None
) -> list[dict]:
    base = {
        "task": {"name": task, "data": str(data / task), **({"limit": limit} if limit else {})},
        "engine": engine,
        "method": {"name": "classify", "calibrate": "content_free"},
    }
    values = ",".join(map(str, shots))
    result = sweep(base, [f"method.shots={values}"], out / task, seeds=SEEDS, cache=out / "cache.sqlite")
    rows = []
    for row in result.rows:
        spread = row["spread"]
        rows.append({
            "task": task,
            "shots": row["values"]["method.shots"],
            "n": row["summary"].n,
            "uncalibrated": spread["metrics"]["acc_uncalibrated"],
            "calibrated": {k: spread[k] for k in ("mean", "std", "min", "max")},
        })  # fmt: skip
    return rows


def table(rows: list[dict]) -> str:
    lines = [
        "| task | shots | n | SmolLM2-135M uncalibrated | calibrated | GPT-2 XL uncalibrated | calibrated |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        u, c = r["uncalibrated"], r["calibrated"]
        ref = GPT2_XL[r["task"]].get(r["shots"])
        theirs = [f"{ref[0]:.1f}", f"{ref[1]:.1f}"] if ref else ["", ""]
        lines.append(
            f"| {r['task']} | {r['shots']} | {r['n']} | {100 * u['mean']:.1f} ± {100 * u['std']:.1f} | "
            f"{100 * c['mean']:.1f} ± {100 * c['std']:.1f} | {theirs[0]} | {theirs[1]} |"
        )
    return "\n".join(lines)


def plot(rows: list[dict], path: Path) -> None:
    """One panel per task: accuracy against shots, mean ± std over the seeds, before and after calibration,
    GPT-2 XL's published means beside them."""
    matplotlib.use("Agg")  # a PNG file, no display
    tasks = list(dict.fromkeys(r["task"] for r in rows))
    fig, axes = new_figure((3.2 * len(tasks), 3.6), ncols=len(tasks), sharey=True, squeeze=False)
    for ax, task in zip(axes[0], tasks):
        mine = [r for r in rows if r["task"] == task]
        shots = [r["shots"] for r in mine]
        for key, style, name in (("uncalibrated", "--", "uncalibrated"), ("calibrated", "-", "calibrated")):
            ax.errorbar(shots, [100 * r[key]["mean"] for r in mine], yerr=[100 * r[key]["std"] for r in mine],
                        linestyle=style, marker="o", capsize=3, color="#4C72B0", label=f"SmolLM2 {name}")  # fmt: skip
            theirs = [(k, GPT2_XL[task][k][key == "calibrated"]) for k in shots if k in GPT2_XL[task]]
            ax.plot([k for k, _ in theirs], [v for _, v in theirs], linestyle=style, marker="s", color="grey",
                    alpha=0.7, label=f"GPT-2 XL {name}")  # fmt: skip
        ax.set_title(task)
        ax.set_xticks(shots)
        ax.set_xlabel("shots")
        ax.set_ylim(0, 100)
    axes[0][0].set_ylabel("accuracy (%), mean ± std over seeds")
    axes[0][-1].legend(fontsize=7)
    save_figure(fig, path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="Zhao et al.'s data folder (one folder per task)")
    parser.add_argument("--out", type=Path, default=Path("runs/calibration"), help="a new folder for the runs")
    parser.add_argument("--tasks", nargs="+", choices=TASKS, default=list(TASKS))
    parser.add_argument("--shots", nargs="+", type=int, default=list(SHOTS))
    parser.add_argument("--limit", type=int, help="the first N test examples of each task only (a quick look)")
    parser.add_argument("--engine", default="hf", help="hf (default) or vllm")
    parser.add_argument("--model", default=BUILTIN_MODEL, help="the embedded model (default) or a model folder")
    parser.add_argument("--dtype", default="float32", choices=("float32", "bfloat16"),
                        help="the hf engine's weights and activations (default float32, the table in docs/)")  # fmt: skip
    args = parser.parse_args(argv)
    engine = {"kind": args.engine, "model": args.model,
              **({"device": "cpu", "dtype": args.dtype} if args.engine == "hf" else {})}  # fmt: skip
    start = time.perf_counter()
    rows = []
    for task in args.tasks:
        rows += run_task(task, args.data, args.out, engine, tuple(args.shots), args.limit)
        print(f"{task}: done at {time.perf_counter() - start:.0f} s", file=sys.stderr, flush=True)
    text = table(rows)
    seconds = time.perf_counter() - start
    (args.out / "calibration.md").write_text(text + "\n", encoding="utf-8")
    plot(rows, args.out / "calibration.png")
    report = write_report([args.out / task for task in args.tasks], args.out / "report")
    print(text)
    print(f"\n{len(rows)} configurations x {SEEDS} seeds in {seconds:.0f} s; plot: {args.out / 'calibration.png'}, "
          f"per task: {report}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
