"""The engine protocol: a list of requests in, completions out in input order."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from ..types import Completion, GenRequest, Prompt

OnComplete = Callable[[int, Completion], None]
"""Called with (request index, completion) as soon as a request is finished, e.g. to persist it."""


@dataclass(frozen=True)
class EngineIdentity:
    """What determines an engine's outputs; the cache never mixes two identities."""

    kind: str
    model: str
    revision: str = ""
    settings: str = ""

    def key(self) -> str:
        return f"{self.kind}|{self.model}|{self.revision}|{self.settings}"


@runtime_checkable
class Engine(Protocol):
    identity: EngineIdentity

    def generate(self, requests: Sequence[GenRequest], on_complete: OnComplete | None = None) -> list[Completion]:
        """Return one completion per request, in input order; call on_complete as each finishes."""
        ...


@runtime_checkable
class TokenCounter(Protocol):
    """Optional ability: count tokens as the engine's own tokenizer does (chat template included)."""

    def count_tokens(self, prompt: Prompt) -> int: ...

    @property
    def context_window(self) -> int: ...


def cut_at_stop(text: str, stops: Sequence[str]) -> tuple[str, bool]:
    """Cut text before the earliest stop string; say whether one was found."""
    cut = min((i for i in (text.find(s) for s in stops if s) if i >= 0), default=-1)
    return (text[:cut], True) if cut >= 0 else (text, False)


class CountingEngine:
    """Wraps an engine and counts the calls and requests that reach it."""

    def __init__(self, inner: Engine) -> None:
        self.inner = inner
        self.identity = inner.identity
        self.calls = 0
        self.requests = 0
        self.prompt_tokens = 0
        self.completion_tokens = 0

    def generate(self, requests: Sequence[GenRequest], on_complete: OnComplete | None = None) -> list[Completion]:
        self.calls += 1
        self.requests += len(requests)
        results = self.inner.generate(requests, on_complete)
        self.prompt_tokens += sum(c.prompt_tokens for c in results)
        self.completion_tokens += sum(c.completion_tokens for c in results)
        return results

    def __getattr__(self, name: str):  # optional abilities (count_tokens, ...) pass through
        return getattr(self.inner, name)
