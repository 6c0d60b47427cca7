"""GSM8K (Cobbe et al., 2021): grade-school math; the gold answer follows '#### '."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ..errors import PromptkitError
from ..jsonl import read_jsonl
from ..types import Example
from .base import Task

HUB_DATASET = "openai/gsm8k"
HUB_CONFIG = "main"


def gold_answer(solution: str) -> str:
    """The text after the last '#### ', as given (thousands separators kept)."""
    return solution.split("#### ")[-1].strip()


def _examples(rows: Iterable[dict[str, Any]], where: str) -> tuple[Example, ...]:
    out = []
    for i, row in enumerate(rows):
        if "question" not in row or "answer" not in row:
            raise PromptkitError(f"{where}: record {i + 1} needs 'question' and 'answer' fields")
        out.append(
            Example(
                id=str(i),
                # Stripped, as Kojima et al.'s reference reader does.
                inputs={"question": row["question"].strip(), "solution": row["answer"]},
                target=gold_answer(row["answer"]),
            )
        )
    return tuple(out)


def load_gsm8k_file(path: str | Path) -> Task:
    """A local JSONL file in the original format: {"question", "answer"} per line."""
    rows = []
    for line_no, row in read_jsonl(path):
        if "question" not in row or "answer" not in row:
            raise PromptkitError(f"{path}:{line_no}: a GSM8K line needs 'question' and 'answer'")
        rows.append(row)
    return Task("gsm8k", _examples(rows, str(path)), "number", str(path))


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
