"""A Markdown report with PNG plots from run folders (each holding summary.json)."""

from __future__ import annotations

import itertools
import json
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from promptkit.errors import PromptkitError
from promptkit.files.search_log import SUFFIX as SEARCH_SUFFIX
from promptkit.files.search_log import read_log, search_curve
from promptkit.runs.comparison import ACCURACY, BEFORE_CALIBRATION, CALIBRATED, SERIES_COLORS, ChartRow, chart_rows
from promptkit.runs.records import (
    R,
    RunSummary,
    SpreadRecord,
    SweepRecord,
    metric_cell,
    metric_columns,
    read_record,
    read_summary,
)
from promptkit.runs.spread import SPREAD_FILE, configuration_of
from promptkit.runspec.methods import ABLATION_OPTIONS
from promptkit.stages.stage_kinds import METRICS

COLORS = ("#C44E52", "#4C72B0", "#55A868", "#8172B3", "#CCB974", "#64B5CD")


def find_runs(paths: Sequence[Path], *, required: bool = True) -> list[tuple[Path, RunSummary]]:
    runs = []
    for path in paths:
        if not path.exists():
            raise PromptkitError(f"run folder not found: {path}")
        for summary in sorted(path.rglob("summary.json")) if path.is_dir() else []:
            if any(part.startswith(".") for part in summary.relative_to(path).parts):
                continue  # a staging folder a kill left behind, never a run
            runs.append((summary.parent, read_summary(summary)))
    if not runs and required:
        raise PromptkitError(f"no summary.json under {', '.join(str(p) for p in paths)} (nor a search log)")
    return runs


def find_searches(paths: Sequence[Path]) -> list[tuple[Path, dict[str, Any], list[tuple[int, float]]]]:
    """Search logs (`promptkit tune`'s searches): given, or under the folders given; each with its curve."""
    files = [p for p in paths if p.is_file() and p.name.endswith(SEARCH_SUFFIX)]
    files += [f for p in paths if p.is_dir() for f in sorted(p.rglob("*" + SEARCH_SUFFIX))]
    found = []
    for file in files:
        header, entries = read_log(file)
        criterion = str(header.get("settings", {}).get("criterion", "dev"))
        found.append((file, header, search_curve(entries, criterion)))
    return found


def plot_searches(searches: Sequence[tuple[Path, dict[str, Any], list[tuple[int, float]]]], path: Path) -> None:
    """The best score found so far against the engine calls spent, a line per search."""
    fig, ax = new_figure((6.5, 4.2))
    for i, (file, header, curve) in enumerate(searches):
        label = f"{file.name.removesuffix(SEARCH_SUFFIX)}: {header['settings']['method']} ({header['task']})"
        ax.step([c for c, _ in curve], [100 * v for _, v in curve], where="post", label=label,
                color=COLORS[i % len(COLORS)])  # fmt: skip
    ax.set_xlabel("engine calls spent")
    ax.set_ylabel("best development score so far (%)")
    ax.set_title("Prompt search: what each call bought")
    ax.legend(fontsize=7)
    save_figure(fig, path)


def _label(s: RunSummary) -> str:
    model = Path(str(s.model or "")).name or str(s.model)
    return f"{s.method} ({model})"


def _error_bars(summaries: Sequence[RunSummary]) -> list[list[float]]:
    return [
        [100 * (s.accuracy - s.ci95[0]) for s in summaries],
        [100 * (s.ci95[1] - s.accuracy) for s in summaries],
    ]


def new_figure(size: tuple[float, float], **grid: Any) -> tuple[Any, Any]:
    """A figure and its axes for a PNG file, as every plot here begins (`grid`: plt.subplots's ncols, ...)."""
    import matplotlib.pyplot as plt

    return plt.subplots(figsize=size, **grid)


def save_figure(fig: Any, path: Path) -> None:
    """Every plot's ending: laid out, written as a PNG, and its figure freed."""
    import matplotlib.pyplot as plt

    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _run_name(folder: Path) -> str:
    """A run's name for grouping: a repeat's folder (seed-0) with the configuration folder holding it."""
    return folder.name if configuration_of(folder.name) else f"{folder.parent.name}/{folder.name}"


