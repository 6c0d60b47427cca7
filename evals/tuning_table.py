"""Learned prompts against written and searched ones: SST-2, AGNews and TREC (RTE too with --tasks) on the embedded
model, k = 16 per class.

    python evals/tuning_table.py --data ../shared/data/zhao --out runs/tuning

For each task and seed (0, 1, 2): the hand-written prompt zero-shot (`classify`, Zhao et al.'s format;
it draws nothing, so its seeds agree) and calibrated, ICL (`classify` with --shots demonstrations drawn by the
seed) and the same run's calibrated accuracy (contextual calibration), demonstration search and instruction
search (calibrated classify, --search-budget engine calls), then `promptkit.tuning.tune` with each method
on 16 training and 16 development examples per class drawn by the seed, each learned prompt scored by the
same `classify` run (--soft-prompt; LoRA's adapter with --adapter, fine-tuning as the upper reference): prompt
tuning, prefix tuning, P-tuning, SPoT (prompt tuning started
from SST-2's prompt of the same seed), BBT, BBTv2, BDPL and LoRA (`--patience` stops each at its development plateau).
Test: the first --limit examples of Zhao et al.'s
300-example subsample (RTE: of its 277). Printed: accuracy, mean ± std over the seeds, and what each
method cost (optimiser steps or engine calls; the prompt tokens it sent to learn, counted as an engine's
scoring calls count them; minutes, tuning and scoring the test), beside BBT's published
RoBERTa-large figures; the table goes to OUT/tuning.md, the plot to OUT/tuning.png, each task's learning curves
(development accuracy against steps or engine calls, every method and seed) to OUT/curves-TASK.png, the prompts
under OUT.
The defaults are a quick look (4 steps, 4 calls, 30 test examples); docs/tuning.md gives the command at budgets
where the methods separate and its time on 2 CPU cores (62.6 to 74.4 minutes for the three tasks).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import matplotlib

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from promptkit.engines import make_engine
from promptkit.engines.engine_kinds import HFEngineSpec
from promptkit.engines.model_files import BUILTIN_MODEL
from promptkit.engines.text_prompt import TextPromptEngine
from promptkit.errors import PromptkitError
from promptkit.runs.build import build, build_method
from promptkit.runs.evaluate import evaluate
from promptkit.runs.report import new_figure, save_figure
from promptkit.runspec.files import read_spec_file, validate
from promptkit.runspec.models import PipelineSpec
from promptkit.schema import check_model
from promptkit.search import SearchSettings
from promptkit.search.run import search
from promptkit.tasks import load_task
from promptkit.tuning import TuneSettings, tune

TASKS = ("sst2", "trec", "agnews", "rte")
WRITTEN = ("zero-shot", "calibrated zero-shot", "ICL", "calibrated ICL")
SEARCHED = ("demonstration search", "instruction search")
SEARCH = {"demonstration search": "demo_search", "instruction search": "instruction_search"}
TUNED = ("prompt tuning", "prefix tuning", "P-tuning", "SPoT", "BBT", "BBTv2", "BDPL", "LoRA")
METHOD = {"prompt tuning": "prompt_tuning", "prefix tuning": "prefix_tuning", "P-tuning": "p_tuning",
          "SPoT": "prompt_tuning", "BBT": "bbt", "BBTv2": "bbtv2", "BDPL": "bdpl", "LoRA": "lora"}  # fmt: skip

# Sun et al. 2022 (BBT), main results: RoBERTa-large, 16 examples per class, mean (± std) over 3 splits; read
# from the paper's LaTeX table. TREC is not in it; P-tuning v2 stands for prefix tuning without its MLP.
BBT_PAPER: dict[str, dict[str, str]] = {
    "zero-shot": {"sst2": "79.82", "agnews": "76.96", "rte": "51.62"},
    "ICL": {"sst2": "79.79 ± 3.06", "agnews": "62.21 ± 13.46", "rte": "60.36 ± 1.56"},
    "prompt tuning": {"sst2": "68.23 ± 3.78", "agnews": "84.81 ± 0.66", "rte": "54.69 ± 3.79"},
    "prefix tuning": {"sst2": "64.33 ± 3.05 (P-tuning v2)", "agnews": "83.46 ± 1.01", "rte": "50.78 ± 2.28"},
    "BBT": {"sst2": "89.56 ± 0.25", "agnews": "81.51 ± 0.79", "rte": "52.59 ± 2.21"},
}


def _accuracy(task, engine, seed: int, **options: Any) -> tuple[float, dict]:
    built = build_method(task, "classify", selection_seed=seed, **options)
    result = evaluate(task, built.pipeline, engine, built.extractor, method="classify", progress=False)
    return result.summary.accuracy, dict(result.summary.metrics)


def run_task(name: str, args: argparse.Namespace, engine, cells: dict, work: dict, curves: dict) -> None:
    task = load_task(name, args.data / name).limit(args.limit)
    started = time.perf_counter()
    zero, _ = _accuracy(task, engine, 0)
    calibrated_zero, _ = _accuracy(task, engine, 0, calibrate="content_free")
    cells[("zero-shot", name)] = [zero] * len(args.seeds)
    cells[("calibrated zero-shot", name)] = [calibrated_zero] * len(args.seeds)
    work[("zero-shot", name)] = work[("calibrated zero-shot", name)] = ("0 steps", 0, time.perf_counter() - started)
    for seed in args.seeds:
        started = time.perf_counter()
        calibrated, metrics = _accuracy(task, engine, seed, shots=args.shots, calibrate="content_free")
        cells.setdefault(("ICL", name), []).append(metrics["acc_uncalibrated"])
        cells.setdefault(("calibrated ICL", name), []).append(calibrated)
        work[("ICL", name)] = work[("calibrated ICL", name)] = ("0 steps", 0, time.perf_counter() - started)
        for label in SEARCHED:
            started = time.perf_counter()
            accuracy, record = _searched(task, engine, SEARCH[label], seed, args)
            cells.setdefault((label, name), []).append(accuracy)
            work[(label, name)] = (f"{record['calls']} calls", record["prompt_tokens"], time.perf_counter() - started)
        for label in TUNED:
            if label == "SPoT" and (name == "sst2" or "sst2" not in args.tasks):
                continue
            started = time.perf_counter()
            suffix = "" if label == "LoRA" else ".safetensors"  # an adapter is a folder
            out = args.out / name / f"{label.replace(' ', '_')}-seed{seed}{suffix}"
            shutil.rmtree(out) if out.is_dir() else out.unlink(missing_ok=True)
            settings = _settings(label, seed, args)
            start = args.out / "sst2" / f"prompt_tuning-seed{seed}.safetensors" if label == "SPoT" else None
            result = tune(task, engine, settings, out, init_from=start, progress=not args.quiet)
            prompt = result.prompt
            if prompt is None:  # LoRA: its adapter merged into a copy of the model
                with make_engine(args.engine.model_copy(update={"adapter": str(out)}), progress=False) as adapted:
                    accuracy, _ = _accuracy(task, adapted, seed)
            else:
                scored = TextPromptEngine(engine, prompt) if prompt.tensor is None else engine.with_soft_prompt(prompt)
                accuracy, _ = _accuracy(task, scored, seed)
            cells.setdefault((label, name), []).append(accuracy)
            info = result.info
            curves.setdefault((label, name), []).append(info["history"])
            spent = f"{info['calls']} calls" if "calls" in info else f"{info['steps']} steps"
            work[(label, name)] = (spent, info["tokens"], time.perf_counter() - started)
            print(f"{name} seed {seed} {label}: {accuracy:.1%} ({spent}, dev {info['best_dev_acc']:.1%})",
                  file=sys.stderr, flush=True)  # fmt: skip


def _searched(task, engine, method: str, seed: int, args: argparse.Namespace) -> tuple[float, dict]:
    """A prompt search (`tune --method demo_search | instruction_search`, classify's calibrated prompt with --shots
    demonstrations, development examples from the training pool), its chosen spec scored on the test examples; and
    the search's record (its calls and tokens)."""
    out = args.out / task.name / f"{method}-seed{seed}.yaml"
    for stale in (out, out.with_name(out.name.removesuffix(".yaml") + ".search.jsonl")):
        stale.unlink(missing_ok=True)
    settings = SearchSettings(method, shots=args.shots, budget=args.search_budget, dev=args.k * len(task.labels),
                              seed=seed, calibrate=True)  # fmt: skip
    result = search(task, engine, settings, out, task_spec={"name": task.name}, engine_spec={"kind": "hf"},
                    progress=False)  # fmt: skip
    data = read_spec_file(result.spec)
    spec = validate({"task": {"name": task.name}, **{k: data[k] for k in ("method", "words") if k in data}},
                    str(out), PipelineSpec)  # fmt: skip
    built = build(spec, task)
    summary = evaluate(task, built.pipeline, engine, built.extractor, method=spec.label, progress=False).summary
    return summary.accuracy, result.header


