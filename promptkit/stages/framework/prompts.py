"""Prompt builders: a state's variables -> the prompt an engine receives (text or chat messages)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from promptkit.errors import PromptkitError
from promptkit.stages.framework.templating import Templates, default_templates
from promptkit.types import Message, Prompt


class PromptBuilder(Protocol):
    def build(self, variables: Mapping[str, Any]) -> Prompt: ...


def prompt_variables(prompt: PromptBuilder) -> tuple[str, ...]:
    """What a prompt reads from an example's variables; () for builders that cannot say."""
    variables = getattr(prompt, "variables", None)
    return variables() if variables is not None else ()


@dataclass(frozen=True)
class TextPrompt:
    """One template renders the whole prompt, demonstrations included."""

    template: str
    templates: Templates = field(default_factory=default_templates)

    def build(self, variables: Mapping[str, Any]) -> Prompt:
        return self.templates.render(self.template, variables)

    def variables(self) -> tuple[str, ...]:
        return self.templates.variables(self.template)


@dataclass(frozen=True)
class ChatPrompt:
    """Demonstrations as alternating user/assistant turns, then the question as the last user turn.

    As lm-evaluation-harness's multi-turn few-shot: user = the query template on a demo, assistant =
    the demo's answer template.
    """

    user_template: str
    assistant_template: str
    system: str | None = None
    templates: Templates = field(default_factory=default_templates)

    def build(self, variables: Mapping[str, Any]) -> Prompt:
        messages: list[Message] = []
        if self.system:
            messages.append({"role": "system", "content": self.system})
        for demo in variables.get("demos", ()):
            if demo.get("answer") is None:
                raise PromptkitError("demonstrations without answers need a text prompt: chat turns must alternate")
            messages.append({"role": "user", "content": self.templates.render(self.user_template, demo)})
            messages.append({"role": "assistant", "content": self.templates.render(self.assistant_template, demo)})
        messages.append({"role": "user", "content": self.templates.render(self.user_template, variables)})
        return tuple(messages)

    def variables(self) -> tuple[str, ...]:
        return self.templates.variables(self.user_template)  # demonstrations are optional
