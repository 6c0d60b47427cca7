"""One run writes a folder at a time: a second run given the same output folder stops before any work.

The claim is an exclusive lock (flock) on a hidden file beside the folder, held while the run lasts. The
kernel drops it when the process ends, however it ends, so a killed run never leaves a stale claim, and
the file itself stays (removing it would let two later runs lock two different files). Readers skip
hidden files. Where the system has no flock (Windows), runs are not claimed.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from promptkit.errors import PromptkitError

try:
    import fcntl
except ImportError:  # pragma: no cover - not on Linux or macOS
    fcntl = None  # type: ignore[assignment]


def claim_file(folder: Path) -> Path:
    return folder.parent / f".{folder.name}.claim"


@contextmanager
def claimed(folder: Path, label: str = "--out") -> Iterator[None]:
    """Hold `folder` for this process; another process holding it is a one-line error naming its pid."""
    folder = Path(folder)
    if fcntl is None:
        yield
        return
    path = claim_file(folder)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 32).decode("ascii", "replace").strip() or "unknown"
            raise PromptkitError(
                f"{label} {folder}: another promptkit run (pid {holder}) is writing this folder; "
                "wait for it to end or choose another folder"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield
    finally:
        os.close(fd)  # closing drops the lock
