"""GSM8K (Cobbe et al., 2021): grade-school math; the gold answer follows '#### '."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from promptkit.errors import PromptkitError
from promptkit.files.jsonl import read_jsonl, text_field
from promptkit.tasks.base import Task
from promptkit.types import Example

HUB_DATASET = "openai/gsm8k"
HUB_CONFIG = "main"


def gold_answer(solution: str) -> str:
    """The text after the last '#### ', as given (thousands separators kept)."""
    return solution.split("#### ")[-1].strip()


def _example(i: int, row: dict[str, Any], where: str) -> Example:
    question = text_field(row, "question", where)
    solution = text_field(row, "answer", where)
    if "#### " not in solution:
        raise PromptkitError(f"{where}: the answer has no '#### ' line with the final number")
    gold = gold_answer(solution)
    if not gold:
        raise PromptkitError(f"{where}: the gold answer after '#### ' is empty")
    # Stripped, as Kojima et al.'s reference reader does.
    return Example(id=str(i), inputs={"question": question.strip(), "solution": solution}, target=gold)


def _examples(rows: Iterable[dict[str, Any]], where: str) -> tuple[Example, ...]:
    return tuple(_example(i, row, f"{where}: record {i + 1}") for i, row in enumerate(rows))


def load_gsm8k_file(path: str | Path) -> Task:
    """A local JSONL file in the original format: {"question", "answer"} per line."""
    examples = tuple(_example(i, row, f"{path}:{line_no}") for i, (line_no, row) in enumerate(read_jsonl(path)))
    if not examples:
        raise PromptkitError(f"{path}: no examples")
    return Task("gsm8k", examples, "number", str(path))


def load_gsm8k_hub(split: str = "test", dataset: str = HUB_DATASET, config: str = HUB_CONFIG) -> Task:
    """Through `datasets`: the hub dataset by default, or a local folder laid out like it."""
    import datasets

    try:
        data = datasets.load_dataset(dataset, config, split=split)
    except Exception as exc:  # datasets raises many types; all mean the source cannot be read
        raise PromptkitError(
            f"cannot load GSM8K from {dataset!r} (config {config!r}, split {split!r}): {exc}"
        ) from None
    return Task("gsm8k", _examples(data, dataset), "number", f"{dataset}:{config}:{split}")


def load_gsm8k(data: str | Path | None = None, split: str = "test") -> Task:
    if data is None:
        return load_gsm8k_hub(split)
    if Path(data).is_dir():
        return load_gsm8k_hub(split, dataset=str(data))
    return load_gsm8k_file(data)
