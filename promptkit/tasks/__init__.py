"""Tasks are data: task files (promptkit/tasks/shipped/*.yaml, or a user's) read into examples."""

from __future__ import annotations

from promptkit.tasks.base import Task
from promptkit.tasks.definition import AnswerKind, TaskDefinition
from promptkit.tasks.files import generated_task, is_task_file, load_task, load_train, read_definition, shipped_names
from promptkit.tasks.generators import generate_last_letters

__all__ = [
    "AnswerKind",
    "Task",
    "TaskDefinition",
    "generate_last_letters",
    "generated_task",
    "is_task_file",
    "load_task",
    "load_train",
    "read_definition",
    "shipped_names",
]
