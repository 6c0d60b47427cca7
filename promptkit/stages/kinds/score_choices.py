"""Multiple choice by likelihood: each choice scored as a continuation of the prompt, all in one engine call.

As lm-evaluation-harness's `output_type: multiple_choice` and OpenICL's PPL inferencer: the prompt is
the context, each choice (the target delimiter, then the label) a continuation; the prediction is
the choice with the highest log-probability (`acc`), and `prediction_norm` the highest
log-probability per character of the choice (lm-eval's `acc_norm`, which divides by the choice's
length without the delimiter).
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


@dataclass(frozen=True)
class ScoreChoices:
    name: str
    prompt: TextPrompt
    labels: tuple[str, ...]
    delimiter: str = " "
    output: str = "prediction"

    @property
    def reads(self) -> tuple[str, ...]:
        return prompt_variables(self.prompt)

    @property
    def writes(self) -> tuple[str, ...]:
        return ("choice_scores", self.output, NORM_OUTPUT)

    def __call__(self, states: Sequence[State], engine: Engine) -> list[State]:
        contexts: dict[int, str] = {}
        out = list(states)
        for i, state in enumerate(states):
            if state.failed:
                continue
            try:
                contexts[i] = str(self.prompt.build(state.context()))  # a text template: a string
            except Exception as exc:  # a template that fails on this example's data fails it alone
                out[i] = state.with_error(self.name, exc)
        requests = [ScoreRequest(contexts[i], self.delimiter + label) for i in contexts for label in self.labels]
        scores = engine.score(requests) if requests else []
        width = len(self.labels)
        for j, i in enumerate(contexts):
            mine = scores[j * width : (j + 1) * width]
            table = [
                {"label": label, "logprob": s.logprob, "tokens": s.tokens, "greedy": s.greedy}
                for label, s in zip(self.labels, mine)
            ]
            best = _argmax([s.logprob for s in mine])
            best_norm = _argmax([s.logprob / max(1, len(label)) for label, s in zip(self.labels, mine)])
            record = StageRecord(self.name, contexts[i], self.delimiter + self.labels[best])
            out[i] = states[i].with_record(
                record,
                choice_scores=table,
                **{self.output: self.labels[best], NORM_OUTPUT: self.labels[best_norm]},
            )
        return out


def _argmax(values: list[float]) -> int:
    """The first of the highest, as numpy's argmax (ties go to the earlier choice)."""
    return max(range(len(values)), key=lambda k: (values[k], -k))


class ScoreChoicesSpec(SpecModel):
    kind: Literal["score_choices"]
    name: str = Field("score", description="stage name in the trace")
    template: str = Field(description="template name or file of the context (the prompt the choices continue)")
    labels: list[str] | None = Field(None, description="the choices' text; the task's labels by default")
    delimiter: str = Field(" ", description="between the context and each choice (lm-eval's target_delimiter)")


def _build(s: ScoreChoicesSpec, ctx: BuildContext) -> ScoreChoices:
    labels = (
        tuple(s.labels) if s.labels else ctx.task.labels or (("yes", "no") if ctx.task.answer_kind == "yes_no" else ())
    )
    if not labels:
        raise PromptkitError(
            f"score_choices needs choices: task {ctx.task.name!r} is a {ctx.task.answer_kind} task without labels "
            "(give labels, or use a task whose answer type is choice)"
        )
    return ScoreChoices(s.name, TextPrompt(s.template, ctx.templates), labels, s.delimiter)


def _acc_norm(states: Sequence[State], scorer: Scorer) -> float | None:
    """acc_norm over the run (acc is the run's accuracy); None where no choice was scored."""
    scored = [s for s in states if NORM_OUTPUT in s.fields]
    if not scored:
        return None
    return sum(s.fields[NORM_OUTPUT] == s.example.target for s in scored) / len(states)


def _table(row: Mapping[str, Any]) -> str:
    best, norm = row.get("prediction"), row.get(NORM_OUTPUT)
    return "choice log-likelihoods: " + " · ".join(
        f"{c['label']} {c['logprob']:.3f} ({c['tokens']} tok{', greedy' if c['greedy'] else ''})"
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
