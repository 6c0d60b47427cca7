"""The pydantic pieces stages' spec models are made of: prompts (a template or chat turns) and sampling.

Stage kinds declare their spec models next to their code (see `promptkit.stages.stage_kinds`); the run spec
(`promptkit.runspec`) joins them into one union.
"""

from __future__ import annotations

from pydantic import Field, model_validator

from promptkit.schema import Count, Seed, SpecModel
from promptkit.stages.framework.prompts import ChatPrompt, PromptBuilder, TextPrompt
from promptkit.stages.framework.templating import Templates
from promptkit.types import Sampling


class ChatSpec(SpecModel):
    user: str = Field("chat/user", description="template of a user turn (demonstrations and the question)")
    assistant: str = Field("chat/assistant_cot", description="template of a demonstration's answer turn")
    system: str | None = Field(None, description="system message")


class Prompted(SpecModel):
    template: str | None = Field(None, description="template name or file for a text prompt")
    chat: ChatSpec | None = Field(None, description="chat prompt instead of a text template")

    @model_validator(mode="after")
    def _one_prompt(self):
        if (self.template is None) == (self.chat is None):
            raise ValueError("give exactly one of 'template' or 'chat'")
        return self

    def prompt(self, templates: Templates) -> PromptBuilder:
        if self.chat is not None:
            return ChatPrompt(self.chat.user, self.chat.assistant, self.chat.system, templates)
        return TextPrompt(self.template or "", templates)


class Sampled(SpecModel):
    max_tokens: Count = Field(256, description="generation budget")
    temperature: float = Field(0.0, ge=0, allow_inf_nan=False, description="sampling temperature (0 = greedy)")
    top_p: float = Field(1.0, gt=0, le=1, description="nucleus sampling")
    n: Count = Field(1, description="samples per request")
    stop: list[str] = Field(default_factory=list, description="stop strings, cut from the text")
    seed: Seed | None = Field(None, description="sampling seed")

    def sampling(self) -> Sampling:
        return Sampling(self.max_tokens, self.temperature, self.top_p, self.n, tuple(self.stop), self.seed)
