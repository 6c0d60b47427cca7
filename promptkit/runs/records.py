"""Reading run folders' records back (summary.json, sweep.json, spread.json), checked.

A run folder may come from someone else, or be damaged: each record is read as text (UTF-8, not
binary, within a size), parsed, and checked against the fields its readers use, so a bad one is one
line naming the file and the field rather than a crash in the middle of a report.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model, field_validator, model_validator

from promptkit.errors import PromptkitError
from promptkit.files.jsonl import read_json
from promptkit.files.paths import FileKind, MiB, check_input_file
from promptkit.stages.framework.declaration import Metric
from promptkit.stages.stage_kinds import METRICS

RESOLVED_SPEC_FILE = "spec.resolved.yaml"
"""Beside every run's summary: the whole spec, every default filled in, which alone reproduces the run."""

RECORD = FileKind("a run record (JSON)", 64 * MiB, read_json)


class _Record(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)


class _MetricsBase(_Record):
    """A run's metrics, by name (a metric a newer promptkit computes is kept as it is)."""

    def get(self, name: str, default: Any = None) -> Any:
        value = getattr(self, name, None)
        if value is None:
            value = (self.model_extra or {}).get(name)
        return default if value is None else value

    def __getitem__(self, name: str) -> Any:
        value = self.get(name)
        if value is None:
            raise KeyError(name)
        return value

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self.get(name) is not None

    def present(self) -> dict[str, Any]:
        """The metrics this run has, by name."""
        return self.model_dump(exclude_none=True)


def _metric_field(metric: Metric) -> Any:
    bounds: dict[str, Any] = {"ge": 0, "le": 1} if metric.share or metric.probability else {}
    value = Annotated[float, Field(allow_inf_nan=False, **bounds)]
    kind = dict[str, value] if metric.curve else value
    return (kind | None, Field(None, description=metric.description))


Metrics = create_model(  # one typed field per metric the stage kinds declare
    "Metrics", __base__=_MetricsBase, **{m.name: _metric_field(m) for m in METRICS}
)
METRIC_NAMES = tuple(m.name for m in METRICS)


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
    left_out: dict[str, Any] | None = Field(
        None,
        description="records of the set not taken: {filtered (by the task's keep test), skipped (a gold answer that "
        "does not fit), first_skipped (the first few, 'file:line: why')}; absent when every record was taken",
    )
    engine_calls: int = Field(
        ge=0, description="batched calls the stages made, whether the cache or the model answered"
    )
    requests: int = Field(0, ge=0)
    cache_hits: int = Field(0, ge=0)
    cache_misses: int = Field(0, ge=0)
    model_calls: int = Field(0, ge=0, description="calls that reached the model")
    generated_tokens: int = Field(0, ge=0, description="tokens the model generated in this run")
    cached_tokens: int = Field(0, ge=0, description="completion tokens the cache served")
    prompt_tokens: int = Field(
        ge=0, description="every request's prompt, or scored context, in the engine's tokens (0: it has no tokenizer)"
    )
    completion_tokens: int = Field(ge=0, description="every completion, or scored continuation (a class's words)")
    wall_seconds: float = Field(ge=0)
    options: dict[str, Any] = Field({}, description="the method's options the run used (or the pipeline's shape)")
    metrics: Metrics = Field(
        default_factory=lambda: Metrics(), description="the figures the pipeline's stages computed (each stage kind "
        "declares its own: promptkit.stages.stage_kinds.METRICS)",
    )  # fmt: skip

    @model_validator(mode="before")
    @classmethod
    def _metrics_at_top(cls, data: Any) -> Any:
        """Older summaries kept the metrics beside the common fields: they move into `metrics`."""
        if isinstance(data, dict) and any(name in data for name in METRIC_NAMES):
            data = dict(data)
            moved = {name: data.pop(name) for name in METRIC_NAMES if name in data}
            data["metrics"] = {**moved, **dict(data.get("metrics") or {})}
        return data

    @field_validator("accuracy", "wall_seconds")
    @classmethod
    def _finite(cls, value: float) -> float:
        if not math.isfinite(value):
            raise ValueError("must be a finite number")
        return value

    @property
    def measure(self) -> str:
        """What its accuracy is: the task's own metric where the task names one (an lm-eval task's acc,
        exact_match), else accuracy."""
        return str(self.task_meta.get("metric") or "accuracy")

    def to_json(self) -> str:
        return self.model_dump_json(indent=2, exclude_none=True) + "\n"


def metric_columns(summaries: Sequence[RunSummary]) -> list[Metric]:
    """The one-number metrics any of these runs has, in declaration order: a table's extra columns."""
    return [m for m in METRICS if not m.curve and any(s.metrics.get(m.name) is not None for s in summaries)]


def metric_cell(summary: RunSummary, metric: Metric) -> str:
    value = summary.metrics.get(metric.name)
    return "" if value is None else metric.show(value)


def _moved_metric(name: str) -> property:
    def read(self: RunSummary) -> Any:
        warnings.warn(
            f"RunSummary.{name} is deprecated: use RunSummary.metrics.get({name!r})", DeprecationWarning, stacklevel=2
        )
        return self.metrics.get(name)

    return property(read)


# Kept for one release: these were fields of their own before stages declared their metrics.
for _name in ("acc_norm", "maj_at_k", "demos_used_mean"):
    setattr(RunSummary, _name, _moved_metric(_name))


class Described(_Record):
    mean: float
    std: float = Field(ge=0)
    min: float
    max: float


class SpreadRecord(_Record):
    """spread.json: one configuration over seeds and orders (orders.json, from before seeds, reads the same)."""

    seeds: int | None = Field(None, ge=1)
    orders: int | None = Field(None, ge=1)
    runs: list[str] = []
    accuracy: list[float]
    mean: float
    min: float
    max: float
    std: float = Field(ge=0)
    metrics: dict[str, Described] = {}
    flipped: int = Field(ge=0)


class SweepPoint(_Record):
    values: dict[str, Any]
    run: str
    summary: RunSummary
    spread: SpreadRecord | None = None


class SweepRecord(_Record):
    fields: list[str]
    points: list[SweepPoint]


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
