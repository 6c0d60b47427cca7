"""The search log: a JSON Lines file beside the chosen spec, a header and then one line per piece of work
(a candidate scored on some examples, instructions proposed, rationales bootstrapped), with its calls and tokens.

Written as the work finishes, so a kill loses at most the line being written. Read back, it replays the
finished work without calling any engine: a killed search, run again, resumes where it stopped and makes the
same decisions (the budget counts the replayed calls as spent)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from promptkit.errors import PromptkitError
from promptkit.files.atomic import write_text_atomic
from promptkit.files.search_log import log_path, read_log

__all__ = ["SearchLog", "log_path", "read_log"]


class SearchLog:
    def __init__(self, path: Path, header: dict[str, Any]) -> None:
        self.path = path
        self.header = header
        self._done: dict[str, dict[str, Any]] = {}
        self.replayed = 0
        if path.exists():
            self._read()
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            write_text_atomic(path, json.dumps({"search": header}, ensure_ascii=False) + "\n")

    def _read(self) -> None:
        lines = self.path.read_text(encoding="utf-8").splitlines()
        entries = []
        for i, line in enumerate(lines):
            try:
                entries.append(json.loads(line))
            except json.JSONDecodeError:
                if i == len(lines) - 1:  # the line a kill cut short: dropped, its work is done again
                    write_text_atomic(self.path, "".join(f"{x}\n" for x in lines[:-1]))
                    break
                raise PromptkitError(f"{self.path}: line {i + 1} is not JSON; give another --out") from None
        first = entries[0].get("search") if entries and isinstance(entries[0], dict) else None
        if not isinstance(first, dict) or first.get("digest") != self.header["digest"]:
            raise PromptkitError(
                f"{self.path}: the log of another search (other settings, data or model); give another --out, "
                "or remove it to start again"
            )
        for entry in entries[1:]:
            self._done[entry["work"]] = entry

    def recall(self, work: str) -> dict[str, Any] | None:
        """The logged result of this piece of work, if a run before this one finished it."""
        entry = self._done.get(work)
        self.replayed += entry is not None
        return entry

    def write(self, entry: dict[str, Any]) -> None:
        self._done[entry["work"]] = entry
        with self.path.open("a", encoding="utf-8") as f:
            f.write(json.dumps(entry, ensure_ascii=False) + "\n")
            f.flush()

    def entries(self) -> list[dict[str, Any]]:
        return list(self._done.values())
