"""A run folder appears whole or not at all.

Its files are written into a hidden staging folder beside it, which then takes the run folder's
place in one step: on Linux an atomic exchange of the two folders (renameat2 RENAME_EXCHANGE), so
a kill at any moment leaves either the previous complete run or the new one; elsewhere a rename
with the previous run moved aside first. Readers skip hidden folders, so a staging folder left by
a kill is never read as a run.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from promptkit.errors import PromptkitError
from promptkit.files.paths import check_output_folder

RUN_MARKERS = ("summary.json", "predictions.jsonl", "spec.resolved.yaml", "index.html")
_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def check_out_dir(out: Path, label: str = "--out") -> None:
    """Before any work: the folder can be written, and holds nothing but a previous run, if anything."""
    check_output_folder(label, out)
    if out.is_dir():
        foreign = [p.name for p in out.iterdir() if p.name not in RUN_MARKERS and not p.name.startswith(".")]
        if foreign:
            raise PromptkitError(
                f"{label} {out}: the folder holds files that are not a promptkit run ({', '.join(sorted(foreign)[:3])}); "
                "choose another folder"
            )


def check_root_dir(root: Path, label: str = "--out") -> None:
    """A folder that will hold several runs (sweep, compare, orders): a folder we can write."""
    check_output_folder(label, root)


def write_text_atomic(path: Path, text: str) -> None:
    """The file appears whole or not at all (its missing folders are made first)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}")
    try:
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)


@contextmanager
def staged(out: Path) -> Iterator[Path]:
    """Yield a staging folder; on success it becomes `out` in one step (any previous run there goes)."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    stage = out.parent / f".{out.name}.staging-{uuid.uuid4().hex[:8]}"
    stage.mkdir()
    try:
        yield stage
        publish(stage, out)
    finally:
        shutil.rmtree(stage, ignore_errors=True)


def publish(stage: Path, out: Path) -> None:
    if out.exists() and _exchange(stage, out):
        shutil.rmtree(stage, ignore_errors=True)  # now holds the previous run
        return
    if out.exists():
        aside = out.parent / f".{out.name}.previous-{uuid.uuid4().hex[:8]}"
        os.rename(out, aside)
        os.rename(stage, out)
        shutil.rmtree(aside, ignore_errors=True)
        return
    os.rename(stage, out)


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths atomically where the system can; False where it cannot."""
    libc_name = ctypes.util.find_library("c")
    if not libc_name:
        return False
    libc = ctypes.CDLL(libc_name, use_errno=True)
    renameat2 = getattr(libc, "renameat2", None)
    if renameat2 is None:
        return False
    done = renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE)
    return done == 0
