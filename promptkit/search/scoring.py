"""Scoring a candidate: the searched method with the candidate's changes, run over examples as any run is
(every call through the engine the search was given: the generation cache, when it has one), logged."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from promptkit.engines.base import Engine
from promptkit.engines.implementing import CountingEngine
from promptkit.engines.placeholder import PlaceholderEngine
from promptkit.runs.build import Built, build
from promptkit.runs.evaluate import RunResult, evaluate
from promptkit.runspec.files import validate
from promptkit.runspec.models import PipelineSpec
from promptkit.search.budget import BudgetSpent, Ledger
from promptkit.search.candidate import Candidate
from promptkit.search.log import SearchLog
from promptkit.tasks import Task
from promptkit.types import GenRequest

Measure = Callable[[RunResult], dict[str, Any]]
"""What a scored run adds to its log line besides accuracy (the entropy of its predictions, say)."""


def work_done(result: RunResult) -> dict[str, Any]:
    s = result.summary
    return {
        "calls": s.engine_calls,
        "cache_hits": s.cache_hits,
        "prompt_tokens": s.prompt_tokens,
        "completion_tokens": s.completion_tokens,
    }


@dataclass
class Scorer:
    task: Task
    """The task searched (its definition and folder; the records scored are given to each call)."""
    method: dict[str, Any]
    """The searched method's spec data (name and options), before a candidate's changes."""
    engine: Engine
    ledger: Ledger
    log: SearchLog
    _cost: int | None = None
    _memo: dict[str, dict[str, Any]] = field(default_factory=dict)
    """This run's finished work: asked again (a rung on the same examples as the last), it is not paid twice."""

    def spec(self, candidate: Candidate) -> PipelineSpec:
        data = {
            "task": {"name": self.task.name},
            "method": {**self.method, **candidate.method_options()},
            "words": dict(candidate.words),
        }
        return validate(data, f"search candidate {candidate.key}", PipelineSpec)

    def built(self, candidate: Candidate, examples: Task) -> Built:
        return build(self.spec(candidate), examples)

    def cost(self, candidate: Candidate) -> int:
        """Engine calls one scoring takes, counted on a placeholder engine (the same for every candidate)."""
        if self._cost is None:
            one = self.task.with_examples(self.task.examples[:1])
            counting = CountingEngine(PlaceholderEngine())
            self.built(candidate, one).pipeline.run(one.examples, counting)
            self._cost = counting.calls
        return self._cost

    def score(self, candidate: Candidate, examples: Task, label: str, measure: Measure | None = None) -> dict[str, Any]:
        """The candidate's accuracy on `examples` (named `label` in the log), and its calls; from the log where
        an earlier run of this search scored it already."""
        work = f"score {candidate.key} on {label}"
        if work in self._memo:
            return self._memo[work]
        entry = self.log.recall(work)
        if entry is None:
            if not self.ledger.afford(self.cost(candidate)):
                raise BudgetSpent(f"{self.ledger.left()} calls left; scoring takes {self.cost(candidate)}")
            built = self.built(candidate, examples)
            result = evaluate(examples, built.pipeline, self.engine, built.extractor, method=self.method["name"])
            metrics = result.summary.metrics
            entry = {
                "work": work,
                **candidate.described(),
                "on": label,
                "examples": len(examples.examples),
                "score": result.summary.accuracy,
                **({"acc_uncalibrated": metrics["acc_uncalibrated"]} if "acc_uncalibrated" in metrics else {}),
                **(measure(result) if measure else {}),
                **work_done(result),
            }
            self.log.write({**entry, "spent": self.ledger.calls + entry["calls"]})
        self.ledger.spend(entry)
        self._memo[work] = entry
        return entry


def logged_generation(
    scorer: Scorer, work: str, requests: Sequence[GenRequest], engine: Engine | None = None
) -> list[list[str]]:
    """One engine call outside a run (proposals, probes): its texts per request, from the log when replayed."""
    entry = scorer.log.recall(work)
    if entry is None:
        if not scorer.ledger.afford(1):
            raise BudgetSpent(f"no call left for {work}")
        counting = CountingEngine(engine or scorer.engine)
        completions = counting.generate(list(requests))
        entry = {
            "work": work,
            "texts": [list(c.texts) for c in completions],
            "calls": counting.calls,
            "prompt_tokens": counting.prompt_tokens,
            "completion_tokens": counting.completion_tokens,
        }
        scorer.log.write({**entry, "spent": scorer.ledger.calls + entry["calls"]})
    scorer.ledger.spend(entry)
    return [list(t) for t in entry["texts"]]
