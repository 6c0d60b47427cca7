"""A learned prompt that is text (BDPL's discrete prompt), on any engine: it goes before every prompt.

The text is put before the prompt's text (a chat prompt: before its first message's), exactly as the
artifact holds it, separator included, and the engine's identity carries it, so cached rows of two
prompts never mix. The engine inside is unchanged; this is all an engine needs to take a text prompt.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from promptkit.engines.base import Engine, OnComplete
from promptkit.files.learned_prompt import LearnedPrompt, learned_digest
from promptkit.types import Completion, GenRequest, Prompt, Score, ScoreRequest


def with_text(text: str, prompt: Prompt) -> Prompt:
    if isinstance(prompt, str):
        return text + prompt
    first, *rest = prompt
    return ({**first, "content": text + str(first["content"])}, *rest)


class TextPromptEngine(Engine):
    """Wraps an engine; every prompt and every scored context starts with the learned prompt's text."""

    def __init__(self, inner: Engine, learned: LearnedPrompt) -> None:
        self.inner = inner
        self.text = learned.text or ""
        self.identity = inner.identity.with_learned(learned_digest(learned))
        self.tokens = inner.tokens
        self.scores = inner.scores

    def generate(self, requests: Sequence[GenRequest], on_complete: OnComplete | None = None) -> list[Completion]:
        return self.inner.generate([replace(r, prompt=with_text(self.text, r.prompt)) for r in requests], on_complete)

    def score(self, requests: Sequence[ScoreRequest]) -> list[Score]:
        return self.inner.score([replace(r, context=self.text + r.context) for r in requests])

    def close(self) -> None:
        self.inner.close()
