"""Importing lm-eval, and keeping it quiet while it builds a task, without changing anything for the process."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType

from promptkit.errors import PromptkitError

INSTALL = 'pip install "promptkit[lm-eval]"'
VERSION = "0.4.13"
"""The lm-eval release whose requests promptkit's are checked against, byte for byte (tests/test_lm_eval_tasks.py)."""

_LOGGERS = ("lm_eval", "datasets", "fsspec", "filelock")


def lm_eval() -> ModuleType:
    """The lm_eval package; a one-line error naming the extra when it is not installed."""
    try:
        import lm_eval as package
    except ImportError:
        raise PromptkitError(f"lm-eval tasks need lm-eval: {INSTALL}") from None
    return package


def tasks_folder() -> Path:
    """Where the installed lm-eval keeps its task YAML files."""
    return Path(str(lm_eval().__file__)).parent / "tasks"


def installed_version() -> str:
    from importlib.metadata import version

    lm_eval()
    return version("lm_eval")


@contextmanager
def quiet() -> Iterator[None]:
    """lm-eval and datasets log and draw progress bars while a task builds: silenced for the block, then put back
    as they were (a library call changes nothing for the process)."""
    import datasets

    loggers = [logging.getLogger(name) for name in _LOGGERS]
    levels = [logger.level for logger in loggers]
    bars = datasets.is_progress_bar_enabled()
    tqdm = os.environ.get("TQDM_DISABLE")
    try:
        for logger in loggers:
            logger.setLevel(logging.ERROR)
        datasets.disable_progress_bars()
        os.environ["TQDM_DISABLE"] = "1"
        yield
    finally:
        for logger, level in zip(loggers, levels):
            logger.setLevel(level)
        if bars:
            datasets.enable_progress_bars()
        if tqdm is None:
            os.environ.pop("TQDM_DISABLE", None)
        else:
            os.environ["TQDM_DISABLE"] = tqdm
