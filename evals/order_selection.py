"""The order of demonstrations (Lu et al. 2022, "Fantastically Ordered Prompts"): accuracy over all 24 orders
of the same 4 SST-2 demonstrations, and entropy-based order selection (GlobalE, LocalE) against random orders.

    python evals/order_selection.py --data ../shared/data/zhao/sst2 --out runs/orders

The 4 demonstrations are Zhao et al.'s draw for a seed (RandomState(seed).choice(pool, 4)); each of their
24 permutations is one run of `classify` (`selector: fixed`, the permutation as an exemplars file) over the
300 test sentences, with contextual calibration so both accuracies are kept. The probing set is Lu et al.'s:
for each permutation, the model continues its demonstrations after the next `Review: ` at temperature 2
(2 samples of one line, at most 32 tokens), and the 48 lines, shared by every permutation, are scored after each one.
GlobalE is the entropy of the predicted labels' histogram over the probing set, LocalE the mean entropy
of each probe's class probabilities; each picks its 4 best orders. Printed: the spread over the 24 orders,
and the mean test accuracy of the orders each picks against all 24 (what a random order gives on average).
"""

from __future__ import annotations

import argparse
import itertools
import json
import statistics
import sys
import time
from pathlib import Path

import matplotlib
import numpy as np

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from promptkit import build_method, evaluate, load_task
from promptkit.engines.hf import HFEngine
from promptkit.engines.model_files import BUILTIN_MODEL
from promptkit.runs.report import new_figure, save_figure
from promptkit.search.entropy import entropies, probe_lines, probe_prefix, probe_requests, probe_task
from promptkit.tasks import load_train, read_definition

SHOTS = 4
PICKED = 4


def draw(data: Path, seed: int) -> list[dict[str, str]]:
    train = load_train(read_definition("sst2"), data)
    picks = np.random.RandomState(seed).choice(len(train.examples), SHOTS, replace=False)
    return [{"question": str(train.examples[int(i)].inputs["question"]), "answer": str(train.examples[int(i)].target)}
            for i in picks]  # fmt: skip


def _classify_built(task, pool: Path, *, calibrate: bool):
    options = {"calibrate": "content_free"} if calibrate else {}
    return build_method(task, "classify", shots=SHOTS, selector="fixed", pool=str(pool), **options)


def run(data: Path, out: Path, seed: int, limit: int | None, engine: HFEngine) -> dict:
    task = load_task("sst2", data).limit(limit)
    demos = draw(data, seed)
    pools = out / f"seed-{seed}"
    pools.mkdir(parents=True, exist_ok=True)
    perms = list(itertools.permutations(range(SHOTS)))
    files = []
    for k, perm in enumerate(perms):
        files.append(pools / f"order-{k}.json")
        files[-1].write_text(json.dumps({"exemplars": [demos[i] for i in perm]}, indent=1) + "\n", encoding="utf-8")
    prefixes = [probe_prefix(task, lambda one, f=f: _classify_built(one, f, calibrate=False)) for f in files]
    probes = probe_lines([c.texts for c in engine.generate(probe_requests(prefixes, seed))])
    probing = probe_task(task, probes)
    rows = []
    for k, file in enumerate(files):
        probe = entropies(_classify(probing, file, engine, calibrate=False))
        test = _classify(task, file, engine, calibrate=True)
        rows.append({
            "order": k, "labels": "".join(demos[i]["answer"][0] for i in perms[k]),
            "global_e": probe["globale"], "local_e": probe["locale"],
            "acc_uncalibrated": test.summary.metrics["acc_uncalibrated"], "acc_calibrated": test.summary.accuracy,
        })  # fmt: skip
    (pools / "orders.json").write_text(json.dumps({"probes": probes, "orders": rows}, indent=1) + "\n")
    return {"seed": seed, "probes": len(probes), "rows": rows}


