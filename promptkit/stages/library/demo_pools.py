"""Demonstration pools: a task's exemplars, a pool file, or examples from a training set."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from promptkit.errors import PromptkitError
from promptkit.files.jsonl import is_json_lines, read_json, read_text, text_field
from promptkit.stages.framework.templating import templates_dir
from promptkit.tasks import Task, TaskDefinition, load_task, load_train, read_definition


@dataclass(frozen=True)
class Demo:
    """One demonstration: what the few-shot templates see as `d.question`, `d.rationale`, `d.answer`."""

    id: str
    question: str
    rationale: str
    answer: str

    def variables(self) -> dict[str, Any]:
        return {"id": self.id, "question": self.question, "rationale": self.rationale, "answer": self.answer}


def definition_of(task: Task) -> TaskDefinition:
    """The task file a task was read by; for a task made in code, the shipped task of its name."""
    return task.definition or read_definition(task.name)


def shipped_exemplars(task: str) -> tuple[Demo, ...]:
    """The exemplars a shipped task names (GSM8K: Wei et al.'s 8, in lm-eval's order)."""
    return task_exemplars(read_definition(task))


def task_exemplars(definition: TaskDefinition) -> tuple[Demo, ...]:
    """The task file's exemplars: a file beside it (made absolute when read), or a shipped exemplars file."""
    name = definition.prompts.exemplars
    if not name:
        raise PromptkitError(
            f"task {definition.name!r} names no exemplars (prompts.exemplars): give a pool (--pool FILE)"
        )
    path = Path(name) if Path(name).is_absolute() else templates_dir() / name
    if not path.is_file():
        raise PromptkitError(f"task {definition.name!r}: exemplars {name!r} not found")
    return exemplars_from_file(path)


def exemplars_from_file(path: str | Path) -> tuple[Demo, ...]:
    """A JSON file {"exemplars": [{"question", "rationale", "answer"}, ...]}."""
    data = read_json(path)
    rows = data.get("exemplars") if isinstance(data, dict) else None
    if not isinstance(rows, list):
        raise PromptkitError(f"{path}: expected a JSON object with an 'exemplars' list")
    demos = []
    for i, row in enumerate(rows):
        where = f"{path}: exemplars[{i}]"
        if not isinstance(row, dict):
            raise PromptkitError(f"{where}: expected an object, got {type(row).__name__}")
        rationale = text_field(row, "rationale", where, empty=True) if "rationale" in row else ""
        demos.append(
            Demo(exemplar_id(i), text_field(row, "question", where), rationale, text_field(row, "answer", where))
        )
    if not demos:
        raise PromptkitError(f"{path}: no exemplars")
    return tuple(demos)


def pool_id(example_id: str) -> str:
    """A training record's id as a demonstration of a pool (what `ids` and a spec's `demos` name)."""
    return f"pool-{example_id}"


def exemplar_id(index: int) -> str:
    """An exemplars file's i-th demonstration's id."""
    return f"exemplar-{index}"


def pool_from_task(task: Task) -> tuple[Demo, ...]:
    """Every example of a (training) task as a demonstration, with the worked solution its task file writes."""
    return tuple(
        Demo(pool_id(e.id), e.inputs["question"], task.rationales.get(e.id, ""), e.target or "") for e in task.examples
    )


def demo_pool(pool: str | None, selector: str, task: Task) -> tuple[Demo, ...]:
    """The given pool; else the task's exemplars for a fixed selector; else the task's training data."""
    definition = definition_of(task)
    if pool:
        data = read_json(pool) if pool.endswith(".json") and not is_json_lines(read_text(pool)) else None
        if isinstance(data, dict) and "exemplars" in data:
            return exemplars_from_file(pool)
        return pool_from_task(load_task(definition, pool))
    if selector == "fixed":
        return task_exemplars(definition)
    return pool_from_task(load_train(definition, task.folder))


def question_pool(pool: str | None, task: Task | TaskDefinition) -> Task:
    """Questions for Auto-CoT: a data file of the task, else the data being evaluated (all of it, as the paper)."""
    if pool:
        return load_task(task if isinstance(task, TaskDefinition) else definition_of(task), pool)
    if not isinstance(task, Task):
        raise TypeError("without a pool, Auto-CoT clusters the evaluated task's questions: pass the Task")
    return task.whole_set()
