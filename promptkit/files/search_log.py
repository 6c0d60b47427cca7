"""The search log's file format (what `promptkit tune`'s searches write, `promptkit report` draws): JSON Lines,
a header line {"search": {...}}, then one line per piece of work with the calls spent so far."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from promptkit.errors import PromptkitError

SUFFIX = ".search.jsonl"


def log_path(spec: Path) -> Path:
    """best.yaml -> best.search.jsonl"""
    return spec.with_name(spec.stem + SUFFIX)


def read_log(path: Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A finished or unfinished search log: its header and entries (a line a kill cut short is left out)."""
    rows = []
    lines = path.read_text(encoding="utf-8").splitlines()
    for i, line in enumerate(lines):
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            if i < len(lines) - 1:
                raise PromptkitError(f"{path}: line {i + 1} is not JSON") from None
    if not rows or not isinstance(rows[0], dict) or not isinstance(rows[0].get("search"), dict):
        raise PromptkitError(f"{path}: not a search log (its first line is not a search header)")
    return rows[0]["search"], rows[1:]


def search_curve(entries: list[dict[str, Any]], criterion: str = "dev") -> list[tuple[int, float]]:
    """(calls spent, best score so far on the most examples scored yet), after each candidate scored.
    A score on more examples replaces one on fewer: successive halving's leaders end the curve."""
    best: tuple[int, float] | None = None
    points = []
    for e in entries:
        if "candidate" not in e:
            continue
        value = float(e[criterion] if criterion != "dev" else e["score"])
        key = (int(e.get("examples", 0)), value)
        if best is None or key > best:
            best = key
        points.append((int(e["spent"]), best[1]))
    return points
