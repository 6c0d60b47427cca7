"""Small helpers shared by tests."""

from __future__ import annotations

import sqlite3
from pathlib import Path


def cache_rows(path: Path) -> int:
    """Samples stored in a generation cache file so far (0 while it does not exist yet)."""
    try:
        with sqlite3.connect(path, timeout=1) as db:
            return db.execute("SELECT COUNT(*) FROM generations").fetchone()[0]
    except sqlite3.OperationalError:
        return 0


def run_method(task, method: str, engine, extractor: str | None = None, **options):
    """evaluate() over a named method's pipeline, as the library user writes it."""
    from promptkit import build_method, evaluate

    built = build_method(task, method, extractor=extractor, **options)
    return evaluate(task, built.pipeline, engine, built.extractor, method=method)
