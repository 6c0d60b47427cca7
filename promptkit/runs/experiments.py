"""Experiments over specs: sweeps (one run per point of a grid) and order sensitivity (K orders).

Both only rewrite spec data and run the specs as `run` would; what they add is the grid, the
folder layout (one run folder per point) and the statistics written beside them (sweep.json,
orders.json), which `report` turns into plots.
"""

from __future__ import annotations

import copy
import itertools
import json
import math
import statistics
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from promptkit.errors import PromptkitError
from promptkit.spec.files import set_dotted, validate
from promptkit.spec.models import RunSpec
from promptkit.spec.presets import PRESETS


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
    """sweep.json (for report) and sweep.md (the table, also returned)."""
    (out / "sweep.json").write_text(json.dumps({"fields": fields, "points": rows}, indent=1) + "\n", encoding="utf-8")
    header = [*fields, "accuracy", "95% CI", "n", "demonstrations used", "run"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for r in rows:
        s = r["summary"]
        low, high = s["ci95"]
        used = s.get("demos_used_mean")
        cells = [*(str(r["values"].get(f)) for f in fields), f"{s['accuracy']:.1%}", f"{low:.1%}-{high:.1%}",
                 str(s["n"]), "" if used is None else f"{used:.1f}", r["run"]]  # fmt: skip
        lines.append("| " + " | ".join(cells) + " |")
    table = "\n".join(lines)
    (out / "sweep.md").write_text(table + "\n", encoding="utf-8")
    return table


# --- order sensitivity ---------------------------------------------------------------------------


def with_order_seed(spec: RunSpec, seed: int) -> RunSpec:
    """The spec with its demonstrations in a seeded random order; which demonstrations stays the same."""
    data = spec.model_dump(mode="json", exclude_none=True, exclude_unset=True)
    if spec.method is not None:
        if "order" not in PRESETS.get(spec.method.name).takes:
            raise PromptkitError(f"--orders needs demonstrations to order; {spec.label} selects none")
        data["method"].update(order="random", order_seed=seed)
    else:
        selects = [s for s in data["pipeline"] if s["kind"] == "select_demos"]
        if not selects:
            raise PromptkitError(f"--orders needs demonstrations to order; {spec.label} has no select_demos stage")
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
