"""Tasks by name."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from promptkit.registry import Registry
from promptkit.tasks.base import AnswerKind, Task
from promptkit.tasks.gsm8k import load_gsm8k
from promptkit.tasks.last_letters import generate_last_letters, load_last_letters

TaskLoader = Callable[["str | Path | None"], Task]

TASKS: Registry[TaskLoader] = Registry("task", {"gsm8k": load_gsm8k, "last_letters": load_last_letters})


def load_task(name: str, data: str | Path | None = None) -> Task:
    return TASKS.get(name)(data)


__all__ = ["TASKS", "AnswerKind", "Task", "generate_last_letters", "load_task"]