def plot_rows(rows: Sequence[ChartRow], path: Path) -> None:
    """The page's chart as a PNG: a row per configuration, each series a marker with its interval, repeats as dots."""
    fig, ax = new_figure((7, 0.55 * len(rows) + 1.3))
    offsets = {BEFORE_CALIBRATION: 0.15, CALIBRATED: -0.15, ACCURACY: 0.0}
    seen: set[str] = set()
    for y, row in enumerate(rows):
        for s in row.series:
            at = y + offsets[s.name]
            color = SERIES_COLORS[s.name]
            ax.plot([100 * s.low, 100 * s.high], [at, at], color=color, lw=1.5)
            ax.plot([100 * d for d in s.dots], [at] * len(s.dots), "o", color=color, ms=4, alpha=0.6)
            label = s.name if s.name not in seen else None
            seen.add(s.name)
            ax.plot([100 * s.value], [at], "D", color=color, ms=7, label=label)
    ax.set_yticks(range(len(rows)), [f"{r.label} ({r.runs} runs)" if r.runs > 1 else r.label for r in rows])
    ax.invert_yaxis()
    ax.set_xlim(0, 100)
    ax.set_xlabel("accuracy (%): one run with its 95% interval; repeats as dots, their mean, lowest to highest")
    ax.legend(loc="lower right", fontsize=8)
    save_figure(fig, path)


def plot_by_method(runs: list[tuple[Path, RunSummary]], path: Path) -> None:
    fig, ax = new_figure((max(5, 0.9 * len(runs)), 4.5))
    labels = [f"{folder.name}\n{s.task} {s.method}" for folder, s in runs]
    summaries = [s for _, s in runs]
    ax.bar(range(len(summaries)), [100 * s.accuracy for s in summaries], yerr=_error_bars(summaries), capsize=4,
           color="#4C72B0")  # fmt: skip
    ax.set_xticks(range(len(summaries)), labels, rotation=30, ha="right", fontsize=8)
    ax.set_ylabel("accuracy (%), 95% interval")
    ax.set_ylim(0, 100)
    ax.set_title("Accuracy by method")
    save_figure(fig, path)


def plot_lines(series: dict[str, list[tuple[float, RunSummary]]], xlabel: str, title: str, path: Path) -> None:
    from matplotlib.ticker import MaxNLocator

    fig, ax = new_figure((6, 4))
    for name, points in sorted(series.items()):
        points.sort(key=lambda p: p[0])
        xs, summaries = [p[0] for p in points], [p[1] for p in points]
        ax.errorbar(
            xs, [100 * s.accuracy for s in summaries], yerr=_error_bars(summaries), marker="o", capsize=3, label=name
        )
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel(xlabel)
    ax.set_ylabel("accuracy (%), 95% interval")
    ax.set_ylim(0, 100)
    ax.set_title(title)
    ax.legend(fontsize=8)
    save_figure(fig, path)


ABLATIONS = ABLATION_OPTIONS


def ablation_label(s: RunSummary) -> str | None:
    """'answers=random' (or 'gold') for runs that record ablation options; None for others."""
    options = s.options
    if not any(k in options for k in ABLATIONS):
        return None
    changed = [f"{k.removeprefix('demo_')}={options[k]}" for k in ABLATIONS if options.get(k, "gold") != "gold"]
    return ", ".join(changed) or "gold"


def plot_bars(labels: list[str], summaries: list[RunSummary], title: str, path: Path) -> None:
    fig, ax = new_figure((max(5, 1.1 * len(labels)), 4.5))
    ax.bar(range(len(labels)), [100 * s.accuracy for s in summaries], yerr=_error_bars(summaries), capsize=4,
           color="#55A868")  # fmt: skip
    ax.set_xticks(range(len(labels)), labels, rotation=20, ha="right", fontsize=8)
    ax.set_ylabel("accuracy (%), 95% interval")
    ax.set_ylim(0, 100)
    ax.set_title(title, fontsize=9)
    save_figure(fig, path)


