"""Reading a task's records: JSONL, JSON (a list, or a list under a key), CSV, plain lines, or a `datasets` split.

Each record comes with where it is ("file:line", "file: examples[3]", "file: row 4"), so a mistake
in one is named in one line.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from promptkit.errors import PromptkitError
from promptkit.files.jsonl import is_json_lines, read_json, read_jsonl, read_text
from promptkit.tasks.definition import HubSource

Record = tuple[str, dict[str, Any]]
"""(where, the record's fields)."""

FORMATS = (".jsonl", ".json", ".csv")


def read_file_records(path: str | Path, records_key: str | None = None, lines: bool = False) -> list[Record]:
    """By the file's suffix; `lines`: one record {"line": text} per line, whatever the suffix (Zhao et al.'s
    SST-2 and TREC files), split as Python's readlines splits them."""
    path = Path(path)
    if lines:
        return [
            (f"{path}:{n}", {"line": line.removesuffix("\n")})
            for n, line in enumerate(io.StringIO(read_text(path), newline=None).readlines(), 1)
        ]
    if path.suffix == ".jsonl":
        return list(jsonl_records(path))
    if path.suffix == ".json":
        return _json_records(path, records_key)
    if path.suffix == ".csv":
        return _csv_records(path)
    raise PromptkitError(f"{path}: a task's data is {', '.join(FORMATS)} (named by its suffix), or format: lines")


def jsonl_records(path: Path) -> Iterator[Record]:
    """A JSON Lines file's records as it is read (a caller may stop early)."""
    for line, row in read_jsonl(path):
        yield f"{path}:{line}", row


def _json_records(path: Path, key: str | None) -> list[Record]:
    if key is None and is_json_lines(read_text(path)):
        return list(jsonl_records(path))  # AQuA's test.json is JSON lines
    data = read_json(path)
    if key is not None:
        if not isinstance(data, dict) or key not in data:
            raise PromptkitError(f"{path}: expected a JSON object with a {key!r} list")
        data, where = data[key], f"{path}: {key}"
    elif isinstance(data, dict) and isinstance(data.get("examples"), list):
        data, where = data["examples"], f"{path}: examples"  # BIG-bench's layout, and Kojima et al.'s
    else:
        where = str(path)
    if not isinstance(data, list):
        raise PromptkitError(f"{where}: expected a list of records, got {type(data).__name__}")
    out = []
    for i, row in enumerate(data):
        if not isinstance(row, dict):
            raise PromptkitError(f"{where}[{i}]: expected an object, got {type(row).__name__}")
        out.append((f"{where}[{i}]", row))
    return out


def _csv_records(path: Path) -> list[Record]:
    reader = csv.DictReader(io.StringIO(read_text(path), newline=""))
    if not reader.fieldnames:
        raise PromptkitError(f"{path}: a CSV file needs a header row naming its columns")
    out = []
    try:
        for row in reader:
            if None in row:  # more cells than the header names
                raise PromptkitError(f"{path}:{reader.line_num}: more cells than the header's {len(reader.fieldnames)}")
            out.append((f"{path}:{reader.line_num}", dict(row)))
    except csv.Error as exc:
        raise PromptkitError(f"{path}:{reader.line_num}: malformed CSV ({exc})") from None
    return out


def read_hub_records(hub: HubSource) -> list[Record]:
    """Through `datasets`: a hub id, or a local folder laid out like one."""
    import datasets

    try:
        data = datasets.load_dataset(hub.path, hub.config, split=hub.split)
    except Exception as exc:  # datasets raises many types; all mean the source cannot be read
        raise PromptkitError(
            f"cannot load {hub.path!r} (config {hub.config!r}, split {hub.split!r}): {str(exc).splitlines()[0]}"
        ) from None
    return [(f"{hub.path}:{hub.split}[{i}]", dict(row)) for i, row in enumerate(data)]
