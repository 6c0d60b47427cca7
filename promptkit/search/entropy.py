"""Lu et al. 2022 ("Fantastically Ordered Prompts"): ranking demonstration sets and orders without labels.

Each candidate's prompt, cut where the next input would start, is continued by the model at temperature 2:
those lines, pooled over the candidates, are the probing set. Every candidate classifies the whole probing
set; GlobalE is the entropy of its predicted labels' histogram (a prompt that predicts one label for
everything scores low), LocalE the mean entropy of each probe's class probabilities."""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Sequence
from typing import Any

from promptkit.engines.scripted import ScriptedEngine
from promptkit.runs.build import Built
from promptkit.runs.evaluate import RunResult
from promptkit.tasks import Task
from promptkit.types import Example, GenRequest, Sampling

PROBES_EACH, PROBE_TOKENS, PROBE_TEMPERATURE = 2, 32, 2.0
"""Probing lines sampled after each candidate's prompt, their most tokens, and Lu et al.'s temperature."""
_SENTINEL = "\x00probe\x00"


def probe_prefix(task: Task, build_for: Callable[[Task], Built]) -> str:
    """A candidate's prompt up to the next input: rendered by its own pipeline, cut at a sentinel input."""
    engine = ScriptedEngine(scorer=lambda context, continuation: -1.0)
    one = task.with_examples((Example("sentinel", {"question": _SENTINEL}, task.labels[0] if task.labels else ""),))
    built = build_for(one)
    built.pipeline.run(one.examples, engine)
    context = engine.score_calls[0][0].context
    return context[: context.index(_SENTINEL)]


def probe_requests(prefixes: Sequence[str], seed: int) -> list[GenRequest]:
    sampling = Sampling(max_tokens=PROBE_TOKENS, temperature=PROBE_TEMPERATURE, n=PROBES_EACH, stop=("\n",), seed=seed)
    return [GenRequest(prefix, sampling) for prefix in prefixes]


def probe_lines(texts: Sequence[Sequence[str]]) -> list[str]:
    """The probing set: every sampled line (the samples of each request), blank ones left out."""
    return [t.strip() for samples in texts for t in samples if t.strip()]


def probe_task(task: Task, lines: Sequence[str]) -> Task:
    """The probing set as examples of the task (their labels are never read)."""
    label = task.labels[0] if task.labels else ""
    return task.with_examples(tuple(Example(f"probe-{i}", {"question": p}, label) for i, p in enumerate(lines)))


def entropy(shares: Sequence[float]) -> float:
    return 0.0 - sum(p * math.log(p) for p in shares if p > 0)  # 0.0, never -0.0, for one class


def entropies(result: RunResult) -> dict[str, Any]:
    """GlobalE and LocalE of a run over the probing set (uncalibrated class probabilities)."""
    histogram = result.summary.metrics["predicted"]
    probs = [s.fields["class_probs"] for s in result.states if "class_probs" in s.fields]
    return {
        "globale": entropy(list(histogram.values())),
        "locale": statistics.fmean(entropy(list(p.values())) for p in probs) if probs else 0.0,
    }