def plot_sweep(sweep: SweepRecord, title: str, path: Path) -> None:
    """Accuracy against the first swept field, one line per value of the others (a grid); each point
    says how many demonstrations were used."""
    field, others = sweep.fields[0], sweep.fields[1:]
    values = [p.values[field] for p in sweep.points]
    numeric = all(isinstance(v, int | float) and not isinstance(v, bool) for v in values)
    order = {v: k for k, v in enumerate(dict.fromkeys(values))}
    lines: dict[str, list[tuple[Any, RunSummary]]] = {}
    for point in sweep.points:
        name = ", ".join(f"{f}={point.values[f]}" for f in others)
        lines.setdefault(name, []).append((point.values[field], point.summary))
    fig, ax = new_figure((6.5, 4.2))
    if all(p.spread is not None for p in sweep.points):
        _sweep_boxes(ax, sweep, [order[v] for v in values] if not numeric else values, others)
        lines = {}
    for name, line in lines.items():
        xs = [v if numeric else order[v] for v, _ in line]
        summaries = [s for _, s in line]
        ys = [100 * s.accuracy for s in summaries]
        ax.errorbar(xs, ys, yerr=_error_bars(summaries), marker="o", capsize=3, label=name or None)
        extra = metric_columns(summaries)
        for x, y, s in zip(xs, ys, summaries):
            note = ", ".join(f"{metric_cell(s, m)} {m.heading}" for m in extra if metric_cell(s, m))
            if note:
                ax.annotate(note, (x, y), textcoords="offset points", xytext=(0, 8), ha="center", fontsize=7)
    if not numeric:
        ax.set_xticks(list(order.values()), [str(v) for v in order])
    elif all(isinstance(v, int) for v in values):
        ax.set_xticks(sorted(set(values)))
    if ax.get_legend_handles_labels()[1]:
        ax.legend(fontsize=8)
    ax.set_xlabel(field)
    spread = all(p.spread is not None for p in sweep.points)
    ax.set_ylabel("accuracy (%) per run (seed, order)" if spread else "accuracy (%), 95% interval")
    ax.set_ylim(0, 100)
    ax.set_title(title)
    save_figure(fig, path)


def _sweep_boxes(ax: Any, sweep: SweepRecord, xs: list[Any], others: list[str]) -> None:
    """Points that are repeats: a box and the runs' dots per point, the means joined per line of the grid."""
    names = [", ".join(f"{f}={p.values[f]}" for f in others) for p in sweep.points]
    distinct = sorted(set(xs))
    gap = min((b - a for a, b in itertools.pairwise(distinct)), default=1)
    lines = list(dict.fromkeys(names))
    width = 0.7 * gap / len(lines)
    for k, (line, color) in enumerate(zip(lines, itertools.cycle(COLORS))):
        at = [(x + (k - (len(lines) - 1) / 2) * width, p.spread) for x, p, n in zip(xs, sweep.points, names)
              if n == line and p.spread is not None]  # fmt: skip
        # The other accuracies every point measured (before calibration, length-normalised): mean ± std, dashed.
        shared = set.intersection(*(set(st.metrics) for _, st in at)) if at else set()
        others_acc = sorted(m for m in shared if m.startswith("acc_"))
        _boxes(ax, [x for x, _ in at], [st.accuracy for _, st in at], width=0.8 * width, color=color)
        ax.plot([x for x, _ in at], [100 * st.mean for _, st in at], marker="o", color=color,
                label=line or ("accuracy" if others_acc else None))  # fmt: skip
        for name, style in zip(others_acc, ("--", ":", "-.")):
            described = [st.metrics[name] for _, st in at]
            ax.errorbar([x for x, _ in at], [100 * d.mean for d in described], yerr=[100 * d.std for d in described],
                        color=color, linestyle=style, marker="x", capsize=2, alpha=0.7,
                        label=f"{line}: {name}" if line else name)  # fmt: skip


