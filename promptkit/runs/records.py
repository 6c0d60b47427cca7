"""Reading run folders' records back (summary.json, sweep.json, orders.json), checked.

A run folder may come from someone else, or be damaged: each record is read as text (UTF-8, not
binary, within a size), parsed, and checked against the fields its readers use, so a bad one is one
line naming the file and the field rather than a crash in the middle of a report.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from promptkit.errors import PromptkitError
from promptkit.files.jsonl import read_json
from promptkit.files.paths import FileKind, MiB, check_input_file

RECORD = FileKind("a run record (JSON)", 64 * MiB, read_json)


class _Record(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)


class RunSummary(_Record):
    """summary.json: what a run was and how it scored. Written by `evaluate`, read back (and checked) by the
    command line, the report, the experiments and the viewer; its JSON schema is `promptkit schema --summary`."""

    task: str
    data: str | None = Field(None, description="where the examples came from")
    task_meta: dict[str, Any] = {}
    method: str = Field(description="the method's name (or the spec's)")
    engine: str = ""
    model: str | None = None
    model_revision: str | None = None
    extractor: str = ""
    n: int = Field(ge=0, description="examples")
    correct: int = Field(0, ge=0)
    accuracy: float = Field(ge=0, le=1)
    ci95: tuple[float, float] = Field(description="Wilson 95% interval of the accuracy")
    unparsed: int = Field(0, ge=0, description="examples whose answer could not be parsed")
    failed: int = Field(0, ge=0, description="examples that failed in a stage (see 'error' in predictions.jsonl)")
    engine_calls: int = Field(
        ge=0, description="batched calls the stages made, whether the cache or the model answered"
    )
    requests: int = Field(0, ge=0)
    cache_hits: int = Field(0, ge=0)
    cache_misses: int = Field(0, ge=0)
    model_calls: int = Field(0, ge=0, description="calls that reached the model")
    generated_tokens: int = Field(0, ge=0, description="tokens the model generated in this run")
    cached_tokens: int = Field(0, ge=0, description="completion tokens the cache served")
    prompt_tokens: int = Field(ge=0)
    completion_tokens: int = Field(ge=0)
    wall_seconds: float = Field(ge=0)
    options: dict[str, Any] = Field({}, description="the method's options the run used (or the pipeline's shape)")
    demos_used_mean: float | None = Field(None, description="demonstrations per prompt after packing, on average")
    maj_at_k: dict[str, float] | None = Field(None, description="expected accuracy of a vote over k samples")
    acc_norm: float | None = Field(
        None, ge=0, le=1, description="choices scored by likelihood: the best log-probability per character (lm-eval)"
    )

    @field_validator("accuracy", "wall_seconds")
    @classmethod
    def _finite(cls, value: float) -> float:
        if not math.isfinite(value):
            raise ValueError("must be a finite number")
        return value

    def to_json(self) -> str:
        return self.model_dump_json(indent=2, exclude_none=True) + "\n"


class SweepPoint(_Record):
    values: dict[str, Any]
    run: str
    summary: RunSummary


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


R = TypeVar("R", bound=_Record)


def read_record(path: Path, model: type[R]) -> R:
    """The file's JSON object, checked against `model` (fields a newer promptkit wrote are kept)."""
    data = check_input_file("run record", path, RECORD)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(top level)"
        raise PromptkitError(f"run record {path}: {where}: {first['msg']}") from None


def read_summary(path: Path) -> RunSummary:
    return read_record(path, RunSummary)
