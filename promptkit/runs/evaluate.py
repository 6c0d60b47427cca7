"""Run a method over a task, score it, and write predictions.jsonl and summary.json."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from promptkit.engines.base import CountingEngine, Engine, EngineStats
from promptkit.runs.folders import write_run_folder
from promptkit.runs.metrics import maj_at_k, wilson_interval
from promptkit.runs.records import RunSummary
from promptkit.stages.extractors import Extractor
from promptkit.stages.pipeline import Pipeline
from promptkit.stages.score_choices import choice_metrics
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
                **_recorded_fields(s),
                **({"error": s.error} if s.failed else {}),
            }
        )
    return rows


def maj_curve(states: Sequence[State], extractor: Extractor) -> dict[str, float]:
    """maj@k for k = 1..N, averaged over examples, from the N samples each example drew."""
    samples = [(s.fields.get("samples") or [None], s.example.target) for s in states]
    most = min(len(answers) for answers, _ in samples) if samples else 0
    if most < 2:
        return {}
    return {
        str(k): sum(maj_at_k(answers, lambda a, g=gold: extractor.score(a, g), k) for answers, gold in samples)
        / len(samples)
        for k in range(1, most + 1)
    }


# Per-example facts worth keeping beside the prediction when a method records them.
_EXTRA_FIELDS = (
    "demos_packed", "samples", "votes", "agreement", "failed_samples", "subquestions", "fallback",
    "choice_scores", "prediction_norm",
)  # fmt: skip


def _recorded_fields(state: State) -> dict[str, Any]:
    out = {k: state.fields[k] for k in _EXTRA_FIELDS if k in state.fields}
    if "demos" in state.fields:
        out["demos"] = [d["id"] for d in state.fields["demos"]]  # ids, in prompt order
    return out


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
    }
    packed = [s.fields["demos_packed"] for s in states if "demos_packed" in s.fields]
    if packed:
        fields["demos_used_mean"] = sum(packed) / len(packed)  # after packing into the window
    fields |= choice_metrics(states)  # acc_norm, where choices were scored by likelihood
    curve = maj_curve(states, extractor)
    if curve:
        fields["maj_at_k"] = curve  # the whole self-consistency curve from one run
    summary = RunSummary(**fields)
    if out_dir is not None:
        write_run_folder(Path(out_dir), rows, summary)
    return RunResult(tuple(states), summary, tuple(rows))


def _difference(after: EngineStats, before: EngineStats) -> EngineStats:
    return EngineStats(**{k: getattr(after, k) - getattr(before, k) for k in vars(after)})