def plot_spread(studies: list[tuple[str, SpreadRecord]], path: Path) -> None:
    """A box per configuration over its runs (seeds, orders), each run a dot beside it."""
    fig, ax = new_figure((max(4.5, 1.4 * len(studies)), 4.2))
    _boxes(ax, list(range(1, len(studies) + 1)), [st.accuracy for _, st in studies])
    ax.set_xticks(range(1, len(studies) + 1), [name for name, _ in studies], rotation=15, ha="right", fontsize=8)
    ax.set_ylabel("accuracy (%) per run (seed, order)")
    ax.set_ylim(0, 100)
    ax.set_title("Spread over seeds and orders")
    save_figure(fig, path)


def _boxes(ax: Any, xs: list[float], runs: list[list[float]], width: float = 0.5, color: str = "#C44E52") -> None:
    ax.boxplot([[100 * a for a in accuracies] for accuracies in runs], positions=xs, widths=width,
               manage_ticks=False)  # fmt: skip
    for x, accuracies in zip(xs, runs):
        ax.scatter([x] * len(accuracies), [100 * a for a in accuracies], s=12, alpha=0.6, color=color)


def _experiment_files(paths: Sequence[Path], name: str, model: type[R]) -> list[tuple[Path, R]]:
    found = []
    for path in paths:
        for file in sorted(path.rglob(name)) if path.is_dir() else []:
            if not any(part.startswith(".") for part in file.relative_to(path).parts):
                found.append((file.parent, read_record(file, model)))
    return found


