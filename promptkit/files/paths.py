"""Files and folders named on the command line, checked before any work.

Each path has a kind (a template, a data file, a spec, a folder of runs, an output file, ...) and
every kind passes the same checks as data files: it exists, it is what the kind expects (a file or
a folder, a regular file rather than a device or a pipe), it can be read, it is not too large, not
empty, text in UTF-8 and well-formed for its format. An output's nearest existing folder must be a
folder we can write in (missing folders below it are made when the output is written, not before).
A failure is one line naming the flag and the path.
"""

from __future__ import annotations

import os
import stat
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from promptkit.errors import PromptkitError
from promptkit.files.jsonl import is_json_lines, read_json, read_jsonl, read_text

MiB = 1 << 20
GiB = 1 << 30
TEXT_LIMIT = 1 * MiB
"""Templates and specs: text a person writes (their kinds live with their readers)."""

Parse = Callable[[Path], object]


def state_dir() -> Path:
    """promptkit's own folder (converted models, the generation cache, fetched datasets): $PROMPTKIT_HOME, else
    the user's cache folder (XDG_CACHE_HOME or ~/.cache)/promptkit."""
    if env := os.environ.get("PROMPTKIT_HOME"):
        return Path(env)
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "promptkit"


def _parse_by_suffix(path: Path) -> object:
    """Data files: JSON and a JSON Lines file's first record are parsed; other text is left to the task's reader,
    as are the further records (read before any model loads, and with --limit only as far as they go)."""
    if path.suffix == ".jsonl":
        return next(read_jsonl(path), None)
    if path.suffix == ".json":
        return list(read_jsonl(path)) if is_json_lines(read_text(path)) else read_json(path)
    return read_text(path)


def _parse_sqlite(path: Path) -> object:
    with path.open("rb") as fh:
        header = fh.read(16)
    if header != b"SQLite format 3\x00":
        raise PromptkitError(f"{path}: not an SQLite file, so not a promptkit cache")
    return None


@dataclass(frozen=True)
class FileKind:
    """What a flag names when it names an input file."""

    what: str
    max_bytes: int
    parse: Parse
    may_be_empty: bool = False


DATA = FileKind("a data file", 1 * GiB, _parse_by_suffix)
RECORDING = FileKind("a JSONL recording", 1 * GiB, lambda p: list(read_jsonl(p)))
# A cache may be any size (a damaged one is found when it is opened); an empty file is a new cache.
CACHE = FileKind("a cache", 1 << 62, _parse_sqlite, may_be_empty=True)


def _size(n: int) -> str:
    return f"{n / GiB:g} GiB" if n >= GiB else f"{n / MiB:g} MiB"


def _exists(label: str, path: Path) -> None:
    if not path.exists():
        dangling = " (a link to nothing)" if path.is_symlink() else ""
        raise PromptkitError(f"{label} {path}: not found{dangling}")


def check_input_file(label: str, path: str | Path, kind: FileKind) -> object:
    """`path` is a readable regular file of `kind`: within its size, not empty, well-formed; returns what
    the kind's parser made of it (None for an empty file a kind allows)."""
    path = Path(path)
    _exists(label, path)
    if path.is_dir():
        raise PromptkitError(f"{label} {path}: a folder, not a file ({kind.what})")
    info = path.stat()
    if not stat.S_ISREG(info.st_mode):
        raise PromptkitError(f"{label} {path}: not a regular file (a device, pipe or socket); expected {kind.what}")
    if info.st_size > kind.max_bytes:
        raise PromptkitError(
            f"{label} {path}: {info.st_size:,} bytes, over the {_size(kind.max_bytes)} limit for {kind.what}"
        )
    try:
        with path.open("rb") as fh:
            fh.read(1)
    except OSError as exc:
        raise PromptkitError(f"{label} {path}: cannot read it ({exc.strerror or exc})") from None
    if info.st_size == 0:
        if kind.may_be_empty:
            return None
        raise PromptkitError(f"{label} {path}: the file is empty; expected {kind.what}")
    try:
        return kind.parse(path)
    except PromptkitError as exc:
        message = str(exc)
        # The readers' messages start with the path (and line); the flag goes in front.
        raise PromptkitError(
            f"{label} {message}" if message.startswith(str(path)) else f"{label} {path}: {message}"
        ) from None


def check_input_folder(label: str, path: str | Path) -> None:
    path = Path(path)
    _exists(label, path)
    if not path.is_dir():
        raise PromptkitError(f"{label} {path}: a file, not a folder")
    try:
        next(os.scandir(path), None)
    except OSError as exc:
        raise PromptkitError(f"{label} {path}: cannot read the folder ({exc.strerror or exc})") from None


def check_input(label: str, path: str | Path, kind: FileKind) -> None:
    """A file of `kind`, or a folder (a dataset folder, a folder a spec may read)."""
    path = Path(path)
    if path.is_dir():
        check_input_folder(label, path)
    else:
        check_input_file(label, path, kind)


def check_output_file(label: str, path: str | Path) -> None:
    """A file we may write: not a folder, and in a folder we can write (or can make)."""
    path = Path(path)
    if path.is_dir():
        raise PromptkitError(f"{label} {path}: a folder, not a file")
    if path.exists() and not stat.S_ISREG(path.stat().st_mode):
        raise PromptkitError(f"{label} {path}: not a regular file (a device, pipe or socket)")
    check_can_create(label, path)


def check_output_folder(label: str, path: str | Path) -> None:
    """A folder we may write in: not a file, and writable (or makeable)."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise PromptkitError(f"{label} {path}: a file, not a folder")
    if path.is_dir():
        _probe(label, path, path)
    else:
        check_can_create(label, path)


def check_can_create(label: str, path: Path) -> None:
    """The nearest existing folder above `path` is a folder we can write in; nothing is left behind."""
    above = path.absolute().parent
    while not above.exists():
        if above.is_symlink():
            raise PromptkitError(f"{label} {path}: {above} is a link to nothing")
        above = above.parent
    if not above.is_dir():
        raise PromptkitError(f"{label} {path}: {above} is a file, not a folder")
    _probe(label, path, above)


def _probe(label: str, named: Path, folder: Path) -> None:
    """Create and remove a folder in `folder`: the test a staging folder or a temporary file must pass."""
    try:
        os.rmdir(tempfile.mkdtemp(prefix=".promptkit-probe-", dir=folder))
    except OSError as exc:
        raise PromptkitError(f"{label} {named}: cannot write there ({exc.strerror or exc})") from None
