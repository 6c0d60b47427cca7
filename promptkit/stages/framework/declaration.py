"""What a stage kind declares, and what a stage's factory is given.

A stage kind is one module under `promptkit.stages.kinds` that exposes `KINDS`: for each kind its
spec model (the `pipeline:` entry, with `kind: Literal[...]`), its factory, whether it calls the
model, which of its fields name files, the fields it records in each prediction row and the metrics
it computes over a run. The spec union, the builder, the flow check, the path policy, the run record,
the viewer and the report are all derived from these (`promptkit.stages.stage_kinds`); the
stage object itself says what it reads and writes (`Stage.reads`, `Stage.writes`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, get_args

from pydantic import BaseModel

if TYPE_CHECKING:  # stage modules import this one: it imports none of them
    from promptkit.stages.framework.stage import Stage
    from promptkit.stages.framework.templating import Templates
    from promptkit.tasks.base import Task
    from promptkit.types import State


@dataclass(frozen=True)
class BuildContext:
    """What a stage's factory may use besides its own spec."""

    task: Task
    templates: Templates
    extractor: str
    """The name of the run's scoring extractor."""
    reasoner: Callable[[Task, int], Stage]
    """reasoner(questions, max_tokens): a zero-shot-CoT pipeline, for stages whose demonstrations the model writes."""


def _as_is(value: Any) -> Any:
    return value


@dataclass(frozen=True)
class Recorded:
    """A field a stage writes that predictions.jsonl keeps beside the prediction, and how the viewer shows it."""

    field: str
    label: str
    """The viewer's name for it."""
    row: Callable[[Any], Any] = _as_is
    """The value as predictions.jsonl holds it (e.g. demonstrations by id)."""
    show: Callable[[Mapping[str, Any]], str | None] | None = None
    """The viewer's line from the whole prediction row (None: hidden); `label: value` by default."""

    def line(self, row: Mapping[str, Any]) -> str | None:
        if self.field not in row or row[self.field] is None:
            return None
        if self.show is not None:
            return self.show(row)
        return f"{self.label}: {json.dumps(row[self.field], ensure_ascii=False)}"


Scorer = Callable[[Any, "str | None"], bool]
"""scorer(answer, gold): whether an answer is right, by the run's extractor."""

MetricValue = float | dict[str, float]


@dataclass(frozen=True)
class Metric:
    """A figure a stage kind computes over a run's final states, kept in summary.json's `metrics`."""

    name: str
    description: str
    compute: Callable[[Sequence[State], Scorer], MetricValue | None]
    """The figure, or None where the run has nothing to measure (the stage did not run)."""
    curve: bool = False
    """A map from k to a value (as maj@k) rather than one number."""
    share: bool = False
    """Its values are shares of the examples in [0, 1] (an accuracy), shown as percentages; the run record refuses
    values outside [0, 1]."""
    probability: bool = False
    """Its values are probabilities (a model's), shown as such: 0.412, not 41.2%."""
    label: str = ""
    """A table column's heading (the name by default)."""

    @property
    def heading(self) -> str:
        return self.label or self.name

    def show(self, value: MetricValue) -> str:
        """The one format of its kind, on every page and table: shares as percentages, probabilities to 3 places."""
        if isinstance(value, dict):
            return " · ".join(f"{k}: {self._one(v)}" for k, v in value.items())
        return self._one(value)

    def _one(self, value: float) -> str:
        if self.share:
            return f"{value:.1%}"
        return f"{value:.3f}" if self.probability else f"{value:.4g}"


@dataclass(frozen=True)
class StageKind:
    spec: type[BaseModel]
    build: Callable[[Any, BuildContext], Stage]
    calls_model: bool = False
    """Whether it sends requests to the engine (such a stage has a name, unique in its pipeline)."""
    generates: bool = False
    """Whether those requests are generations, whose texts its trace records keep (not likelihood scores)."""
    untraced_calls: bool = False
    """Whether it calls the engine without keeping the calls in the trace (Auto-CoT writing its demonstrations)."""
    files: tuple[str, ...] = ()
    """Dotted fields naming data files (relative to a spec's folder; what a spec may read)."""
    templates: tuple[str, ...] = ()
    """Dotted fields naming templates: a shipped or template_dirs name, or a file."""
    records: tuple[Recorded, ...] = ()
    """Fields it writes that each prediction row keeps."""
    metrics: tuple[Metric, ...] = ()
    """Figures it computes over the run (summary.json `metrics`)."""
    options: Callable[[Any], dict[str, Any]] | None = None
    """options(spec): what a run's summary records of such a stage in a written-out pipeline (shots, ablations)."""
    extractor: Callable[[Any], str | None] | None = None
    """extractor(spec): the extractor such a stage names; the last one named scores the run unless the spec says."""

    @property
    def orders_demonstrations(self) -> bool:
        """Whether its spec takes a demonstration order and its seed (what an order study varies)."""
        return {"order", "order_seed"} <= set(self.spec.model_fields)

    @property
    def name(self) -> str:
        return get_args(self.spec.model_fields["kind"].annotation)[0]
