"""Prompt length: each example's prompt rendered and counted with the engine's own tokenizer, calling no model.

Records `prompt_token_count` in every prediction row and `prompt_tokens_mean` in summary.json; an engine
that cannot count (a server, a recording) records nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from pydantic import Field

from promptkit.engines.base import Engine
from promptkit.stages.framework.declaration import BuildContext, Metric, Recorded, Scorer, StageKind
from promptkit.stages.framework.prompts import PromptBuilder, prompt_variables
from promptkit.stages.framework.spec_fields import Prompted
from promptkit.stages.framework.stage import map_states
from promptkit.types import State

OUTPUT = "prompt_token_count"


@dataclass(frozen=True)
class CountPromptTokens:
    prompt: PromptBuilder
    name: str = "prompt_tokens"

    @property
    def reads(self) -> tuple[str, ...]:
        return prompt_variables(self.prompt)

    @property
    def writes(self) -> tuple[str, ...]:
        return (OUTPUT,)

    def __call__(self, states: Sequence[State], engine: Engine) -> list[State]:
        tokens = engine.tokens
        if tokens is None:
            return list(states)
        return map_states(
            self.name, states, lambda s: s.with_fields(**{OUTPUT: len(tokens.encode(self.prompt.build(s.context())))})
        )


class PromptTokensSpec(Prompted):
    kind: Literal["prompt_tokens"]
    name: str = Field("prompt_tokens", description="stage name in the trace")


def _mean(states: Sequence[State], scorer: Scorer) -> float | None:
    counts = [s.fields[OUTPUT] for s in states if OUTPUT in s.fields]
    return sum(counts) / len(counts) if counts else None


def _build(s: PromptTokensSpec, ctx: BuildContext) -> CountPromptTokens:
    return CountPromptTokens(s.prompt(ctx.templates), s.name)


KINDS = (
    StageKind(
        PromptTokensSpec,
        _build,
        templates=("template", "chat.user", "chat.assistant"),
        records=(Recorded(OUTPUT, "prompt tokens"),),
        metrics=(Metric("prompt_tokens_mean", "tokens per prompt, on average", _mean, label="prompt tokens"),),
    ),
)
