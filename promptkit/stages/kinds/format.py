"""Formatting: render a template into a field, calling no model (a prompt piece, a normalized question)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from pydantic import Field

from promptkit.engines.base import Engine
from promptkit.stages.framework.declaration import BuildContext, StageKind
from promptkit.stages.framework.prompts import TextPrompt, prompt_variables
from promptkit.stages.framework.spec_fields import SpecModel
from promptkit.stages.framework.stage import map_states
from promptkit.types import State


@dataclass(frozen=True)
class Format:
    prompt: TextPrompt
    output: str
    name: str = "format"

    @property
    def reads(self) -> tuple[str, ...]:
        return prompt_variables(self.prompt)

    @property
    def writes(self) -> tuple[str, ...]:
        return (self.output,)

    def __call__(self, states: Sequence[State], engine: Engine) -> list[State]:
        return map_states(self.name, states, lambda s: s.with_fields(**{self.output: self.prompt.build(s.context())}))


class FormatSpec(SpecModel):
    kind: Literal["format"]
    template: str = Field(description="template name or file, rendered with the example's fields")
    output: str = Field(description="field that receives the text")


def _build(s: FormatSpec, ctx: BuildContext) -> Format:
    return Format(TextPrompt(s.template, ctx.templates), s.output)


KINDS = (StageKind(FormatSpec, _build, templates=("template",)),)
