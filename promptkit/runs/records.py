"""Reading run folders' records back (summary.json, sweep.json, orders.json), checked.

A run folder may come from someone else, or be damaged: each record is read as text (UTF-8, not
binary, within a size), parsed, and checked against the fields its readers use, so a bad one is one
line naming the file and the field rather than a crash in the middle of a report.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from promptkit.errors import PromptkitError
from promptkit.files.jsonl import read_json
from promptkit.files.paths import FileKind, MiB, check_input_file

RECORD = FileKind("a run record (JSON)", 64 * MiB, read_json)


class _Record(BaseModel):
    model_config = ConfigDict(extra="allow")


class SummaryRecord(_Record):
    """The fields of summary.json that the report, the viewer and the command line read."""

    task: str
    method: str
    n: int = Field(ge=0)
    accuracy: float = Field(ge=0, le=1)
    ci95: tuple[float, float]
    engine_calls: int = Field(ge=0)
    prompt_tokens: int = Field(ge=0)
    completion_tokens: int = Field(ge=0)
    wall_seconds: float = Field(ge=0)
    options: dict[str, Any] = {}
    task_meta: dict[str, Any] = {}

    @field_validator("accuracy", "wall_seconds")
    @classmethod
    def _finite(cls, value: float) -> float:
        if not math.isfinite(value):
            raise ValueError("must be a finite number")
        return value


class SweepPoint(_Record):
    values: dict[str, Any]
    run: str
    summary: SummaryRecord


class SweepRecord(_Record):
    fields: list[str]
    points: list[SweepPoint]


class OrdersRecord(_Record):
    orders: int = Field(ge=1)
    accuracy: list[float]
    mean: float
    min: float
    max: float
    std: float
    flipped: int = Field(ge=0)


def read_record(path: Path, model: type[_Record]) -> dict[str, Any]:
    """The file's JSON object, checked against `model`; its own keys kept as they are."""
    data = check_input_file("run record", path, RECORD)
    try:
        model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(top level)"
        raise PromptkitError(f"run record {path}: {where}: {first['msg']}") from None
    return data


def read_summary(path: Path) -> dict[str, Any]:
    return read_record(path, SummaryRecord)
