"""Searched prompts against drawn ones on the embedded model: SST-2 and TREC (4 shots), GSM8K and last letters.

    python evals/prompt_search_table.py --data ../shared/data --out runs/prompt_search

Classification (Zhao et al.'s data under DATA/zhao): for each seed, a random draw (`classify`, Zhao et al.'s
draw for the seed), GlobalE (`demo_search --criterion globale`: the draw of highest entropy on a probing
set, no labels), `demo_search` (random search with successive halving on development accuracy) and
`instruction_search` (the prefix: APE's proposals, then OPRO's steps, over one draw from the pool, which is
also scored with the task's own prefix: the search's baseline), each
searched uncalibrated and calibrated, and scored on the first --limit test sentences with the same
calibration. Development examples come from the training pool; the test set is never searched.
Reasoning (DATA/gsm8k; last letters are generated): few-shot CoT with the task's exemplars against
`bootstrap` (the model's own rationales, kept where right, then searched), and zero-shot CoT's trigger
against `instruction_search`'s. Printed: test accuracy as mean ± std (min-max) over the seeds, and the
engine calls each search used; OUT/prompt_search.md holds the table, OUT/prompt_search.png the plot.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import matplotlib

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from promptkit.engines import CachedEngine, make_engine
from promptkit.engines.engine_kinds import HFEngineSpec
from promptkit.errors import PromptkitError
from promptkit.runs.build import build
from promptkit.runs.evaluate import evaluate
from promptkit.runs.report import new_figure, save_figure
from promptkit.runspec.files import read_spec_file, validate
from promptkit.runspec.models import PipelineSpec
from promptkit.search import SearchSettings
from promptkit.search.run import search
from promptkit.tasks import load_task

CLASSIFICATION = ("sst2", "trec")
REASONING = ("gsm8k", "last_letters")
# Zhang et al. 2022 ("Active Example Selection for In-Context Learning"), GPT-2 medium, 4-shot, calibrated
# SST-2: random demonstrations, GlobalE reordering, their learned selection policy (as issue 44 quotes them).
ZHANG_SST2 = {"random draw": "66.2 (std 14.7)", "GlobalE": "67.9", "learned policy": "81.0"}


def _test(task, spec_data: dict[str, Any], engine) -> dict[str, float]:
    spec = validate(spec_data, "prompt_search_table", PipelineSpec)
    built = build(spec, task)
    s = evaluate(task, built.pipeline, engine, built.extractor, method=spec.label).summary
    return {"acc": s.accuracy, "uncal": float(s.metrics.get("acc_uncalibrated", s.accuracy))}


def _searched(task, engine, settings: SearchSettings, out: Path, pool: str | None) -> tuple[dict[str, Any], dict]:
    """Search, then the chosen spec's method and words (the spec file is what `promptkit run` would run)."""
    result = search(task, engine, settings, out, task_spec={"name": task.name}, engine_spec={"kind": "hf"},
                    pool=pool, progress=False)  # fmt: skip
    data = read_spec_file(result.spec)
    return {k: data[k] for k in ("method", "words") if k in data}, result.header


