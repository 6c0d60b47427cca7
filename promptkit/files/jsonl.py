"""Reading JSON and JSONL files with errors that name the file and line.

Files may come from someone else: bytes that are not UTF-8, binary files, absurdly deep nesting and
lines that are not objects are each refused with one line naming the place. A UTF-8 BOM and CRLF
line ends are accepted.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from promptkit.errors import PromptkitError


def _check_exists(path: Path) -> None:
    if not path.exists():
        raise PromptkitError(f"file not found: {path}")
    if path.is_dir():
        raise PromptkitError(f"expected a file, got a directory: {path}")


def read_text(path: str | Path) -> str:
    """The file as text: UTF-8 (a BOM allowed), not binary."""
    path = Path(path)
    _check_exists(path)
    data = path.read_bytes()
    if b"\x00" in data[:65536]:
        raise PromptkitError(f"{path}: a binary file, not text")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise PromptkitError(f"{path}:{line}: bytes that are not UTF-8 ({exc.reason})") from None


def _loads(text: str, where: str, *, line_of_error: bool = False) -> Any:
    """json.loads; a syntax error or absurd nesting is one line naming `where` (and the line, for a whole file)."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        at = f"{where}:{exc.lineno}" if line_of_error else where
        detail = exc.msg if line_of_error else f"{exc.msg} at column {exc.colno}"
        raise PromptkitError(f"{at}: malformed JSON ({detail})") from None
    except RecursionError:
        raise PromptkitError(f"{where}: JSON nested too deeply") from None


def read_jsonl(path: str | Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield (line number, object) for each non-blank line, reading the file as it goes: a caller that stops
    early (the first N records of a 1 GiB file) reads no further. Lines end at LF (CRLF accepted)."""
    path = Path(path)
    _check_exists(path)
    with path.open("rb") as fh:
        if b"\x00" in fh.read(65536):
            raise PromptkitError(f"{path}: a binary file, not text")
        fh.seek(0)
        for line_no, raw in enumerate(fh, start=1):
            try:
                line = raw.decode("utf-8-sig" if line_no == 1 else "utf-8")
            except UnicodeDecodeError as exc:
                raise PromptkitError(f"{path}:{line_no}: bytes that are not UTF-8 ({exc.reason})") from None
            if not line.strip():
                continue
            row = _loads(line, f"{path}:{line_no}")
            if not isinstance(row, dict):
                raise PromptkitError(f"{path}:{line_no}: expected a JSON object, got {type(row).__name__}")
            yield line_no, row


def read_json(path: str | Path) -> Any:
    return _loads(read_text(path), str(path), line_of_error=True)


def is_json_lines(text: str) -> bool:
    """More than one JSON object, one per line: not one JSON document, but its first line is one.

    Some datasets ship JSON Lines under a .json name (AQuA's test.json); their readers take both.
    """
    try:
        json.loads(text)
        return False
    except json.JSONDecodeError as exc:
        if exc.msg != "Extra data":
            return False
    except RecursionError:
        return False
    first = next((line for line in text.splitlines() if line.strip()), "")
    try:
        return isinstance(json.loads(first), dict)
    except (json.JSONDecodeError, RecursionError):
        return False


def text_field(row: dict[str, Any], key: str, where: str, *, empty: bool = False) -> str:
    """row[key] as a string; a number, null, list or object there is an error naming the place."""
    value = row.get(key)
    if not isinstance(value, str):
        got = "missing" if key not in row else ("null" if value is None else type(value).__name__)
        raise PromptkitError(f"{where}: '{key}' must be a string, got {got}")
    if not empty and not value.strip():
        raise PromptkitError(f"{where}: '{key}' is empty")
    return value
