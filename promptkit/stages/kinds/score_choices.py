"""Multiple choice by likelihood: each choice scored as a continuation of the prompt, all in one engine call.

As lm-evaluation-harness's `output_type: multiple_choice` and OpenICL's PPL inferencer: the prompt is
the context, each choice (the target delimiter, then the label) a continuation; the prediction is
the choice with the highest log-probability (`acc`), and `prediction_norm` the highest
log-probability per character of the choice (lm-eval's `acc_norm`, which divides by the choice's
length without the delimiter). The choices are the task's labels (` A`..` E`), or with `continuations: texts`
each example's own option texts (lm-eval's ARC and HellaSwag way), the prediction still the option's label; or
with `continuations: pairs` the (context, continuation) pairs an lm-eval task's own code made for the example
(stage lm_eval_requests), a context per option where the task has one (winogrande).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import Field, model_validator

from promptkit.engines.base import Engine
from promptkit.errors import PromptkitError
from promptkit.stages.framework.declaration import BuildContext, Metric, Recorded, Scorer, StageKind
from promptkit.stages.framework.prompts import TextPrompt, prompt_variables
from promptkit.stages.framework.spec_fields import SpecModel
from promptkit.types import ScoreRequest, StageRecord, State

NORM_OUTPUT = "prediction_norm"
PAIRS = "choice_pairs"
Continuations = Literal["labels", "texts", "pairs"]


@dataclass(frozen=True)
class Option:
    label: str
    context: str
    continuation: str
    text: str
    """What acc_norm divides by the length of: the option without the delimiter."""


@dataclass(frozen=True)
class ScoreChoices:
    name: str
    prompt: TextPrompt | None
    labels: tuple[str, ...]
    delimiter: str = " "
    output: str = "prediction"
    continuations: Continuations = "labels"

    @property
    def reads(self) -> tuple[str, ...]:
        return (PAIRS,) if self.prompt is None else prompt_variables(self.prompt)

    @property
    def writes(self) -> tuple[str, ...]:
        return ("choice_scores", self.output, NORM_OUTPUT)

    def __call__(self, states: Sequence[State], engine: Engine) -> list[State]:
        asked: dict[int, list[Option]] = {}
        out = list(states)
        for i, state in enumerate(states):
            if state.failed:
                continue
            try:
                asked[i] = self._options(state)
            except Exception as exc:  # a template that fails on this example's data fails it alone
                out[i] = state.with_error(self.name, exc)
        requests = [ScoreRequest(o.context, o.continuation) for options in asked.values() for o in options]
        scores = engine.score(requests) if requests else []
        start = 0
        for i, options in asked.items():
            mine, start = scores[start : start + len(options)], start + len(options)
            table = [
                {"label": o.label, **self._text(o.text), "logprob": s.logprob, "tokens": s.tokens, "greedy": s.greedy}
                for o, s in zip(options, mine)
            ]
            best = argmax([s.logprob for s in mine])
            best_norm = argmax([s.logprob / max(1, len(o.text)) for o, s in zip(options, mine)])
            record = StageRecord(self.name, options[best].context, options[best].continuation)
            out[i] = states[i].with_record(
                record,
                choice_scores=table,
                **{self.output: options[best].label, NORM_OUTPUT: options[best_norm].label},
            )
        return out

    def _text(self, text: str) -> dict[str, str]:
        return {"text": text} if self.continuations != "labels" else {}

    def _options(self, state: State) -> list[Option]:
        """Each choice's label, context, continuation and text: the labels themselves after the prompt, this
        example's option texts after it, or the pairs an earlier stage wrote."""
        if self.prompt is None:
            return [Option(**pair) for pair in state.fields[PAIRS]]
        context = str(self.prompt.build(state.context()))  # a text template: a string
        if self.continuations == "labels":
            return [Option(label, context, self.delimiter + label, label) for label in self.labels]
        labels, texts = state.example.inputs.get("labels"), state.example.inputs.get("choice_texts")
        if not labels or not texts:
            raise PromptkitError("continuations: texts needs options held as data (example.choices in the task file)")
        return [Option(label, context, self.delimiter + text, text) for label, text in zip(labels, texts)]


def argmax(values: Sequence[float]) -> int:
    """The first of the highest, as numpy's argmax (ties go to the earlier choice)."""
    return max(range(len(values)), key=lambda k: (values[k], -k))


class ScoreChoicesSpec(SpecModel):
    kind: Literal["score_choices"]
    name: str = Field("score", description="stage name in the trace")
    template: str | None = Field(
        None, description="template name or file of the context (the prompt the choices continue); not with pairs"
    )
    labels: list[str] | None = Field(None, description="the choices' text; the task's labels by default")
    delimiter: str = Field(" ", description="between the context and each choice (lm-eval's target_delimiter)")
    continuations: Continuations = Field(
        "labels",
        description="what each choice scores: its label, each example's option text (a task with example.choices), "
        "or the (context, continuation) pairs of an lm-eval task (after stage lm_eval_requests)",
    )

    @model_validator(mode="after")
    def _a_template_unless_pairs(self):
        if (self.template is None) != (self.continuations == "pairs"):
            raise ValueError("give a template, except with continuations: pairs (whose contexts are given)")
        return self


def _build(s: ScoreChoicesSpec, ctx: BuildContext) -> ScoreChoices:
    if s.continuations == "pairs":
        return ScoreChoices(s.name, None, ctx.task.labels, s.delimiter, continuations="pairs")
    labels = (
        tuple(s.labels) if s.labels else ctx.task.labels or (("yes", "no") if ctx.task.answer_kind == "yes_no" else ())
    )
    if not labels:
        raise PromptkitError(
            f"score_choices needs choices: task {ctx.task.name!r} is a {ctx.task.answer_kind} task without labels "
            "(give labels, or use a task whose answer type is choice)"
        )
    definition = ctx.task.definition
    if s.continuations == "texts" and (definition is None or definition.example.choices is None):
        raise PromptkitError(
            f"score_choices continuations: texts needs options held as data: task {ctx.task.name!r} has no "
            "example.choices"
        )
    return ScoreChoices(
        s.name, TextPrompt(str(s.template), ctx.templates), labels, s.delimiter, continuations=s.continuations
    )


def _acc_norm(states: Sequence[State], scorer: Scorer) -> float | None:
    """acc_norm over the run (acc is the run's accuracy); None where no choice was scored."""
    scored = [s for s in states if NORM_OUTPUT in s.fields]
    if not scored:
        return None
    return sum(s.fields[NORM_OUTPUT] == s.example.target for s in scored) / len(states)


def _table(row: Mapping[str, Any]) -> str:
    best, norm = row.get("prediction"), row.get(NORM_OUTPUT)
    return "choice log-likelihoods: " + " · ".join(
        f"{c['label']}{' ' + repr(c['text']) if 'text' in c else ''} {c['logprob']:.3f} ({c['tokens']} tok{', greedy' if c['greedy'] else ''})"
        + (" ← acc" if c["label"] == best else "")
        + (" ← acc_norm" if c["label"] == norm else "")
        for c in row["choice_scores"]
    )


RECORDS = (
    Recorded("choice_scores", "choice log-likelihoods", show=_table),
    Recorded(NORM_OUTPUT, "prediction by acc_norm", show=lambda row: None),  # marked in the table above
)
ACC_NORM = Metric(
    "acc_norm", "choices scored by likelihood: the best log-probability per character (lm-eval)", _acc_norm, share=True
)

KINDS = (
    StageKind(
        ScoreChoicesSpec, _build, calls_model=True, templates=("template",), records=RECORDS, metrics=(ACC_NORM,)
    ),
)
