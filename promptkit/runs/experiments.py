"""Runs and experiments over specs, as library calls (the command line is a thin layer over these).

`run` one spec; `compare` several on one table; `sweep` one run per point of a grid of spec values;
`orders` the same demonstrations in K seeded orders; `auto_cot_exemplars` demonstrations the model
writes. Each checks every spec before any model loads, shares one engine per distinct engine spec
(`EnginePool`), and writes run folders whole; what an experiment adds is its folder layout and the
statistics beside the runs (sweep.json, orders.json), which `report` turns into plots.
"""

from __future__ import annotations

import copy
import itertools
import json
import math
import statistics
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from promptkit.errors import PromptkitError
from promptkit.files.atomic import check_out_dir, check_root_dir, write_text_atomic
from promptkit.files.paths import check_output_file
from promptkit.runs.build import build, build_task, check_prompts, prepare, run_spec, zero_shot_reasoner
from promptkit.runs.evaluate import RunResult
from promptkit.runs.pool import CacheFor, EnginePool
from promptkit.runs.records import RunSummary, metric_cell, metric_columns
from promptkit.runs.view import write_view
from promptkit.runspec.files import set_dotted, validate
from promptkit.runspec.methods import METHODS
from promptkit.runspec.models import RunSpec
from promptkit.stages.library.auto_cot_build import AutoCoTResult, AutoCoTSettings, auto_cot, write_exemplars
from promptkit.stages.library.demo_pools import question_pool
from promptkit.stages.stage_kinds import STAGE_KINDS
from promptkit.tasks import read_definition


def sweep_grid(assignments: Sequence[str]) -> list[list[str]]:
    """'a=1,2' and 'b=x' -> [['a=1', 'b=x'], ['a=2', 'b=x']]: the product of every listed value.

    A value in brackets ('a=[1,2]') is one YAML value, not a list of points.
    """
    axes = []
    for assignment in assignments:
        if "=" not in assignment:
            raise PromptkitError(f"--set expects dotted.key=v1,v2,..., got {assignment!r}")
        key, raw = assignment.split("=", 1)
        raw = raw.strip()
        values = [raw] if raw.startswith(("[", "{")) else [v.strip() for v in raw.split(",")]
        if not all(values):
            raise PromptkitError(f"--set {key}: an empty value in {raw!r}")
        axes.append([f"{key.strip()}={v}" for v in values])
    return [list(point) for point in itertools.product(*axes)]


def point_label(point: Sequence[str]) -> str:
    """A folder name for a point: 'method.shots=4'; several fields joined by ','."""
    return ",".join(point).replace("/", "_")


def swept_fields(grid: Sequence[Sequence[str]]) -> list[str]:
    """The fields whose value changes across the grid."""
    keys = [a.split("=", 1)[0] for a in grid[0]] if grid else []
    return [k for i, k in enumerate(keys) if len({p[i] for p in grid}) > 1]


def point_data(base: dict[str, Any], point: Sequence[str]) -> dict[str, Any]:
    data = copy.deepcopy(base)
    for assignment in point:
        set_dotted(data, assignment)
    return data


def point_value(point: Sequence[str], field: str) -> Any:
    for assignment in point:
        key, raw = assignment.split("=", 1)
        if key == field:
            try:
                return yaml.safe_load(raw)
            except yaml.YAMLError:
                return raw
    return None


