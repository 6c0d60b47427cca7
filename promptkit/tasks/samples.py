"""Samples of a task's data that ship inside promptkit, so a first run needs no network (`promptkit demo`).

A sample is a folder in the task's own layout (samples/NAME/, read with --data) holding the first examples of the
task's standard set, in order, and a pool to draw demonstrations from; SOURCE.json says where each file came from
and its SHA-256, checked before use. evals/make_samples.py writes them.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from promptkit.errors import PromptkitError

SAMPLES_DIR = Path(__file__).with_name("samples")
SOURCE_FILE = "SOURCE.json"


def sample_folder(task: str) -> Path:
    """The task's shipped sample, its files checked against SOURCE.json; one line if it is missing or damaged."""
    folder = SAMPLES_DIR / task
    try:
        files = json.loads((folder / SOURCE_FILE).read_text(encoding="utf-8"))["files"]
        for name, about in files.items():
            if hashlib.sha256((folder / name).read_bytes()).hexdigest() != about["sha256"]:
                raise PromptkitError(f"{folder / name}: damaged (its SHA-256 is not the one {SOURCE_FILE} lists)")
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise PromptkitError(
            f"task {task!r}: no shipped sample at {folder} ({type(exc).__name__}); give --data"
        ) from None
    return folder


def sample_size(task: str) -> int:
    """Examples in the task's shipped sample (the first of its standard set)."""
    files = json.loads((SAMPLES_DIR / task / SOURCE_FILE).read_text(encoding="utf-8"))["files"]
    test = next(about for about in files.values() if "positions" in about)
    return len(test["positions"])
