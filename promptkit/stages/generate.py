"""Render a template for every state and make one engine call for all of them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from ..engines.base import Engine
from ..prompts import PromptBuilder
from ..types import GenRequest, Prompt, Sampling, StageRecord, State


@dataclass(frozen=True)
class Generate:
    """One model call per example, all in one batch; the text goes to `output`.

    With n > 1 the field holds the list of samples.
    """

    name: str
    prompt: PromptBuilder
    output: str
    sampling: Sampling = field(default_factory=Sampling)

    def prompts(self, states: Sequence[State]) -> list[Prompt]:
        return [self.prompt.build(s.context()) for s in states]

    def __call__(self, states: Sequence[State], engine: Engine) -> list[State]:
        prompts = self.prompts(states)
        completions = engine.generate([GenRequest(p, self.sampling) for p in prompts])
        out = []
        for state, prompt, completion in zip(states, prompts, completions):
            value = completion.text if self.sampling.n == 1 else list(completion.texts)
            out.append(state.with_record(StageRecord(self.name, prompt, value), **{self.output: value}))
        return out
