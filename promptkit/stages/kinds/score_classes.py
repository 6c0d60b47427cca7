"""Classification by label probability, with contextual calibration (Zhao et al. 2021).

Each class is scored by the probability of its words after the prompt (" " + word; a class with several
words, as AGNews's Technology/Science, sums them), renormalised over the classes: `class_probs`. With
`calibrate: content_free`, the same prompt is built with each content-free input ("N/A", "", "[MASK]") in
place of the question, in the same engine call; p_cf is the mean of their (unnormalised) class
probabilities, renormalised, and the prediction is the argmax of diag(p_cf)^-1 p, as the reference code
computes it. The prediction before calibration is kept beside it (`prediction_uncalibrated`).

A word's probability is that of its whole continuation (every token); the reference takes the last
token's, which is the same where each word is one token (every label word of the five Zhao tasks is one
SmolLM2 token).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import Field, field_validator

from promptkit.engines.base import Engine
from promptkit.errors import PromptkitError
from promptkit.stages.framework.declaration import BuildContext, Metric, Recorded, Scorer, StageKind
from promptkit.stages.framework.prompts import TextPrompt, prompt_variables
from promptkit.stages.framework.spec_fields import SpecModel
from promptkit.stages.kinds.score_choices import argmax
from promptkit.tasks.definition import check_label_words
from promptkit.types import ScoreRequest, StageRecord, State

Calibration = Literal["none", "content_free"]
CONTENT_FREE_INPUTS = ("N/A", "", "[MASK]")
"""Zhao et al.'s content-free inputs, averaged."""
UNCALIBRATED = "prediction_uncalibrated"
ACC_UNCALIBRATED = "acc_uncalibrated"
"""The metric a calibrated run records beside its accuracy: the same scores, predicted without calibration."""


@dataclass(frozen=True)
class ScoreClasses:
    name: str
    prompt: TextPrompt
    classes: tuple[tuple[str, tuple[str, ...]], ...]
    """(label, the words whose probabilities are summed), in the task's order."""
    calibrate: Calibration = "none"
    content_free: tuple[str, ...] = CONTENT_FREE_INPUTS
    replaces: str = "question"
    """The template variable a content-free input stands in for."""
    delimiter: str = " "
    output: str = "prediction"

    @property
    def reads(self) -> tuple[str, ...]:
        return prompt_variables(self.prompt)

    @property
    def writes(self) -> tuple[str, ...]:
        extra = ("p_cf", UNCALIBRATED, "class_probs_calibrated") if self.calibrate == "content_free" else ()
        return ("class_probs", self.output, *extra)

    def __call__(self, states: Sequence[State], engine: Engine) -> list[State]:
        out = list(states)
        prompts: dict[int, tuple[str, list[str]]] = {}
        for i, state in enumerate(states):
            if state.failed:
                continue
            try:
                context = state.context()
                free = (
                    [self._build({**context, self.replaces: text}) for text in self.content_free]
                    if self.calibrate == "content_free"
                    else []
                )
                prompts[i] = (self._build(context), free)
            except Exception as exc:  # a template that fails on this example's data fails it alone
                out[i] = state.with_error(self.name, exc)
        # One call: every prompt once (examples that share demonstrations share their content-free prompts).
        contexts = list(dict.fromkeys(c for test, free in prompts.values() for c in (test, *free)))
        words = [w for _, ws in self.classes for w in ws]
        requests = [ScoreRequest(c, self.delimiter + w) for c in contexts for w in words]
        scores = engine.score(requests) if requests else []
        logprob = {(r.context, r.continuation): s.logprob for r, s in zip(requests, scores)}
        labels = [label for label, _ in self.classes]
        for i, (test, free) in prompts.items():
            probs = _normalised(self._raw(test, logprob))
            best = labels[argmax(probs)]
            fields: dict[str, Any] = {"class_probs": dict(zip(labels, probs))}
            if free:
                p_cf = _normalised([sum(col) / len(free) for col in zip(*(self._raw(c, logprob) for c in free))])
                calibrated = _normalised([p / q if q > 0 else math.inf for p, q in zip(probs, p_cf)])
                fields |= {
                    "p_cf": dict(zip(labels, p_cf)),
                    "class_probs_calibrated": dict(zip(labels, calibrated)),
                    UNCALIBRATED: best,
                }
                best = labels[argmax(calibrated)]
            state = states[i].with_record(
                StageRecord(self.name, test, self.delimiter + best), **fields, **{self.output: best}
            )
            for c in free:  # what the calibration read, for the trace and `promptkit render`
                state = state.with_record(StageRecord(f"{self.name}:content_free", c, ""))
            out[i] = state
        return out

    def _build(self, variables: Mapping[str, Any]) -> str:
        return str(self.prompt.build(variables))

    def _raw(self, context: str, logprob: Mapping[tuple[str, str], float]) -> list[float]:
        """Each class's probability, unnormalised: the sum over its words."""
        return [sum(math.exp(logprob[(context, self.delimiter + w)]) for w in ws) for _, ws in self.classes]


