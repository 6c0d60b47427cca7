"""Run a method over a task, score it, and write predictions.jsonl and summary.json."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from promptkit.engines.base import Engine, EngineStats
from promptkit.engines.implementing import CountingEngine
from promptkit.runs.folders import write_run_folder
from promptkit.runs.metrics import wilson_interval
from promptkit.runs.records import RunSummary
from promptkit.stages.framework.pipeline import Pipeline
from promptkit.stages.library.extractors import Extractor
from promptkit.stages.stage_kinds import METRICS, RECORDED
from promptkit.tasks.base import Task
from promptkit.types import State


@dataclass(frozen=True)
class RunResult:
    states: tuple[State, ...]
    summary: RunSummary
    rows: tuple[dict[str, Any], ...] = ()
    """What predictions.jsonl holds, one row per example."""

    @property
    def accuracy(self) -> float:
        return self.summary.accuracy


def prediction_rows(states: Sequence[State], extractor: Extractor) -> list[dict[str, Any]]:
    """One row per example: the common fields, then what the stages declared they record."""
    rows = []
    for s in states:
        prediction = s.fields.get("prediction")
        rows.append(
            {
                "id": s.example.id,
                "question": s.example.inputs.get("question"),
                "gold": s.example.target,
                "prediction": prediction,
                "correct": extractor.score(prediction, s.example.target),
                "trace": [r.to_json() for r in s.trace],
                **{r.field: r.row(s.fields[r.field]) for r in RECORDED if r.field in s.fields},
                **({"error": s.error} if s.failed else {}),
            }
        )
    return rows


def run_metrics(states: Sequence[State], extractor: Extractor) -> dict[str, Any]:
    """Every declared metric that applies to this run."""
    computed = ((m.name, m.compute(states, extractor.score)) for m in METRICS)
    return {name: value for name, value in computed if value is not None}


def evaluate(
    task: Task,
    pipeline: Pipeline,
    engine: Engine,
    extractor: Extractor,
    *,
    method: str,
    out_dir: str | Path | None = None,
    options: dict[str, Any] | None = None,
    progress: bool = False,
) -> RunResult:
    """Run and score; with out_dir, write the run folder (promptkit.runs.folders). Options go in the summary."""
    counting = CountingEngine(engine)
    before = engine.stats()  # an engine may serve several runs: this run's share is the difference
    start = time.perf_counter()
    states = pipeline.run(task.examples, counting, progress=progress)
    wall = time.perf_counter() - start
    after = engine.stats()
    # An engine that counts nothing (no cache) sent every request to the model.
    stats = _difference(after, before) if after is not None and before is not None else None
    rows = prediction_rows(states, extractor)
    correct = sum(r["correct"] for r in rows)
    n = len(rows)
    low, high = wilson_interval(correct, n)
    fields: dict[str, Any] = {
        "task": task.name,
        "data": task.source,
        "task_meta": dict(task.meta),
        "method": method,
        "engine": engine.identity.kind,
        "model": engine.identity.model,
        "model_revision": engine.identity.revision,
        "extractor": extractor.name,
        "n": n,
        "correct": correct,
        "accuracy": correct / n if n else 0.0,
        "ci95": [low, high],
        "unparsed": sum(r["prediction"] is None for r in rows),
        "failed": sum(s.failed for s in states),
        "left_out": task.left_out.as_dict() if task.left_out else None,
        # Stage calls and their requests, whether the cache or the model answered them ...
        "engine_calls": counting.calls,
        "requests": counting.requests,
        "cache_hits": stats.hits if stats else 0,
        "cache_misses": stats.misses if stats else counting.requests,
        # ... and what reached the model itself.
        "model_calls": stats.model_calls if stats else counting.calls,
        "generated_tokens": stats.generated_tokens if stats else counting.completion_tokens,
        "cached_tokens": stats.served_tokens if stats else 0,
        "prompt_tokens": counting.prompt_tokens,
        "completion_tokens": counting.completion_tokens,
        "wall_seconds": round(wall, 3),
        "options": options or {},
        "metrics": run_metrics(states, extractor),
    }
    summary = RunSummary(**fields)
    if out_dir is not None:
        write_run_folder(Path(out_dir), rows, summary)
    return RunResult(tuple(states), summary, tuple(rows))


def _difference(after: EngineStats, before: EngineStats) -> EngineStats:
    return EngineStats(**{k: getattr(after, k) - getattr(before, k) for k in vars(after)})
