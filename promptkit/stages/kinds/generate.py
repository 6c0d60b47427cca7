"""Generation: render a template for every example and make one engine call for all of them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Literal

from pydantic import Field

from promptkit.engines.base import Engine
from promptkit.stages.framework.declaration import BuildContext, StageKind
from promptkit.stages.framework.prompts import PromptBuilder, prompt_variables
from promptkit.stages.framework.spec_fields import Prompted, Sampled
from promptkit.stages.framework.stage import call_engine
from promptkit.types import Sampling, StageRecord, State


@dataclass(frozen=True)
class Generate:
    """One request per example, all in one engine call; the text goes to `output`.

    With n > 1 each example splits into n states, one per sample, each holding its own text: later
    stages map over the samples and a reducer (vote, first) joins them.
    """

    name: str
    prompt: PromptBuilder
    output: str
    sampling: Sampling = field(default_factory=Sampling)

    @property
    def reads(self) -> tuple[str, ...]:
        return prompt_variables(self.prompt)

    @property
    def writes(self) -> tuple[str, ...]:
        return (self.output,)

    def __call__(self, states: Sequence[State], engine: Engine) -> list[State]:
        out: list[State] = []
        for call in call_engine(self.name, states, self.prompt, self._sampling, engine):
            state, completion = call.state, call.completion
            if completion is None or call.prompt is None:
                out.append(state)
            elif state.sample is not None or self.sampling.n == 1:
                text = completion.text
                record = StageRecord(self.name, call.prompt, text, sample=state.sample)
                out.append(state.with_record(record, **{self.output: text}))
            else:
                for k, text in enumerate(completion.texts):
                    record = StageRecord(self.name, call.prompt, text, sample=k)
                    out.append(replace(state.with_record(record, **{self.output: text}), sample=k))
        return out

    def _sampling(self, state: State) -> Sampling:
        # A state that is already one sample asks for one more text: its own.
        return self.sampling if state.sample is None else replace(self.sampling, n=1)


class GenerateSpec(Prompted, Sampled):
    kind: Literal["generate"]
    name: str = Field("answer", description="stage name in the trace")
    output: str = Field("answer", description="field that receives the text")


def _build(s: GenerateSpec, ctx: BuildContext) -> Generate:
    return Generate(s.name, s.prompt(ctx.templates), s.output, s.sampling())


KINDS = (
    StageKind(
        GenerateSpec, _build, calls_model=True, generates=True, templates=("template", "chat.user", "chat.assistant")
    ),
)