def _normalised(values: Sequence[float]) -> list[float]:
    total = sum(values)
    if math.isinf(total):  # a class the content-free prompts gave no probability at all: it wins outright
        return [1.0 if math.isinf(v) else 0.0 for v in values]
    return [v / total for v in values] if total > 0 else [1.0 / len(values)] * len(values)


class ScoreClassesSpec(SpecModel):
    kind: Literal["score_classes"]
    name: str = Field("score", description="stage name in the trace")
    template: str = Field(description="template name or file of the prompt the label words continue")
    calibrate: Calibration = Field("none", description="content_free: contextual calibration (Zhao et al.)")
    content_free: list[str] = Field(
        default_factory=lambda: list(CONTENT_FREE_INPUTS),
        min_length=1,
        description="the inputs put in place of the question for calibration, averaged",
    )
    delimiter: str = Field(" ", description="between the prompt and each label word")
    words: dict[str, list[str]] = Field(
        {}, description="the words scored for a class (label -> words), in place of the task's: another label space"
    )

    @field_validator("words")
    @classmethod
    def _each_class_has_words(cls, words: dict[str, list[str]]) -> dict[str, list[str]]:
        check_label_words(words)
        return words


def _build(s: ScoreClassesSpec, ctx: BuildContext) -> ScoreClasses:
    labels = ctx.task.labels
    if ctx.task.answer_kind != "choice" or not labels:
        raise PromptkitError(
            f"score_classes needs a classification task (answer type choice, with labels): task {ctx.task.name!r} "
            f"is a {ctx.task.answer_kind} task"
        )
    answer = ctx.task.definition.answer if ctx.task.definition else None
    unknown = sorted(set(s.words) - set(labels))
    if unknown:
        raise PromptkitError(f"score_classes: words: {unknown[0]!r} is not a class of task {ctx.task.name!r}")
    classes = tuple(
        (label, tuple(s.words.get(label) or (answer.words_of(label) if answer else [label]))) for label in labels
    )
    return ScoreClasses(
        s.name,
        TextPrompt(s.template, ctx.templates),
        classes,
        s.calibrate,
        tuple(s.content_free),
        delimiter=s.delimiter,
    )


def _acc_uncalibrated(states: Sequence[State], scorer: Scorer) -> float | None:
    """Accuracy before calibration, where the run calibrated (its accuracy is the calibrated one)."""
    scored = [s for s in states if UNCALIBRATED in s.fields]
    if not scored:
        return None
    return sum(s.fields[UNCALIBRATED] == s.example.target for s in scored) / len(states)


def _p_cf(states: Sequence[State], scorer: Scorer) -> dict[str, float] | None:
    """The content-free class probabilities, averaged over the run's examples (one demonstration set: one p_cf)."""
    rows = [s.fields["p_cf"] for s in states if "p_cf" in s.fields]
    if not rows:
        return None
    return {label: sum(r[label] for r in rows) / len(rows) for label in rows[0]}


def _shares(field: str) -> Callable[[Sequence[State], Scorer], dict[str, float] | None]:
    """The share of the run's examples predicted as each class (majority-label and recency bias show here)."""

    def compute(states: Sequence[State], scorer: Scorer) -> dict[str, float] | None:
        scored = [s for s in states if "class_probs" in s.fields and field in s.fields]
        if not scored:
            return None
        labels = list(scored[0].fields["class_probs"])
        return {label: sum(s.fields[field] == label for s in scored) / len(scored) for label in labels}

    return compute


def _probs(row: Mapping[str, Any]) -> str:
    calibrated = row.get("class_probs_calibrated")
    shown = " · ".join(
        f"{label} {p:.3f}" + (f" → {calibrated[label]:.3f}" if calibrated else "")
        for label, p in row["class_probs"].items()
    )
    before = f" (uncalibrated: {row[UNCALIBRATED]})" if UNCALIBRATED in row else ""
    return f"class probabilities{' → calibrated' if calibrated else ''}: {shown}{before}"


RECORDS = (
    Recorded("class_probs", "class probabilities", show=_probs),
    Recorded("class_probs_calibrated", "calibrated", show=lambda row: None),  # shown with class_probs
    Recorded("p_cf", "content-free probabilities", show=lambda row: None),
    Recorded(UNCALIBRATED, "prediction before calibration", show=lambda row: None),
)
METRICS = (
    Metric(ACC_UNCALIBRATED, "accuracy before contextual calibration", _acc_uncalibrated, share=True),
    Metric("p_cf", "content-free class probabilities (mean over the run)", _p_cf, curve=True, probability=True),
    Metric("predicted", "share of the examples predicted as each class", _shares("prediction"), curve=True, share=True),
    Metric("predicted_uncalibrated", "the same before calibration", _shares(UNCALIBRATED), curve=True, share=True),
)

KINDS = (
    StageKind(ScoreClassesSpec, _build, calls_model=True, templates=("template",), records=RECORDS, metrics=METRICS),
)