def write_sweep(out: Path, fields: list[str], rows: list[dict[str, Any]]) -> str:
    """sweep.json (for report) and sweep.md (the table, also returned); each row's summary is a RunSummary."""
    points = [{**r, "summary": r["summary"].model_dump(mode="json", exclude_none=True)} for r in rows]
    write_text_atomic(out / "sweep.json", json.dumps({"fields": fields, "points": points}, indent=1) + "\n")
    extra = metric_columns([r["summary"] for r in rows])
    header = [*fields, "accuracy", "95% CI", "n", *(m.heading for m in extra), "run"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for r in rows:
        s = r["summary"]
        low, high = s.ci95
        cells = [*(str(r["values"].get(f)) for f in fields), f"{s.accuracy:.1%}", f"{low:.1%}-{high:.1%}",
                 str(s.n), *(metric_cell(s, m) for m in extra), r["run"]]  # fmt: skip
        lines.append("| " + " | ".join(cells) + " |")
    table = "\n".join(lines)
    (out / "sweep.md").write_text(table + "\n", encoding="utf-8")
    return table


# --- order sensitivity ---------------------------------------------------------------------------


def with_order_seed(spec: RunSpec, seed: int) -> RunSpec:
    """The spec with its demonstrations in a seeded random order; which demonstrations stays the same."""
    data = spec.model_dump(mode="json", exclude_none=True, exclude_unset=True)
    if spec.method is not None:
        if "order" not in METHODS.get(spec.method.name).takes:
            raise PromptkitError(f"--orders needs demonstrations to order; {spec.label} selects none")
        data["method"].update(order="random", order_seed=seed)
    else:
        selects = [s for s in data["pipeline"] if STAGE_KINDS.get(s["kind"]).orders_demonstrations]
        if not selects:
            raise PromptkitError(
                f"--orders needs demonstrations to order; {spec.label} has no stage that orders demonstrations"
            )
        for s in selects:
            s.update(order="random", order_seed=seed)
    return validate(data, f"order {seed}")


def order_stats(runs: Sequence[tuple[str, list[dict[str, Any]]]]) -> dict[str, Any]:
    """Accuracy per order, its mean and spread, and the examples whose correctness the order flips."""
    accuracies = [sum(r["correct"] for r in rows) / len(rows) if rows else 0.0 for _, rows in runs]
    by_id: dict[str, list[bool]] = {}
    for _, rows in runs:
        for r in rows:
            by_id.setdefault(r["id"], []).append(bool(r["correct"]))
    flips = sorted((i for i, marks in by_id.items() if len(set(marks)) > 1), key=_id_key)
    return {
        "orders": len(runs),
        "runs": [name for name, _ in runs],
        "accuracy": accuracies,
        "mean": statistics.fmean(accuracies) if accuracies else 0.0,
        "min": min(accuracies, default=0.0),
        "max": max(accuracies, default=0.0),
        "std": statistics.stdev(accuracies) if len(accuracies) > 1 else 0.0,
        "flipped": len(flips),
        "flipped_ids": flips,
        "always_right": sum(all(m) for m in by_id.values()),
        "never_right": sum(not any(m) for m in by_id.values()),
    }


def _id_key(value: str) -> tuple[float, str]:
    try:
        return (float(value), value)
    except ValueError:
        return (math.inf, value)


def order_line(stats: dict[str, Any]) -> str:
    return (
        f"{stats['orders']} orders: accuracy mean {stats['mean']:.1%}, min {stats['min']:.1%}, max {stats['max']:.1%}, "
        f"std {stats['std']:.1%}; {stats['flipped']} examples flip with the order "
        f"({stats['always_right']} always right, {stats['never_right']} never)"
    )


# --- the experiments, as library calls --------------------------------------------------------------


def run(
    spec: RunSpec, out: Path | None = None, *, cache: CacheFor | Path | None = None, progress: bool = False
) -> RunResult:
    """One run: checked before the model loads; predictions, summary, resolved spec and page under `out`."""
    built = prepare(spec)
    if out is not None:
        check_out_dir(out)
    with EnginePool(cache, progress=progress) as pool:
        return run_spec(spec, pool.engine(spec), out, progress=progress, built=built)


def compare(
    specs: Sequence[RunSpec], root: Path, *, cache: CacheFor | Path | None = None, progress: bool = False
) -> list[RunSummary]:
    """Each spec run into root/NN-label; compare.md holds the table, and view.html the runs side by side
    when they share a task."""
    builts = [prepare(spec) for spec in specs]
    check_root_dir(root)
    folders = [root / f"{i:02d}-{spec.label}" for i, spec in enumerate(specs)]
    with EnginePool(cache, progress=progress) as pool:
        summaries = [
            run_spec(spec, pool.engine(spec), folder, progress=progress, built=built).summary
            for spec, built, folder in zip(specs, builts, folders)
        ]
    write_text_atomic(root / "compare.md", comparison_table(summaries) + "\n")
    if len({s.task for s in summaries}) == 1:  # runs of one task: side by side, per example
        write_view(folders, root / "view.html")
    return summaries


@dataclass(frozen=True)
class SweepResult:
    fields: list[str]
    rows: list[dict[str, Any]]
    """Per point: its values, its run folder's name and its RunSummary."""
    table: str


def sweep(
    base: Mapping[str, Any],
    assignments: Sequence[str],
    root: Path,
    *,
    make_spec: Callable[[dict[str, Any], str], RunSpec] = lambda data, where: validate(data, where),
    cache: CacheFor | Path | None = None,
    progress: bool = False,
) -> SweepResult:
    """One run per point of the grid `assignments` ('method.shots=0,2,4', ...) over the spec data `base`;
    every point is checked before any model loads. `make_spec(data, label)` turns a point's data into
    a spec (the command line adds its flags and read policy there)."""
    grid = sweep_grid(assignments)
    fields = swept_fields(grid)
    if not fields:
        raise PromptkitError("sweep needs at least one --set field with two or more values (e.g. method.shots=0,2,4)")
    specs = [make_spec(point_data(dict(base), point), point_label(point)) for point in grid]
    builts = [build(spec) for spec in specs]
    check_prompts(builts[0])
    check_root_dir(root)
    rows = []
    with EnginePool(cache, progress=progress) as pool:
        for point, spec, built in zip(grid, specs, builts):
            label = point_label([a for a in point if a.split("=", 1)[0] in fields])
            summary = run_spec(spec, pool.engine(spec), root / label, progress=progress, built=built).summary
            rows.append({"values": {f: point_value(point, f) for f in fields}, "run": label, "summary": summary})
    return SweepResult(fields, rows, write_sweep(root, fields, rows))


def orders(
    spec: RunSpec, k: int, root: Path, *, cache: CacheFor | Path | None = None, progress: bool = False
) -> dict[str, Any]:
    """The same demonstrations in k seeded orders, one run each (root/order-K); orders.json holds the spread."""
    if k < 2:
        raise PromptkitError(f"--orders must be >= 2, got {k}")
    specs = [with_order_seed(spec, seed) for seed in range(k)]
    builts = [build(s) for s in specs]
    check_prompts(builts[0])
    check_root_dir(root)
    runs = []
    with EnginePool(cache, progress=progress) as pool:
        for seed, (s, built) in enumerate(zip(specs, builts)):
            result = run_spec(s, pool.engine(spec), root / f"order-{seed}", progress=progress, built=built)
            runs.append((f"order-{seed}", list(result.rows)))
    stats = order_stats(runs)
    write_text_atomic(root / "orders.json", json.dumps(stats, indent=1) + "\n")
    return stats


def auto_cot_exemplars(
    spec: RunSpec,
    out: Path,
    *,
    pool: str | None = None,
    settings: AutoCoTSettings | None = None,
    cache: CacheFor | Path | None = None,
    progress: bool = False,
) -> AutoCoTResult:
    """Auto-CoT over `pool` (a data file of the spec's task; the spec's own data when None) with the spec's
    engine; the demonstrations are saved as an exemplars file (use it with --pool)."""
    check_output_file("--out", out)
    questions = question_pool(pool, read_definition(spec.task.name) if pool else build_task(spec))
    with EnginePool(cache, progress=progress) as engines:
        engine = engines.engine(spec)
        result = auto_cot(questions, engine, zero_shot_reasoner, settings or AutoCoTSettings())
        write_exemplars(result, f"{questions.source} with {engine.identity.model}", out)
    return result


def comparison_table(summaries: Sequence[RunSummary]) -> str:
    lines = [
        "| task | method | accuracy | 95% CI | n | prompt tokens | completion tokens | engine calls | seconds |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for s in summaries:
        low, high = s.ci95
        lines.append(
            f"| {s.task} | {s.method} | {s.accuracy:.1%} | {low:.1%}-{high:.1%} | {s.n} | "
            f"{s.prompt_tokens} | {s.completion_tokens} | {s.engine_calls} | {s.wall_seconds:.1f} |"
        )
    return "\n".join(lines)
