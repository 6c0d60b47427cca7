"""lm-eval's own requests for each example of an lm-eval task: the k-shot prompt its evaluator builds
(`fewshot_context` under its seed) and, for multiple choice, the (context, continuation) pairs its
`construct_requests` makes. No model call: the stages after it send them (generate, score_choices)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal

from pydantic import Field

from promptkit.engines.base import Engine
from promptkit.errors import PromptkitError
from promptkit.schema import CountFromZero, Seed
from promptkit.stages.framework.declaration import BuildContext, StageKind
from promptkit.stages.framework.spec_fields import SpecModel
from promptkit.tasks.lm_eval.source import FEWSHOT_SEED, LmEvalSource
from promptkit.types import State

PROMPT = "lm_eval_prompt"
PAIRS = "choice_pairs"
DOC = "lm_eval_doc"


@dataclass(frozen=True)
class LmEvalRequests:
    source: LmEvalSource
    shots: int
    seed: int = FEWSHOT_SEED
    name: str = "lm_eval_requests"

    @property
    def choices(self) -> bool:
        return self.source.facts.output_type == "multiple_choice"

    @property
    def reads(self) -> tuple[str, ...]:
        return (DOC,)

    @property
    def writes(self) -> tuple[str, ...]:
        return (PROMPT, PAIRS) if self.choices else (PROMPT,)

    def __call__(self, states: Sequence[State], engine: Engine) -> list[State]:
        live = [s for s in states if not s.failed]
        if not live:
            return list(states)
        prompts = self.source.prompts(self.shots, self.seed, 1 + max(int(s.example.inputs[DOC]) for s in live))
        out = []
        for state in states:
            if state.failed:
                out.append(state)
                continue
            index = int(state.example.inputs[DOC])
            context = prompts[index]
            fields: dict[str, Any] = {PROMPT: context if isinstance(context, str) else None}
            if self.choices:
                labels = state.example.inputs["labels"]
                fields[PAIRS] = [asdict(c) for c in self.source.choices(index, context, labels)]
            out.append(state.with_fields(**fields))
        return out


class LmEvalRequestsSpec(SpecModel):
    kind: Literal["lm_eval_requests"]
    shots: CountFromZero | None = Field(None, description="demonstrations per prompt (default: the task's num_fewshot)")
    seed: Seed = Field(FEWSHOT_SEED, description="lm-eval's few-shot sampler's seed (its evaluator's: 1234)")


def _build(s: LmEvalRequestsSpec, ctx: BuildContext) -> LmEvalRequests:
    source = ctx.task.lm_eval
    if source is None:
        raise PromptkitError(
            f"lm_eval_requests needs a task of lm-evaluation-harness (--task lm-eval:NAME), and {ctx.task.name!r} "
            "is not one"
        )
    return LmEvalRequests(source, source.facts.num_fewshot if s.shots is None else s.shots, s.seed)


KINDS = (StageKind(LmEvalRequestsSpec, _build),)
