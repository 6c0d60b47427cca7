"""ICL context packing: keep the demonstrations that fit in the model's window.

Counts tokens with the engine's own tokenizer (chat template included in chat mode). When the
prompt plus the generation budget does not fit, the least relevant demonstration goes first.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar, Literal

from pydantic import Field

from promptkit.engines.base import Engine
from promptkit.errors import PromptkitError
from promptkit.schema import Count
from promptkit.stages.framework.declaration import Metric, Recorded, Scorer, StageKind
from promptkit.stages.framework.prompts import PromptBuilder
from promptkit.stages.framework.spec_fields import Prompted
from promptkit.stages.framework.stage import map_states
from promptkit.types import Prompt, State


@dataclass(frozen=True)
class PackDemos:
    prompt: PromptBuilder
    max_tokens: int
    """The generation budget the prompt must leave room for."""
    name: str = "pack"

    reads: ClassVar[tuple[str, ...]] = ("demos",)
    writes: ClassVar[tuple[str, ...]] = ("demos", "demos_packed", "prompt_tokens")

    def __call__(self, states: Sequence[State], engine: Engine) -> list[State]:
        tokens = engine.tokens
        if tokens is None:  # engines that cannot count (replay, scripted, a server) keep every demo
            return map_states(self.name, states, lambda s: s.with_fields(demos_packed=len(s.fields.get("demos", []))))
        budget = int(tokens.context_window) - self.max_tokens

        def count(prompt: Prompt) -> int:
            return len(tokens.encode(prompt))

        return map_states(self.name, states, lambda s: self._pack(s, count, budget))

    def _pack(self, state: State, count, budget: int) -> State:
        demos = list(state.fields.get("demos", []))
        while True:
            candidate = state.with_fields(demos=demos)
            used = count(self.prompt.build(candidate.context()))
            if used <= budget:
                return candidate.with_fields(demos_packed=len(demos), prompt_tokens=used)
            if not demos:
                raise PromptkitError(
                    f"example {state.example.id}: the prompt needs {used} tokens without demonstrations, but the "
                    f"window leaves {budget} ({budget + self.max_tokens} minus {self.max_tokens} to generate)"
                )
            demos.remove(max(demos, key=lambda d: d["rank"]))


class PackSpec(Prompted):
    kind: Literal["pack"]
    max_tokens: Count = Field(256, description="the generation budget to leave room for")


def _used_mean(states: Sequence[State], scorer: Scorer) -> float | None:
    packed = [s.fields["demos_packed"] for s in states if "demos_packed" in s.fields]
    return sum(packed) / len(packed) if packed else None


# Shown beside the demonstrations' ids where a prompt has them.
PACKED = Recorded("demos_packed", "demonstrations packed", show=lambda row: None if "demos" in row else
                  f"demonstrations packed: {row['demos_packed']}")  # fmt: skip
USED = Metric("demos_used_mean", "demonstrations per prompt after packing into the window, on average", _used_mean,
              label="demonstrations used")  # fmt: skip

KINDS = (
    StageKind(
        PackSpec,
        lambda s, ctx: PackDemos(s.prompt(ctx.templates), s.max_tokens),
        templates=("template", "chat.user", "chat.assistant"),
        records=(PACKED,),
        metrics=(USED,),
    ),
)
