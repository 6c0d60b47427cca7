"""The chart at the top of a comparison: accuracy per configuration with its interval, each repeat (a seed, an
order) as a dot, and the accuracy before calibration beside it where the runs were calibrated. The viewer draws it
(SVG, in the page) and the report (PNG, in report.md) from the same rows.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from promptkit.runs.metrics import share_interval
from promptkit.runs.records import RunSummary
from promptkit.runs.spread import configuration_of
from promptkit.stages.kinds.score_classes import ACC_UNCALIBRATED

CALIBRATED = "calibrated"
BEFORE_CALIBRATION = "before calibration"
ACCURACY = "accuracy"


@dataclass(frozen=True)
class Series:
    name: str
    """accuracy; or, for calibrated runs, calibrated and before calibration."""
    value: float
    """The run's accuracy, or the mean over the configuration's repeats."""
    low: float
    high: float
    """One run: its 95% Wilson interval. Repeats: their lowest and highest."""
    dots: tuple[float, ...]
    """Each repeat's accuracy (none for a single run)."""


@dataclass(frozen=True)
class ChartRow:
    label: str
    runs: int
    series: tuple[Series, ...]


def chart_rows(named: Sequence[tuple[str, RunSummary]]) -> list[ChartRow]:
    """One row per configuration, in the order first seen; runs whose names differ only in their repeat's part
    (seed-s, order-o) are one configuration."""
    groups: dict[str, list[RunSummary]] = {}
    for name, summary in named:
        groups.setdefault(configuration_of(name) or summary.method, []).append(summary)
    rows = []
    for label, summaries in groups.items():
        calibrated = all(ACC_UNCALIBRATED in s.metrics for s in summaries)
        series = [_series(CALIBRATED if calibrated else ACCURACY, [s.accuracy for s in summaries], summaries)]
        if calibrated:
            before = [float(s.metrics[ACC_UNCALIBRATED]) for s in summaries]
            series.insert(0, _series(BEFORE_CALIBRATION, before, summaries))
        rows.append(ChartRow(label, len(summaries), tuple(series)))
    return rows


def _series(name: str, values: list[float], summaries: list[RunSummary]) -> Series:
    if len(values) == 1:
        n = summaries[0].n
        low, high = share_interval(values[0], n) if n else (0.0, 1.0)
        return Series(name, values[0], low, high, ())
    return Series(name, statistics.fmean(values), min(values), max(values), tuple(values))


def rows_json(rows: Sequence[ChartRow]) -> list[dict[str, Any]]:
    return [asdict(row) for row in rows]


SERIES_COLORS = {BEFORE_CALIBRATION: "#8C8C8C", CALIBRATED: "#4C72B0", ACCURACY: "#4C72B0"}
"""One colour per series, on the page and in the PNG."""
