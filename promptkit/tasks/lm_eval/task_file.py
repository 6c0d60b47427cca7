"""The task file form of an lm-eval task: which task, and where its data lies (a spec's `task.name` may name it)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import Field

from promptkit.errors import PromptkitError
from promptkit.schema import SpecModel, check_model
from promptkit.tasks.definition import TaskDefinition
from promptkit.tasks.lm_eval.convert import lm_eval_definition

KEY = "lm_eval"
"""A task file holding this key names an lm-eval task; any other is a promptkit task file."""


class LmEvalTaskFile(SpecModel):
    lm_eval: str = Field(description="the task's name in lm-eval (promptkit tasks --lm-eval PATTERN lists them)")
    data_files: dict[str, str] | None = Field(
        None,
        description="split name (the task's own: test, validation, train, ...) -> a JSONL, JSON, CSV or Parquet "
        "file relative to this file; absent: the dataset lm-eval's YAML names (the hub, or its cache)",
    )


def read_lm_eval_file(data: dict[str, Any], path: Path) -> TaskDefinition:
    form = check_model(LmEvalTaskFile, data, str(path))
    folder = path.parent
    files = None
    if form.data_files is not None:
        files = {}
        for split, relative in form.data_files.items():
            resolved = (folder / relative).resolve()
            if not resolved.is_relative_to(folder):
                raise PromptkitError(
                    f"{path}: data_files.{split}: {relative} is outside the task file's folder; refused"
                )
            files[split] = str(resolved)
    try:
        return lm_eval_definition(form.lm_eval, files)
    except PromptkitError as exc:
        raise PromptkitError(f"{path}: {exc}") from None