def write_report(paths: Sequence[Path], out: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")  # files only, no display
    searches = find_searches(paths)
    runs = find_runs(paths, required=not searches)
    # Every record is read (and checked) before anything is written: a bad one leaves no half report.
    sweeps = _experiment_files(paths, "sweep.json", SweepRecord)
    # A sweep's points are drawn with their sweep; orders.json: what --orders wrote before --seeds.
    studies = [(folder.name, st) for name in (SPREAD_FILE, "orders.json")
               for folder, st in _experiment_files(paths, name, SpreadRecord)
               if not (folder.parent / "sweep.json").is_file()]  # fmt: skip
    out.mkdir(parents=True, exist_ok=True)
    lines = ["# promptkit report", "", *_search_section(searches, out)]
    if runs:
        lines += _runs_sections(runs, sweeps, studies, paths, out)
    report = out / "report.md"
    report.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return report


def _search_section(searches, out: Path) -> list[str]:
    if not searches:
        return []
    plot_searches(searches, out / "search.png")
    lines = ["## Prompt searches", "", "| log | method | task | calls | best score |", "|---|---|---|---|---|"]
    for file, header, curve in searches:
        best = f"{curve[-1][1]:.1%}" if curve else ""
        lines.append(f"| {file.name} | {header['settings']['method']} | {header['task']} | "
                     f"{curve[-1][0] if curve else 0} | {best} |")  # fmt: skip
    return [*lines, "", "![Best development score against calls](search.png)", ""]


def _runs_sections(runs, sweeps, studies, paths, out: Path) -> list[str]:
    summaries = [s for _, s in runs]
    lines = [f"{len(runs)} runs.", ""]
    extra = metric_columns(summaries)  # the figures the runs' stages computed
    header = ["run", "task", "method", "model", "accuracy", "95% CI", "n", *(m.heading for m in extra),
              "engine calls", "prompt tokens", "completion tokens", "seconds"]  # fmt: skip
    lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for folder, s in runs:
        low, high = s.ci95
        task = s.task if s.measure == "accuracy" else f"{s.task} ({s.measure})"
        cells = [folder.name, task, s.method, str(s.model), f"{s.accuracy:.1%}", f"{low:.1%}-{high:.1%}", str(s.n),
                 *(metric_cell(s, m) for m in extra), str(s.engine_calls), str(s.prompt_tokens),
                 str(s.completion_tokens), f"{s.wall_seconds:.1f}"]  # fmt: skip
        lines.append("| " + " | ".join(cells) + " |")
    plot_rows(chart_rows([(_run_name(folder), s) for folder, s in runs]), out / "comparison.png")
    lines += ["", "![Accuracy per configuration, repeats grouped](comparison.png)"]
    lines += _curves(runs)
    plot_by_method(runs, out / "accuracy_by_method.png")
    lines += ["", "![Accuracy by method](accuracy_by_method.png)"]

    by_shots: dict[str, list] = defaultdict(list)
    by_length: dict[str, list] = defaultdict(list)
    for s in summaries:
        shots = s.options.get("shots")
        if shots is not None:
            by_shots[f"{s.task} {_label(s)}"].append((shots, s))
        words = s.task_meta.get("words")
        if s.task == "last_letters" and words is not None:
            by_length[_label(s)].append((words, s))
    if any(len({x for x, _ in pts}) > 1 for pts in by_shots.values()):
        plot_lines(by_shots, "demonstrations (shots)", "Accuracy by number of shots", out / "accuracy_by_shots.png")
        lines += ["", "![Accuracy by number of shots](accuracy_by_shots.png)"]
    if any(len({x for x, _ in pts}) > 1 for pts in by_length.values()):
        plot_lines(by_length, "words per question", "Last letters: accuracy by length", out / "accuracy_by_length.png")
        lines += ["", "![Last letters: accuracy by length](accuracy_by_length.png)"]
    lines += _experiment_sections(sweeps, studies, runs, out)
    return lines


def _curves(runs: list[tuple[Path, RunSummary]]) -> list[str]:
    """Curve metrics (maj@k), a line per run that has one."""
    lines: list[str] = []
    for metric in (m for m in METRICS if m.curve):
        having = [(folder, s.metrics.get(metric.name)) for folder, s in runs if s.metrics.get(metric.name)]
        if having:
            lines += ["", f"{metric.heading} ({metric.description}):", ""]
            lines += [f"- {folder.name}: {metric.show(value)}" for folder, value in having]
    return lines


def _experiment_sections(
    sweeps: list[tuple[Path, SweepRecord]],
    studies: list[tuple[str, SpreadRecord]],
    runs: list[tuple[Path, RunSummary]],
    out: Path,
) -> list[str]:
    lines: list[str] = []
    for i, (folder, sweep) in enumerate(sweeps):
        name = f"sweep_{i}.png"
        title = f"{sweep.points[0].summary.task} {sweep.points[0].summary.method}: " if sweep.points else ""
        plot_sweep(sweep, f"{title}{folder.name}", out / name)
        lines += ["", f"## Sweep: {folder.name} ({', '.join(sweep.fields)})", "", f"![sweep]({name})"]
    if studies:
        plot_spread(studies, out / "spread.png")
        lines += ["", "## Spread over seeds and orders", ""]
        lines += [f"- {name}: mean {st.mean:.1%} ± {st.std:.1%} (std), min {st.min:.1%}, max {st.max:.1%} over "
                  f"{len(st.accuracy)} runs, {st.flipped} examples change" for name, st in studies]  # fmt: skip
        lines += ["", "![Spread over seeds and orders](spread.png)"]
    # Runs that differ only in their ablation settings share a chart; one bar per setting.
    groups: dict[tuple[str, str], dict[str, RunSummary]] = defaultdict(dict)
    for _, s in runs:
        label = ablation_label(s)
        if label is not None:
            rest = {k: v for k, v in s.options.items() if k not in ABLATIONS}
            key = (f"{s.task} {_label(s)}", json.dumps(rest, sort_keys=True, default=str))
            groups[key].setdefault(label, s)
    charts = [(name, bars) for (name, _), bars in sorted(groups.items()) if len(bars) > 1]
    for i, (group, bars) in enumerate(charts):
        items = sorted(bars.items(), key=lambda item: (item[0] != "gold", item[0]))
        name = f"ablations_{i}.png"
        plot_bars([label for label, _ in items], [s for _, s in items], f"Demonstration ablations: {group}", out / name)
        lines += ["", f"## Demonstration ablations: {group}", "", f"![ablations]({name})"]
    return lines
