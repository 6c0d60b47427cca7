"""Names lm-eval knows: its tasks, groups and tags, and the YAML file each is defined in.

Groups, tags and listings read lm-eval's own index (`lm_eval.tasks._index.TaskIndex`, which parses every shipped
YAML: 5 to 10 s), written once per lm-eval version into promptkit's folder and read from there afterwards. Before
it is written, a task is found by the line `task: NAME` in a YAML file (a fraction of a second, no file parsed).
"""

from __future__ import annotations

import difflib
import fnmatch
import json
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from promptkit.errors import PromptkitError
from promptkit.files.atomic import write_text_atomic
from promptkit.files.paths import state_dir
from promptkit.tasks.lm_eval.library import installed_version, quiet, tasks_folder

Kind = Literal["task", "group", "tag"]


@dataclass(frozen=True)
class Entry:
    name: str
    kind: Kind
    yaml: Path | None
    """The file that defines it (a tag has none: its tasks name it)."""
    members: tuple[str, ...] = ()
    """A group's or tag's tasks (which may be groups or tags themselves)."""
    output_type: str = ""


def find(name: str) -> Entry:
    """The task, group or tag of this name; an unknown name is one line with the nearest names."""
    kept = _kept_index()
    if kept is not None and name in kept:
        return kept[name]
    path = task_yaml(name) if kept is None else None
    if path is not None:
        return Entry(name, "task", path)
    index = kept or full_index()
    if name in index:
        return index[name]
    close = difflib.get_close_matches(name, list(index), n=5, cutoff=0.6)
    hint = f"; did you mean {', '.join(close)}?" if close else ""
    raise PromptkitError(
        f"lm-eval knows no task, group or tag {name!r}{hint} (promptkit tasks --lm-eval PATTERN lists them)"
    )


def task_yaml(name: str) -> Path | None:
    """The shipped YAML file whose `task:` line names this task, if one does (first in path order, as lm-eval)."""
    if not re.fullmatch(r"[^\s'\"]+", name):
        return None
    line = re.compile(rb"^task:[ \t]*['\"]?" + re.escape(name.encode()) + rb"['\"]?[ \t]*\r?$", re.MULTILINE)
    needle = name.encode()
    for path in sorted(tasks_folder().rglob("*.yaml"), key=lambda p: p.as_posix()):
        text = path.read_bytes()
        if needle in text and line.search(text):
            return path
    return None


def leaf_tasks(entry: Entry) -> list[Entry]:
    """A task itself; a group's or tag's tasks, groups and tags within expanded, each once, in their order."""
    if entry.kind == "task":
        return [entry]
    index = full_index()
    out: dict[str, Entry] = {}
    for member in entry.members:
        child = index.get(member)
        if child is None:
            raise PromptkitError(f"lm-eval {entry.kind} {entry.name!r} names {member!r}, which lm-eval does not know")
        out |= {e.name: e for e in leaf_tasks(child)}
    return list(out.values())


def matching(pattern: str | None) -> list[Entry]:
    """Every name lm-eval knows that matches a shell pattern (`arc*`), or contains the text given."""
    index = full_index()
    if not pattern:
        return list(index.values())
    glob = pattern if any(c in pattern for c in "*?[") else f"*{pattern}*"
    return [e for name, e in index.items() if fnmatch.fnmatchcase(name, glob)]


def full_index() -> dict[str, Entry]:
    """lm-eval's index of its shipped tasks, read from promptkit's folder once it has been written there."""
    kept = _kept_index()
    if kept is not None:
        return kept
    rows = _build(tasks_folder())
    write_text_atomic(_index_file(), json.dumps(rows, ensure_ascii=False, sort_keys=True) + "\n")
    return _entries(rows, tasks_folder())


def index_is_kept() -> bool:
    """Whether lm-eval's index is in promptkit's folder already (listing without it reads every YAML first)."""
    return _kept_index() is not None


def _index_file() -> Path:
    return state_dir() / "lm-eval" / f"index-{installed_version()}.json"


def _kept_index() -> dict[str, Entry] | None:
    """The index as written in promptkit's folder, if it is there and whole (a damaged copy is written again)."""
    path = _index_file()
    if not path.is_file():
        return None
    return _read_index(str(path), path.stat().st_mtime_ns)


@lru_cache(maxsize=2)
def _read_index(path: str, _mtime: int) -> dict[str, Entry] | None:
    """Parsed once per process and version of the file (a command looks names up several times)."""
    try:
        return _entries(json.loads(Path(path).read_text(encoding="utf-8")), tasks_folder())
    except (ValueError, KeyError, TypeError):
        return None


def _build(root: Path) -> dict[str, list[Any]]:
    """name -> [kind, YAML path under the tasks folder, members, output type], from lm-eval's own index."""
    from lm_eval.tasks._index import Kind as LmKind
    from lm_eval.tasks._index import TaskIndex

    with quiet():
        built = TaskIndex.build([root])
    rows: dict[str, list[Any]] = {}
    for name, e in built.items():
        cfg = e.cfg or {}
        if e.kind == LmKind.GROUP:
            tasks = cfg.get("task") or []
            members = [t if isinstance(t, str) else t.get("task") or t.get("group") for t in tasks]
            kind: Kind = "group"
        elif e.kind == LmKind.TAG:
            members, kind = sorted(e.tags), "tag"
        else:
            members, kind = [], "task"
        where = str(Path(e.yaml_path).relative_to(root)) if e.yaml_path else None
        output = str(cfg.get("output_type") or ("generate_until" if kind == "task" else ""))
        rows[str(name)] = [kind, where, [str(m) for m in members if m], output]
    return rows


def _entries(rows: dict[str, list[Any]], root: Path) -> dict[str, Entry]:
    return {
        name: Entry(name, kind, root / where if where else None, tuple(members), output)
        for name, (kind, where, members, output) in rows.items()
    }
