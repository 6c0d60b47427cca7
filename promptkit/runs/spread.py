"""Spread over repeats: one configuration run with N demonstration draws (`--seeds`) and K orders
(`--orders`), and the statistics the field reports over them (mean, standard deviation, min, max),
never one lucky number.

A repeat changes one seed of the spec and nothing else: the draw's seed (`selection_seed`, or a
`select_demos` stage's `seed`; the sampling seed for a method that draws no demonstrations) and the
order's seed (`order_seed`, with the order made `random`). Seed s and order o name the run folder
`seed-s-order-o` (or `seed-s`, `order-o` when one axis is absent).
"""

from __future__ import annotations

import math
import re
import statistics
from collections.abc import Sequence
from typing import Any

from promptkit.errors import PromptkitError
from promptkit.runs.records import RunSummary, metric_columns
from promptkit.runspec.files import validate
from promptkit.runspec.methods import METHODS, default_option
from promptkit.runspec.models import RunSpec
from promptkit.stages.stage_kinds import METRICS, STAGE_KINDS

SPREAD_FILE = "spread.json"
_REPEAT_NAME = re.compile(r"(?:^|[\s/_-])(?:seed-\d+(?:-order-\d+)?|order-\d+)$")
"""The part of a run's name that says which repeat it is, as repeat_specs names them."""
_DECLARED = {m.name: m for m in METRICS}


def repeat_specs(spec: RunSpec, seeds: int | None, orders: int | None) -> list[tuple[str, RunSpec]]:
    """(folder name, spec) per repeat: every draw seed crossed with every order seed."""
    for flag, count in (("--seeds", seeds), ("--orders", orders)):
        if count is not None and count < 2:
            raise PromptkitError(f"{flag} must be >= 2, got {count}")
    if orders is not None:
        _check_orders(spec.model_dump(mode="json", exclude_none=True), spec.label, orders)
    repeats = []
    for s in range(seeds) if seeds else [None]:
        for o in range(orders) if orders else [None]:
            name = "-".join(part for part in (f"seed-{s}" * (s is not None), f"order-{o}" * (o is not None)) if part)
            data = spec.model_dump(mode="json", exclude_none=True, exclude_unset=True)
            if s is not None:
                _set_draw_seed(data, spec.label, s)
            if o is not None:
                _set_order_seed(data, spec.label, o)
            repeats.append((name, validate(data, name)))
    return repeats


def configuration_of(name: str) -> str:
    """A run's name without its repeat's part (seed-s, order-o, seed-s-order-o): what the repeats share."""
    return _REPEAT_NAME.sub("", name).strip()


def _check_orders(data: dict[str, Any], label: str, orders: int) -> None:
    """More orders than k demonstrations have (k!) would run some order twice and count it as another."""
    method = data.get("method")
    if method is not None:
        shots = method.get("shots")
    else:
        counts = [s["k"] for s in _ordering_stages(data) if isinstance(s.get("k"), int)]
        shots = min(counts) if counts else None
    if isinstance(shots, int) and orders > math.factorial(shots):
        raise PromptkitError(
            f"--orders {orders}: {label} has {shots} demonstrations, which have only {math.factorial(shots)} orders"
        )


def _ordering_stages(data: dict[str, Any]) -> list[dict[str, Any]]:
    return [s for s in data.get("pipeline", []) if STAGE_KINDS.get(s["kind"]).orders_demonstrations]


def _select_stages(data: dict[str, Any], flag: str, label: str, what: str) -> list[dict[str, Any]]:
    stages = _ordering_stages(data)
    if not stages:
        raise PromptkitError(f"{flag} needs demonstrations to {what}; {label} has no stage that selects them")
    return stages


