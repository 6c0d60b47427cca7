"""Reading JSON and JSONL files with errors that name the file and line."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .errors import PromptkitError


def _check_exists(path: Path) -> None:
    if not path.exists():
        raise PromptkitError(f"file not found: {path}")
    if path.is_dir():
        raise PromptkitError(f"expected a file, got a directory: {path}")


def read_jsonl(path: str | Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield (line number, object) for each non-blank line."""
    path = Path(path)
    _check_exists(path)
    with path.open(encoding="utf-8") as fh:
        for line_no, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise PromptkitError(f"{path}:{line_no}: malformed JSON ({exc.msg} at column {exc.colno})") from None
            if not isinstance(row, dict):
                raise PromptkitError(f"{path}:{line_no}: expected a JSON object, got {type(row).__name__}")
            yield line_no, row


def read_json(path: str | Path) -> Any:
    path = Path(path)
    _check_exists(path)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise PromptkitError(f"{path}:{exc.lineno}: malformed JSON ({exc.msg})") from None
