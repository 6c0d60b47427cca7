"""Last-letter concatenation (Wei et al., 2022; Kojima et al.'s file format)."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

from promptkit.errors import PromptkitError
from promptkit.files.jsonl import read_json, text_field
from promptkit.tasks.base import Task
from promptkit.types import Example

NAMES_FILE = Path(__file__).with_name("names.txt")
QUESTION = 'Take the last letters of each words in "{words}" and concatenate them.'


def load_last_letters_file(path: str | Path) -> Task:
    """A JSON file {"examples": [{"question", "answer"}, ...]}."""
    data = read_json(path)
    if not isinstance(data, dict) or not isinstance(data.get("examples"), list):
        raise PromptkitError(f"{path}: expected a JSON object with an 'examples' list")
    examples = []
    for i, row in enumerate(data["examples"]):
        where = f"{path}: examples[{i}]"
        if not isinstance(row, dict):
            raise PromptkitError(f"{where}: expected an object with 'question' and 'answer', got {type(row).__name__}")
        examples.append(
            Example(str(i), question_inputs(text_field(row, "question", where)), text_field(row, "answer", where))
        )
    if not examples:
        raise PromptkitError(f"{path}: no examples")
    return Task("last_letters", tuple(examples), "letters", str(path), _word_count(examples))


def question_inputs(question: str) -> dict[str, Any]:
    """The question, and its quoted list as words (for prompts that ask about the list alone)."""
    quoted = question.split('"')
    return {"question": question, "words": quoted[1].split() if len(quoted) >= 3 else question.split()}


def _word_count(examples: list[Example]) -> dict[str, int]:
    """{"words": L} when every question lists L words (as generated sets do)."""
    counts = {len(q.split('"')[1].split()) for q in (e.inputs["question"] for e in examples) if q.count('"') >= 2}
    return {"words": counts.pop()} if len(counts) == 1 else {}


def shipped_names() -> list[str]:
    return [n for n in NAMES_FILE.read_text(encoding="utf-8").split() if n]


def generate_last_letters(count: int = 500, words: int = 4, seed: int = 0) -> dict:
    """A new set in the file format: `count` questions of `words` distinct names each."""
    if words < 1 or count < 1:
        raise PromptkitError(f"last-letter sets need words >= 1 and count >= 1 (got words={words}, count={count})")
    names = shipped_names()
    rng = random.Random(f"last_letters:{words}:{seed}")
    examples = []
    for _ in range(count):
        picked = rng.sample(names, words)
        examples.append(
            {"question": QUESTION.format(words=" ".join(picked)), "answer": "".join(n[-1].lower() for n in picked)}
        )
    return {"examples": examples, "generator": {"words": words, "count": count, "seed": seed}}


def generated_task(count: int = 500, words: int = 4, seed: int = 0) -> Task:
    data = generate_last_letters(count, words, seed)
    examples = tuple(
        Example(str(i), question_inputs(r["question"]), r["answer"]) for i, r in enumerate(data["examples"])
    )
    return Task(
        "last_letters", examples, "letters", f"generated:words={words}:count={count}:seed={seed}", {"words": words}
    )


def load_last_letters(data: str | Path | None = None) -> Task:
    """A file when given; otherwise a generated 4-word set of 500 (seed 0), like Kojima et al.'s."""
    return generated_task() if data is None else load_last_letters_file(data)