def _set_draw_seed(data: dict[str, Any], label: str, seed: int) -> None:
    method = data.get("method")
    if method is None:
        stages = _select_stages(data, "--seeds", label, "draw")
        if all(s.get("strategy", "fixed") == "fixed" for s in stages):
            raise PromptkitError(f"--seeds draws demonstrations N ways; {label} takes a fixed set (strategy: fixed)")
        for s in stages:
            s["seed"] = seed
        return
    takes = METHODS.get(method["name"]).takes
    selector = method.get("selector", default_option(method["name"], "selector"))
    draws = "selection_seed" in takes and selector != "fixed"
    if draws:
        method["selection_seed"] = seed
    elif "seed" in takes and (method.get("temperature") or 0) > 0:
        method["seed"] = seed  # no demonstrations drawn: the samples are what a seed changes
    else:
        raise PromptkitError(
            f"--seeds: {label} neither draws demonstrations (a selector other than 'fixed') nor samples "
            "(temperature > 0), so every seed would give the same run"
        )


def _set_order_seed(data: dict[str, Any], label: str, seed: int) -> None:
    method = data.get("method")
    if method is None:
        for s in _select_stages(data, "--orders", label, "order"):
            s.update(order="random", order_seed=seed)
        return
    if "order" not in METHODS.get(method["name"]).takes:
        raise PromptkitError(f"--orders needs demonstrations to order; {label} selects none")
    method.update(order="random", order_seed=seed)


def spread_stats(
    runs: Sequence[tuple[str, Sequence[dict[str, Any]], RunSummary]],
    *,
    seeds: int | None = None,
    orders: int | None = None,
) -> dict[str, Any]:
    """Accuracy per run, its mean and spread, the same for each one-number metric the runs share, and the
    examples whose correctness changes from run to run."""
    accuracies = [sum(bool(r.get("correct")) for r in rows) / len(rows) if rows else 0.0 for _, rows, _ in runs]
    by_id: dict[str, list[bool]] = {}
    for _, rows, _ in runs:
        for r in rows:
            by_id.setdefault(str(r["id"]), []).append(bool(r.get("correct")))
    flips = sorted((i for i, marks in by_id.items() if len(set(marks)) > 1), key=_id_key)
    summaries = [summary for _, _, summary in runs]
    metrics = {
        m.name: _described([float(s.metrics[m.name]) for s in summaries])
        for m in metric_columns(summaries)
        if all(m.name in s.metrics for s in summaries)
    }
    return {
        "seeds": seeds,
        "orders": orders,
        "runs": [name for name, _, _ in runs],
        "accuracy": accuracies,
        **_described(accuracies),
        "metrics": metrics,
        "flipped": len(flips),
        "flipped_ids": flips,
        "always_right": sum(all(m) for m in by_id.values()),
        "never_right": sum(not any(m) for m in by_id.values()),
    }


def _described(values: Sequence[float]) -> dict[str, float]:
    return {
        "mean": statistics.fmean(values) if values else 0.0,
        "std": statistics.stdev(values) if len(values) > 1 else 0.0,  # the sample's, as papers report
        "min": min(values, default=0.0),
        "max": max(values, default=0.0),
    }


def _id_key(value: str) -> tuple[float, str]:
    try:
        return (float(value), value)
    except ValueError:
        return (math.inf, value)


def axes_text(stats: dict[str, Any]) -> str:
    """'5 seeds x 24 orders' ..."""
    parts = [f"{stats[k]} {k}" for k in ("seeds", "orders") if stats.get(k)]
    return " x ".join(parts) or f"{len(stats['accuracy'])} runs"


def show(name: str, value: float) -> str:
    """A figure as the tables print it: accuracy and shares as percentages, other metrics as their stage shows them."""
    metric = _DECLARED.get(name)
    return metric.show(value) if metric is not None else f"{value:.1%}"


def mean_std(name: str, d: dict[str, float]) -> str:
    return f"{show(name, d['mean'])} ± {show(name, d['std'])}"


def described(name: str, d: dict[str, float]) -> str:
    return f"{mean_std(name, d)} (std), min {show(name, d['min'])}, max {show(name, d['max'])}"


def spread_line(stats: dict[str, Any]) -> str:
    metrics = "".join(f"; {name} {mean_std(name, d)}" for name, d in stats.get("metrics", {}).items())
    return (
        f"{axes_text(stats)}: accuracy {described('accuracy', stats)}{metrics}; {stats['flipped']} examples change "
        f"with the run ({stats['always_right']} always right, {stats['never_right']} never)"
    )
