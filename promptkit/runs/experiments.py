"""Runs and experiments over specs, as library calls (the command line is a thin layer over these).

`run` one spec; `compare` several on one table; `sweep` one run per point of a grid of spec values;
`repeats` one spec over N demonstration draws and K orders (`orders` the latter alone); `auto_cot_exemplars` demonstrations the model
writes. Each checks every spec before any model loads, shares one engine per distinct engine spec
(`EnginePool`), and writes run folders whole; what an experiment adds is its folder layout and the
statistics beside the runs (sweep.json, spread.json), which `report` turns into plots.
"""

from __future__ import annotations

import copy
import itertools
import json
from collections.abc import Callable, Mapping, Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from promptkit.errors import PromptkitError
from promptkit.files.atomic import check_out_dir, check_root_dir, write_text_atomic
from promptkit.files.claim import claimed
from promptkit.files.paths import check_output_file
from promptkit.runs.build import build, build_task, check_prompts, prepare, run_spec, zero_shot_reasoner
from promptkit.runs.evaluate import RunResult
from promptkit.runs.pool import CacheFor, EnginePool
from promptkit.runs.records import RunSummary, metric_cell, metric_columns, read_summary
from promptkit.runs.spread import SPREAD_FILE, mean_std, repeat_specs, spread_stats
from promptkit.runs.view import write_view
from promptkit.runspec.files import set_dotted, validate
from promptkit.runspec.models import RunSpec
from promptkit.stages.library.auto_cot_build import AutoCoTResult, AutoCoTSettings, auto_cot, write_exemplars
from promptkit.stages.library.demo_pools import question_pool
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
    """sweep.json (for report) and sweep.md (the table, also returned); each row's summary is a RunSummary,
    and a row of repeats has its spread: the table then gives mean ± std, min and max over them."""
    points = [{**r, "summary": r["summary"].model_dump(mode="json", exclude_none=True)} for r in rows]
    write_text_atomic(out / "sweep.json", json.dumps({"fields": fields, "points": points}, indent=1) + "\n")
    extra = metric_columns([r["summary"] for r in rows])
    spread = all("spread" in r for r in rows)
    figures = ["accuracy mean ± std", "min", "max", "runs"] if spread else ["accuracy", "95% CI"]
    header = [*fields, *figures, "n", *(m.heading for m in extra), "run"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for r in rows:
        s = r["summary"]
        cells = [*(str(r["values"].get(f)) for f in fields), *_figure_cells(r), str(s.n),
                 *(_spread_cell(r, m) for m in extra), r["run"]]  # fmt: skip
        lines.append("| " + " | ".join(cells) + " |")
    table = "\n".join(lines)
    (out / "sweep.md").write_text(table + "\n", encoding="utf-8")
    return table


def _figure_cells(row: dict[str, Any]) -> list[str]:
    if "spread" in row:
        st = row["spread"]
        return [mean_std("accuracy", st), f"{st['min']:.1%}", f"{st['max']:.1%}", str(len(st["runs"]))]
    s = row["summary"]
    low, high = s.ci95
    return [f"{s.accuracy:.1%}", f"{low:.1%}-{high:.1%}"]


def _spread_cell(row: dict[str, Any], metric: Any) -> str:
    """A metric's cell: its mean ± std over the repeats where the row has them, else the run's value."""
    spread = row.get("spread", {}).get("metrics", {}).get(metric.name)
    return metric_cell(row["summary"], metric) if spread is None else mean_std(metric.name, spread)


# --- the experiments, as library calls --------------------------------------------------------------


def run(
    spec: RunSpec, out: Path | None = None, *, cache: CacheFor | Path | None = None, progress: bool = False
) -> RunResult:
    """One run: checked before the model loads; predictions, summary, resolved spec and page under `out`."""
    built = prepare(spec)
    if out is not None:
        check_out_dir(out)
    with claimed(out) if out is not None else nullcontext(), EnginePool(cache, progress=progress) as pool:
        return run_spec(spec, pool.engine(spec), out, progress=progress, built=built)


def compare(
    specs: Sequence[RunSpec], root: Path, *, cache: CacheFor | Path | None = None, progress: bool = False
) -> list[RunSummary]:
    """Each spec run into root/NN-label; compare.md holds the table, and view.html the runs side by side
    when they share a task."""
    builts = [prepare(spec) for spec in specs]
    check_root_dir(root)
    folders = [root / f"{i:02d}-{spec.label}" for i, spec in enumerate(specs)]
    with claimed(root), EnginePool(cache, progress=progress) as pool:
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
    seeds: int | None = None,
    orders: int | None = None,
    cache: CacheFor | Path | None = None,
    progress: bool = False,
) -> SweepResult:
    """One run per point of the grid `assignments` ('method.shots=0,2,4', ...) over the spec data `base`;
    every point is checked before any model loads. `make_spec(data, label)` turns a point's data into
    a spec (the command line adds its flags and read policy there). With `seeds` or `orders`, each point
    is that many repeats (see `repeats`) and its row carries their spread."""
    grid = sweep_grid(assignments)
    fields = swept_fields(grid)
    if not fields:
        raise PromptkitError("sweep needs at least one --set field with two or more values (e.g. method.shots=0,2,4)")
    specs = [make_spec(point_data(dict(base), point), point_label(point)) for point in grid]
    repeated = seeds is not None or orders is not None
    named = [repeat_specs(spec, seeds, orders) if repeated else [("", spec)] for spec in specs]
    builts = [[build(s) for _, s in point] for point in named]
    check_prompts(builts[0][0])
    check_root_dir(root)
    rows = []
    with claimed(root), EnginePool(cache, progress=progress) as pool:
        for point, repeats_, built in zip(grid, named, builts):
            label = point_label([a for a in point if a.split("=", 1)[0] in fields])
            row: dict[str, Any] = {"values": {f: point_value(point, f) for f in fields}, "run": label}
            if repeated:
                row["spread"] = run_repeats(repeats_, built, pool, root / label, seeds=seeds, orders=orders,
                                             progress=progress)  # fmt: skip
                row["summary"] = read_summary(root / label / repeats_[0][0] / "summary.json")
            else:
                spec = repeats_[0][1]
                row["summary"] = run_spec(spec, pool.engine(spec), root / label, progress=progress,
                                          built=built[0]).summary  # fmt: skip
            rows.append(row)
    return SweepResult(fields, rows, write_sweep(root, fields, rows))


