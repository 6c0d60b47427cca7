"""Every file and folder a command takes, checked before the command does anything.

The table below says, for each argparse destination, the flag's name in messages and what kind of
path it names; outputs (--out) are checked by the command that knows what it writes there.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterator
from pathlib import Path

from promptkit.engines.cache import open_cache
from promptkit.files.paths import (
    CACHE,
    DATA,
    RECORDING,
    FileKind,
    check_input,
    check_input_file,
    check_input_folder,
    check_output_file,
)
from promptkit.runspec.files import SPEC_FILE
from promptkit.stages.framework.templating import TEMPLATE_FILE
from promptkit.tasks.files import TASK_FILE, is_task_file

ANYTHING = FileKind("a file", 1 << 62, lambda path: None, may_be_empty=True)


def _file(kind: FileKind) -> Callable[[str, str], object]:
    return lambda label, path: check_input_file(label, path, kind)


def _file_or_folder(kind: FileKind) -> Callable[[str, str], None]:
    return lambda label, path: check_input(label, path, kind)


def _cache(label: str, path: str) -> None:
    """An existing cache is opened and checked (SQLite's quick_check, up to a size) before any work."""
    if Path(path).exists():
        check_input_file(label, path, CACHE)
        open_cache(Path(path), label).close()
    check_output_file(label, path)


def _task(label: str, value: str) -> None:
    """--task is a shipped task's name or a task file; a file is checked like any other input."""
    if is_task_file(value):
        check_input_file(label, value, TASK_FILE)


# argparse destination -> (the name in messages, the check)
INPUTS: dict[str, tuple[str, Callable[[str, str], object]]] = {
    "spec": ("spec file", _file(SPEC_FILE)),
    "task": ("--task", _task),
    "specs": ("--specs", _file(SPEC_FILE)),
    "data": ("--data", _file_or_folder(DATA)),  # a dataset folder, too
    "pool": ("--pool", _file_or_folder(DATA)),
    "replay": ("--replay", _file(RECORDING)),
    "template": ("--template", _file(TEMPLATE_FILE)),
    "allow_path": ("--allow-path", _file_or_folder(ANYTHING)),
    "runs": ("run folder", check_input_folder),
    "cache": ("--cache", _cache),
}


def _given(args: argparse.Namespace) -> Iterator[tuple[str, str]]:
    for dest in INPUTS:
        value = getattr(args, dest, None)
        for item in value if isinstance(value, list) else [value]:
            if not isinstance(item, str) or not item:  # a flag of the same name may be a switch (schema --task)
                continue
            yield dest, item.rpartition("=")[2] if dest == "template" else item  # STAGE=FILE


def check_command_paths(args: argparse.Namespace) -> None:
    """Each path on the command line is what its flag expects: one line naming the flag and the path."""
    for dest, path in _given(args):
        label, check = INPUTS[dest]
        check(label, path)