def classification_rows(args, engine, name: str) -> list[dict[str, Any]]:
    task = load_task(name, str(args.data / "zhao" / name)).limit(args.limit)
    rows: list[dict[str, Any]] = []
    for seed in args.seeds:
        base = {"name": "classify", "shots": args.shots, "selection_seed": seed}
        drawn = _test(task, {"task": {"name": name}, "method": {**base, "calibrate": "content_free"}}, engine)
        rows.append({"task": name, "seed": seed, "method": "random draw", "uncal": drawn["uncal"],
                     "cal": drawn["acc"], "calls": 0})  # fmt: skip
        common = {"shots": args.shots, "budget": args.budget, "dev": args.dev, "seed": seed}
        picked, header = _searched(task, engine, SearchSettings("demo_search", criterion="globale", **common),
                                   args.out / name / f"globale-{seed}.yaml", None)  # fmt: skip
        method = {**picked["method"], "calibrate": "content_free"}
        globale = _test(task, {"task": {"name": name}, "method": method}, engine)
        rows.append({"task": name, "seed": seed, "method": "GlobalE", "uncal": globale["uncal"], "cal": globale["acc"],
                     "calls": header["calls"]})  # fmt: skip
        # instruction_search keeps one draw of the pool for every instruction: the same draw with the task's own
        # prefix is its baseline (the random draw above is another draw).
        same_draw: dict[str, Any] = {"task": name, "seed": seed, "method": "its draw, the task's prefix", "calls": 0}
        for method_name in ("demo_search", "instruction_search"):
            row: dict[str, Any] = {"task": name, "seed": seed, "method": method_name, "calls": 0}
            for calibrate in (False, True):
                settings = SearchSettings(method_name, calibrate=calibrate, **common)
                out = args.out / name / f"{method_name}-{'cal' if calibrate else 'uncal'}-{seed}.yaml"
                picked, header = _searched(task, engine, settings, out, None)
                test = _test(task, {"task": {"name": name}, **picked}, engine)
                row["cal" if calibrate else "uncal"] = test["acc"]
                row["calls"] += header["calls"] / 2  # the mean of the two searches
                if method_name == "instruction_search":
                    baseline = _test(task, {"task": {"name": name}, "method": picked["method"]}, engine)
                    same_draw["cal" if calibrate else "uncal"] = baseline["acc"]
            rows.append(row)
        rows.append(same_draw)
        print(f"{name} seed {seed} done ({time.perf_counter() - args.started:.0f} s)", flush=True)
    return rows


def reasoning_rows(args, engine, name: str) -> list[dict[str, Any]]:
    data = str(args.data / "gsm8k" / "test.jsonl") if name == "gsm8k" else None
    pool = str(args.data / "gsm8k" / "train.jsonl") if name == "gsm8k" else None
    task = load_task(name, data).limit(args.reasoning_limit)
    rows: list[dict[str, Any]] = []
    for seed in args.reasoning_seeds:
        shots = {"name": "few_shot_cot", "shots": args.shots}
        few = _test(task, {"task": {"name": name}, "method": shots}, engine)
        zero = _test(task, {"task": {"name": name}, "method": {"name": "zero_shot_cot"}}, engine)
        common = {"shots": args.shots, "budget": args.reasoning_budget, "dev": args.reasoning_dev, "seed": seed}
        try:
            boot, b = _searched(task, engine, SearchSettings("bootstrap", bootstrap=args.bootstrap, **common),
                                args.out / name / f"bootstrap-{seed}.yaml", pool)  # fmt: skip
            booted = {"cal": _test(task, {"task": {"name": name}, **boot}, engine)["acc"], "calls": b["calls"]}
        except PromptkitError as exc:  # the model kept no rationale: a finding, not a crash
            booted = {"calls": 1, "note": str(exc).split(", so")[0]}
        trig, t = _searched(task, engine, SearchSettings("instruction_search", **common),
                            args.out / name / f"trigger-{seed}.yaml", pool)  # fmt: skip
        rows += [
            {"task": name, "seed": seed, "method": "few-shot CoT (task's exemplars)", "cal": few["acc"], "calls": 0},
            {"task": name, "seed": seed, "method": "bootstrap", **booted},
            {"task": name, "seed": seed, "method": "zero-shot CoT", "cal": zero["acc"], "calls": 0},
            {"task": name, "seed": seed, "method": "instruction_search (trigger)",
             "cal": _test(task, {"task": {"name": name}, **trig}, engine)["acc"], "calls": t["calls"],
             "trigger": trig.get("words", {}).get("cot_trigger", "")},
        ]  # fmt: skip
        print(f"{name} seed {seed} done ({time.perf_counter() - args.started:.0f} s)", flush=True)
    return rows


def _cell(values: list[float]) -> str:
    if not values:
        return ""
    std = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{100 * statistics.fmean(values):.1f} ± {100 * std:.1f} ({100 * min(values):.1f}-{100 * max(values):.1f})"