def _settings(label: str, seed: int, args: argparse.Namespace) -> TuneSettings:
    method = METHOD[label]
    common = {"seed": seed, "k": args.k, "patience": args.patience}
    if method in ("bbt", "bbtv2"):
        population = min(4, args.bbt_budget)
        return TuneSettings(method, **common, budget=args.bbt_budget, tokens=args.bbt_tokens, population=population,
                            eval_every=max(1, args.bbt_budget // population // args.black_box_checks))  # fmt: skip
    if method == "bdpl":
        samples = min(2, args.bdpl_budget)
        return TuneSettings(method, **common, budget=args.bdpl_budget, samples=samples,
                            eval_every=max(1, args.bdpl_budget // samples // args.black_box_checks))  # fmt: skip
    return TuneSettings(method, **common, steps=args.steps, batch=args.batch, eval_every=max(1, args.steps // 8))


def table(cells: dict, work: dict, tasks: list[str]) -> str:
    paper = [t for t in tasks if t in BBT_PAPER["BBT"]]
    head = (
        "| method | " + " | ".join(f"{t} | cost" for t in tasks) + " | " + " | ".join(f"{t} (BBT paper)" for t in paper)
    )
    lines = [head + " |", "|---|" + "---|---|" * len(tasks) + "---|" * len(paper)]
    for label in (*WRITTEN, *SEARCHED, *TUNED):
        row = [label]
        for t in tasks:
            values = cells.get((label, t))
            if not values:
                row += ["—", ""]
                continue
            std = statistics.stdev(values) if len(values) > 1 else 0.0
            spent, tokens, seconds = work[(label, t)]
            cost = f"{spent}, {_count(tokens)} tokens, {seconds / 60:.1f} min"
            row += [f"{100 * statistics.mean(values):.1f} ± {100 * std:.1f}", cost]
        row += [BBT_PAPER.get(label, {}).get(t, "") for t in paper]
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def _count(tokens: int) -> str:
    return f"{tokens / 1e6:.1f}M" if tokens >= 1e6 else f"{tokens / 1e3:.0f}k" if tokens >= 1e3 else str(tokens)


def plot(cells: dict, tasks: list[str], path: Path) -> None:
    """A panel per task: each method's mean accuracy with its spread over seeds (written grey, learned blue)."""
    matplotlib.use("Agg")
    fig, axes = new_figure((3.6 * len(tasks), 3.6), ncols=len(tasks), sharey=True, squeeze=False)
    labels = [*WRITTEN, *SEARCHED, *TUNED]
    for ax, t in zip(axes[0], tasks):
        shown = [label for label in labels if cells.get((label, t))]
        means = [100 * statistics.mean(cells[(label, t)]) for label in shown]
        stds = [100 * (statistics.stdev(cells[(label, t)]) if len(cells[(label, t)]) > 1 else 0) for label in shown]
        colours = ["#999999" if label in WRITTEN else "#55A868" if label in SEARCHED else "#4C72B0" for label in shown]
        ax.bar(range(len(shown)), means, yerr=stds, color=colours, capsize=3)
        ax.set_xticks(range(len(shown)), shown, rotation=60, ha="right", fontsize=7)
        ax.set_title(t)
        ax.set_ylim(0, 100)
    axes[0][0].set_ylabel("accuracy (%), mean ± std over seeds")
    save_figure(fig, path)


def plot_curves(curves: dict, task: str, path: Path) -> None:
    """Development accuracy as each method learns: white-box against optimiser steps, black-box against engine
    calls; a line per seed, a colour per method."""
    matplotlib.use("Agg")
    fig, axes = new_figure((9, 3.6), ncols=2, sharey=True, squeeze=False)
    colours = dict(zip(TUNED, ("#4C72B0", "#55A868", "#C44E52", "#8172B2", "#CCB974", "#64B5CD", "#DD8452", "#333333")))
    for label in TUNED:
        for i, history in enumerate(curves.get((label, task), [])):
            calls = bool(history) and "calls" in history[0]
            ax = axes[0][1 if calls else 0]
            xs = [h["calls" if calls else "step"] for h in history]
            ax.plot(xs, [100 * h["dev_acc"] for h in history], marker="o", markersize=3, color=colours[label],
                    label=label if i == 0 else None, alpha=0.8)  # fmt: skip
    for ax, unit in zip(axes[0], ("optimiser steps (white-box)", "engine calls (black-box)")):
        ax.set_xlabel(unit)
        ax.set_ylim(0, 100)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7)
    axes[0][0].set_ylabel(f"{task}: development accuracy (%)")
    save_figure(fig, path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="Zhao et al.'s data folder (one folder per task)")
    parser.add_argument("--out", type=Path, default=Path("runs/tuning"), help="a folder for the learned prompts")
    parser.add_argument("--tasks", nargs="+", choices=TASKS, default=["sst2", "agnews", "trec"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--limit", type=int, default=30, help="test examples per task (default 30 of the 300)")
    parser.add_argument("--k", type=int, default=16, help="training (and development) examples per class")
    parser.add_argument("--shots", type=int, default=4, help="ICL's demonstrations (default 4)")
    parser.add_argument("--steps", type=int, default=4, help="white-box optimiser steps (default 4)")
    parser.add_argument("--batch", type=int, default=8, help="white-box examples per step (default 8)")
    parser.add_argument("--bbt-budget", type=int, default=4, help="BBT's engine calls (default 4; the paper 8000)")
    parser.add_argument("--bbt-tokens", type=int, default=10, help="BBT's prompt tokens (default 10; the paper 50)")
    parser.add_argument("--bdpl-budget", type=int, default=4, help="BDPL's engine calls (default 4; the paper 8000)")
    parser.add_argument("--search-budget", type=int, default=24, help="a prompt search's engine calls (default 24)")
    parser.add_argument("--black-box-checks", type=int, default=2,
                        help="development checks in a black-box run's budget (default 2; white-box: 8)")  # fmt: skip
    parser.add_argument("--patience", type=int, help="development checks without a better accuracy before a run stops")
    parser.add_argument("--model", default=BUILTIN_MODEL, help="the embedded model (default) or a model folder")
    parser.add_argument("--dtype", default="bfloat16", choices=("float32", "bfloat16", "float16"),
                        help="the hf engine's weights (default bfloat16: about 4x float32's speed on an AMX CPU)")  # fmt: skip
    parser.add_argument("--device", default="cpu", help="the hf engine's device: cpu (default), cuda, cuda:N")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    args = parser.parse_args(argv)
    for count in ("limit", "k", "steps", "batch", "bbt_budget", "bbt_tokens", "bdpl_budget", "search_budget",
                  "black_box_checks"):  # fmt: skip
        if getattr(args, count) < 1:
            parser.error(f"--{count.replace('_', '-')} must be at least 1, not {getattr(args, count)}")
    try:  # the engine spec's own rules, checked before any work
        args.engine = check_model(HFEngineSpec, {"model": args.model, "dtype": args.dtype, "device": args.device},
                                  "the engine")  # fmt: skip
    except PromptkitError as exc:
        parser.error(str(exc))
    args.out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    cells: dict = {}
    work: dict = {}
    curves: dict = {}
    tasks = sorted(args.tasks, key=lambda t: t != "sst2")  # SST-2 first: SPoT starts from its prompts
    with make_engine(args.engine, progress=False) as engine:
        for name in tasks:
            run_task(name, args, engine, cells, work, curves)
            print(f"{name}: done at {time.perf_counter() - start:.0f} s", file=sys.stderr, flush=True)
    text = table(cells, work, tasks)
    (args.out / "tuning.md").write_text(text + "\n", encoding="utf-8")
    plot(cells, tasks, args.out / "tuning.png")
    for name in tasks:
        plot_curves(curves, name, args.out / f"curves-{name}.png")
    print(text)
    print(f"\n{len(tasks)} tasks x {len(args.seeds)} seeds in {(time.perf_counter() - start) / 60:.1f} min; "
          f"plot: {args.out / 'tuning.png'}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