def _classify(task, pool: Path, engine: HFEngine, *, calibrate: bool):
    built = _classify_built(task, pool, calibrate=calibrate)
    return evaluate(task, built.pipeline, engine, built.extractor, method="classify")


def summarise(result: dict) -> dict:
    rows = result["rows"]
    summary = {"seed": result["seed"], "probes": result["probes"]}
    for acc in ("acc_uncalibrated", "acc_calibrated"):
        values = [r[acc] for r in rows]
        summary[acc] = {
            "mean": statistics.fmean(values), "std": statistics.stdev(values), "min": min(values), "max": max(values),
            **{by: statistics.fmean(r[acc] for r in sorted(rows, key=lambda r: -r[by])[:PICKED])
               for by in ("global_e", "local_e")},
        }  # fmt: skip
    return summary


def table(summaries: list[dict]) -> str:
    lines = [
        "| seed | accuracy | 24 orders: mean ± std | min | max | GlobalE's 4 orders | LocalE's 4 orders | probes |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for s in summaries:
        for acc, name in (("acc_uncalibrated", "uncalibrated"), ("acc_calibrated", "calibrated")):
            a = s[acc]
            lines.append(
                f"| {s['seed']} | {name} | {100 * a['mean']:.1f} ± {100 * a['std']:.1f} | {100 * a['min']:.1f} | "
                f"{100 * a['max']:.1f} | {100 * a['global_e']:.1f} | {100 * a['local_e']:.1f} | {s['probes']} |"
            )
    return "\n".join(lines)


def plot(results: list[dict], path: Path) -> None:
    matplotlib.use("Agg")  # a PNG file, no display
    fig, ax = new_figure((6.5, 4.2))
    for j, acc in enumerate(("acc_uncalibrated", "acc_calibrated")):
        for i, result in enumerate(results):
            x = j * (len(results) + 1) + i
            rows = result["rows"]
            values = [100 * r[acc] for r in rows]
            ax.boxplot([values], positions=[x], widths=0.5, manage_ticks=False)
            ax.scatter([x - 0.15] * len(values), values, s=10, alpha=0.5, color="grey")
            for by, color in (("global_e", "#C44E52"), ("local_e", "#4C72B0")):
                top = sorted(rows, key=lambda r: -r[by])[:PICKED]
                label = {"global_e": "GlobalE's 4", "local_e": "LocalE's 4"}[by] if (i, j) == (0, 0) else None
                ax.scatter([x + 0.15] * PICKED, [100 * r[acc] for r in top], s=14, color=color, label=label)
    ticks = [j * (len(results) + 1) + i for j in range(2) for i in range(len(results))]
    names = [f"{n}\nseed {r['seed']}" for n in ("uncalibrated", "calibrated") for r in results]
    ax.set_xticks(ticks, names, fontsize=8)
    ax.set_ylabel("accuracy (%) per order of the same 4 demonstrations")
    ax.set_title("SST-2, SmolLM2-135M: 24 orders, and the ones entropy picks")
    ax.legend(fontsize=8)
    save_figure(fig, path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="Zhao et al.'s sst2 folder")
    parser.add_argument("--out", type=Path, default=Path("runs/orders"), help="a new folder for the results")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0], help="demonstration draws (default: 0)")
    parser.add_argument("--limit", type=int, help="the first N test sentences only")
    parser.add_argument("--model", default=BUILTIN_MODEL, help="the embedded model (default) or a model folder")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    engine = HFEngine(args.model, device="cpu", dtype="float32", progress=False)
    results = [run(args.data, args.out, seed, args.limit, engine) for seed in args.seeds]
    summaries = [summarise(r) for r in results]
    text = table(summaries)
    (args.out / "orders.md").write_text(text + "\n", encoding="utf-8")
    plot(results, args.out / "orders.png")
    print(text)
    print(f"\n{24 * len(results)} orders in {time.perf_counter() - start:.0f} s; plot: {args.out / 'orders.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
