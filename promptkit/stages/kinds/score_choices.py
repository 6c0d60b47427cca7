"""Multiple choice by likelihood: each choice scored as a continuation of the prompt, all in one engine call.

As lm-evaluation-harness's `output_type: multiple_choice` and OpenICL's PPL inferencer: the prompt is
the context, each choice (the target delimiter, then the label) a continuation; the prediction is
the choice with the highest log-probability (`acc`), and `prediction_norm` the highest
log-probability per character of the choice (lm-eval's `acc_norm`, which divides by the choice's
length without the delimiter). The choices are the task's labels (` A`..` E`), or with `continuations: texts`
each example's own option texts (lm-eval's ARC and HellaSwag way), the prediction still the option's label.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import Field

from promptkit.engines.base import Engine
from promptkit.errors import PromptkitError
from promptkit.stages.framework.declaration import BuildContext, Metric, Recorded, Scorer, StageKind
from promptkit.stages.framework.prompts import TextPrompt, prompt_variables
from promptkit.stages.framework.spec_fields import SpecModel
from promptkit.types import ScoreRequest, StageRecord, State

NORM_OUTPUT = "prediction_norm"
Continuations = Literal["labels", "texts"]


@dataclass(frozen=True)
class ScoreChoices:
    name: str
    prompt: TextPrompt
    labels: tuple[str, ...]
    delimiter: str = " "
    output: str = "prediction"
    continuations: Continuations = "labels"

    @property
    def reads(self) -> tuple[str, ...]:
        return prompt_variables(self.prompt)

    @property
    def writes(self) -> tuple[str, ...]:
        return ("choice_scores", self.output, NORM_OUTPUT)

    def __call__(self, states: Sequence[State], engine: Engine) -> list[State]:
        contexts: dict[int, tuple[str, list[tuple[str, str]]]] = {}
        out = list(states)
        for i, state in enumerate(states):
            if state.failed:
                continue
            try:
                # a text template: a string
                contexts[i] = (str(self.prompt.build(state.context())), self._options(state))
            except Exception as exc:  # a template that fails on this example's data fails it alone
                out[i] = state.with_error(self.name, exc)
        requests = [
            ScoreRequest(context, self.delimiter + text)
            for context, options in contexts.values()
            for _, text in options
        ]
        scores = engine.score(requests) if requests else []
        start = 0
        for i, (context, options) in contexts.items():
            mine, start = scores[start : start + len(options)], start + len(options)
            table = [
                {"label": label, **self._text(text), "logprob": s.logprob, "tokens": s.tokens, "greedy": s.greedy}
                for (label, text), s in zip(options, mine)
            ]
            best = argmax([s.logprob for s in mine])
            best_norm = argmax([s.logprob / max(1, len(text)) for (_, text), s in zip(options, mine)])
            record = StageRecord(self.name, context, self.delimiter + options[best][1])
            out[i] = states[i].with_record(
                record,
                choice_scores=table,
                **{self.output: options[best][0], NORM_OUTPUT: options[best_norm][0]},
            )
        return out

    def _text(self, text: str) -> dict[str, str]:
        return {"text": text} if self.continuations == "texts" else {}

    def _options(self, state: State) -> list[tuple[str, str]]:
        """(label, the text scored) per choice: the labels themselves, or this example's option texts."""
        if self.continuations == "labels":
            return [(label, label) for label in self.labels]
        labels, texts = state.example.inputs.get("labels"), state.example.inputs.get("choice_texts")
        if not labels or not texts:
            raise PromptkitError("continuations: texts needs options held as data (example.choices in the task file)")
        return list(zip(labels, texts))


def argmax(values: Sequence[float]) -> int:
    """The first of the highest, as numpy's argmax (ties go to the earlier choice)."""
    return max(range(len(values)), key=lambda k: (values[k], -k))


class ScoreChoicesSpec(SpecModel):
    kind: Literal["score_choices"]
    name: str = Field("score", description="stage name in the trace")
    template: str = Field(description="template name or file of the context (the prompt the choices continue)")
    labels: list[str] | None = Field(None, description="the choices' text; the task's labels by default")
    delimiter: str = Field(" ", description="between the context and each choice (lm-eval's target_delimiter)")
    continuations: Continuations = Field(
        "labels",
        description="what each choice scores: its label, or each example's option text (a task with example.choices)",
    )


def _build(s: ScoreChoicesSpec, ctx: BuildContext) -> ScoreChoices:
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
        s.name, TextPrompt(s.template, ctx.templates), labels, s.delimiter, continuations=s.continuations
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