def repeats(
    spec: RunSpec,
    root: Path,
    *,
    seeds: int | None = None,
    orders: int | None = None,
    cache: CacheFor | Path | None = None,
    progress: bool = False,
) -> dict[str, Any]:
    """The spec with `seeds` demonstration draws crossed with `orders` orders, one run folder each under
    root; spread.json holds mean, std, min and max over them, view.html shows the runs side by side."""
    named = repeat_specs(spec, seeds, orders)
    builts = [build(s) for _, s in named]
    check_prompts(builts[0])
    check_root_dir(root)
    with claimed(root), EnginePool(cache, progress=progress) as pool:
        stats = run_repeats(named, builts, pool, root, seeds=seeds, orders=orders, progress=progress)
    return stats


def run_repeats(
    named: list[tuple[str, RunSpec]],
    builts: list[Any],
    pool: EnginePool,
    root: Path,
    *,
    seeds: int | None,
    orders: int | None,
    progress: bool,
) -> dict[str, Any]:
    runs = []
    for (name, s), built in zip(named, builts):
        result = run_spec(s, pool.engine(s), root / name, progress=progress, built=built)
        runs.append((name, list(result.rows), result.summary))
    stats = spread_stats(runs, seeds=seeds, orders=orders)
    write_text_atomic(root / SPREAD_FILE, json.dumps(stats, indent=1) + "\n")
    write_view([root / name for name, _ in named], root / "view.html", spread=stats)
    return stats


def orders(
    spec: RunSpec, k: int, root: Path, *, cache: CacheFor | Path | None = None, progress: bool = False
) -> dict[str, Any]:
    """The same demonstrations in k seeded orders (root/order-K): `repeats` with orders alone."""
    return repeats(spec, root, orders=k, cache=cache, progress=progress)


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
