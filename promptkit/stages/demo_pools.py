"""Demonstration pools: the shipped exemplars, or examples from a training set."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from promptkit.errors import PromptkitError
from promptkit.files.jsonl import read_json
from promptkit.stages.templating import Templates, default_templates, templates_dir
from promptkit.tasks import Task, load_task
from promptkit.tasks.gsm8k import load_gsm8k_hub
from promptkit.tasks.last_letters import generated_task

_CALCULATOR = re.compile(r"<<[^>]*>>")


@dataclass(frozen=True)
class Demo:
    """One demonstration: what the few-shot templates see as `d.question`, `d.rationale`, `d.answer`."""

    id: str
    question: str
    rationale: str
    answer: str

    def variables(self) -> dict[str, Any]:
        return {"id": self.id, "question": self.question, "rationale": self.rationale, "answer": self.answer}


def shipped_exemplars(task: str) -> tuple[Demo, ...]:
    """The CoT exemplars shipped for a task (GSM8K: Wei et al.'s 8, in lm-eval's order)."""
    path = templates_dir() / "exemplars" / f"{task}_cot.json"
    if not path.is_file():
        raise PromptkitError(f"no exemplars ship for task {task!r} ({path.name} is missing)")
    return exemplars_from_file(path)


def exemplars_from_file(path: str | Path) -> tuple[Demo, ...]:
    """A JSON file {"exemplars": [{"question", "rationale", "answer"}, ...]}."""
    from promptkit.files.jsonl import read_json, text_field

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
            Demo(f"exemplar-{i}", text_field(row, "question", where), rationale, text_field(row, "answer", where))
        )
    if not demos:
        raise PromptkitError(f"{path}: no exemplars")
    return tuple(demos)


def gsm8k_rationale(solution: str) -> str:
    """A GSM8K solution as one Wei-style paragraph: calculator notes and the '####' line removed."""
    lines = [ln.strip() for ln in _CALCULATOR.sub("", solution).splitlines()]
    return " ".join(ln for ln in lines if ln and not ln.startswith("####"))


def pool_from_task(task: Task, templates: Templates | None = None) -> tuple[Demo, ...]:
    """Every example of a (training) task as a demonstration, with a rationale in the exemplars' style."""
    templates = templates or default_templates()
    demos = []
    for e in task.examples:
        question, answer = e.inputs["question"], e.target or ""
        if task.name == "gsm8k":
            rationale = gsm8k_rationale(e.inputs.get("solution", ""))
        else:
            words = question.split('"')[1].split() if question.count('"') >= 2 else []
            rationale = templates.render("last_letters/rationale", {"words": words, "answer": answer})
        demos.append(Demo(f"pool-{e.id}", question, rationale, answer))
    return tuple(demos)


def demo_pool(pool: str | None, selector: str, task: Task) -> tuple[Demo, ...]:
    """The given pool; else the shipped exemplars for a fixed selector; else the task's training data."""
    if pool:
        data = read_json(pool) if pool.endswith(".json") else None
        if isinstance(data, dict) and "exemplars" in data:
            return exemplars_from_file(pool)
        return pool_from_task(load_task(task.name, pool))
    if selector == "fixed":
        return shipped_exemplars(task.name)
    return pool_from_task(training_questions(task.name))


def question_pool(pool: str | None, task: str) -> Task:
    """Questions for Auto-CoT: a data file of the task, else its training data."""
    return load_task(task, pool) if pool else training_questions(task)


def training_questions(task: str) -> Task:
    """A task's training data: GSM8K's train split (from the hub), or a generated last-letter set."""
    return load_gsm8k_hub("train") if task == "gsm8k" else generated_task(count=1000, words=4, seed=1)