def table(rows: list[dict[str, Any]]) -> str:
    lines = ["| task | prompt | uncalibrated | calibrated | engine calls per search | Zhang et al. (GPT-2 medium, SST-2) |",
             "|---|---|---|---|---|---|"]  # fmt: skip
    seen: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for r in rows:
        seen.setdefault((r["task"], r["method"]), []).append(r)
    for (task, method), group in seen.items():
        uncal = [r["uncal"] for r in group if "uncal" in r]
        cal = [r["cal"] for r in group if "cal" in r]
        calls = statistics.fmean(r["calls"] for r in group)
        paper = ZHANG_SST2.get(method, "") if task == "sst2" else ""
        reasoning = task in REASONING
        notes = "; ".join(sorted({r["note"] for r in group if "note" in r}))
        shown = _cell(cal) + (" (accuracy)" if reasoning and cal else "") + (f" {notes}" if notes else "")
        lines.append(f"| {task} | {method} | {'' if reasoning else _cell(uncal)} | {shown} | {calls:.0f} | {paper} |")
    return "\n".join(lines)


def plot(rows: list[dict[str, Any]], path: Path) -> None:
    matplotlib.use("Agg")
    fig, ax = new_figure((7.5, 4.2))
    keys = list(dict.fromkeys((r["task"], r["method"]) for r in rows))
    for x, key in enumerate(keys):
        values = [100 * r["cal"] for r in rows if (r["task"], r["method"]) == key and "cal" in r]
        ax.scatter([x] * len(values), values, s=14, color="#4C72B0")
        if values:
            ax.plot([x - 0.3, x + 0.3], [statistics.fmean(values)] * 2, color="#C44E52")
    ax.set_xticks(range(len(keys)), [f"{t}\n{m}" for t, m in keys], fontsize=6, rotation=60, ha="right")
    ax.set_ylabel("test accuracy (%)")
    ax.set_title(
        "Searched against drawn prompts, SmolLM2-135M (calibrated where it applies; a dot per seed)", fontsize=9
    )
    save_figure(fig, path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="the shared data folder (zhao/, gsm8k/)")
    parser.add_argument("--out", type=Path, default=Path("runs/prompt_search"), help="a new folder")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="classification: the seeds")
    parser.add_argument("--reasoning-seeds", type=int, nargs="+", default=[0], help="reasoning: the seeds")
    parser.add_argument("--tasks", nargs="+", default=[*CLASSIFICATION, *REASONING])
    parser.add_argument("--shots", type=int, default=4)
    parser.add_argument("--limit", type=int, default=100, help="classification: the first N test examples")
    parser.add_argument("--budget", type=int, default=24, help="classification: engine calls per search")
    parser.add_argument("--dev", type=int, default=24, help="classification: development examples")
    parser.add_argument("--reasoning-limit", type=int, default=20, help="reasoning: the first N test questions")
    parser.add_argument("--reasoning-budget", type=int, default=8, help="reasoning: engine calls per search")
    parser.add_argument("--reasoning-dev", type=int, default=8, help="reasoning: development questions")
    parser.add_argument("--bootstrap", type=int, default=16, help="bootstrap: training questions answered")
    parser.add_argument("--model", help="a model folder or GGUF file (default: the embedded SmolLM2)")
    parser.add_argument(
        "--cache", type=Path, help="a generation cache to share between runs (default: OUT/cache.sqlite)"
    )
    args = parser.parse_args(argv)
    args.started = time.perf_counter()
    args.out.mkdir(parents=True, exist_ok=False)
    spec = HFEngineSpec(kind="hf", device="cpu", dtype="float32", **({"model": args.model} if args.model else {}))
    with make_engine(spec, progress=False) as plain:
        engine = CachedEngine(plain, args.cache or args.out / "cache.sqlite")
        rows = []
        for name in args.tasks:
            rows += (
                classification_rows(args, engine, name)
                if name in CLASSIFICATION
                else reasoning_rows(args, engine, name)
            )
    text = table(rows)
    (args.out / "prompt_search.md").write_text(text + "\n", encoding="utf-8")
    (args.out / "prompt_search.json").write_text(json.dumps(rows, indent=1) + "\n", encoding="utf-8")
    plot(rows, args.out / "prompt_search.png")
    print(text)
    triggers = sorted({r["trigger"] for r in rows if r.get("trigger")})
    print("\ntriggers chosen: " + " | ".join(repr(t) for t in triggers) if triggers else "")
    print(f"\n{time.perf_counter() - args.started:.0f} s in all; table: {args.out / 'prompt_search.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
