"""The engine protocol: a list of requests in, completions out in input order."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from promptkit.types import Completion, GenRequest, Prompt, prompt_key

OnComplete = Callable[[int, Completion], None]
"""Called with (request index, completion) as soon as a request is finished, e.g. to persist it."""

Follow = Callable[[int, Completion], "GenRequest | None"]
"""Called with (chain index, completion) as a chain's request ends; returns the chain's next request."""


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
    """Optional ability: the exact ids the model is fed for a prompt (chat template included)."""

    def encode(self, prompt: Prompt) -> list[int]: ...

    def count_tokens(self, prompt: Prompt) -> int: ...

    @property
    def context_window(self) -> int: ...


def sample_seed(seed: int | None, prompt: Prompt, index: int) -> int:
    """The seed of one sample: a function of (seed, prompt, sample index) and nothing else.

    So a request's samples do not depend on the other requests in its batch, on --limit, on the
    batch size or on a resume from the cache. No seed means seed 0: runs are reproducible by default.
    """
    blob = json.dumps([0 if seed is None else seed, prompt_key(prompt), index], ensure_ascii=False)
    return int.from_bytes(hashlib.sha256(blob.encode("utf-8")).digest()[:8], "big") >> 1  # 63 bits


def sample_seeds(request: GenRequest) -> list[int]:
    first = request.first_sample
    return [sample_seed(request.sampling.seed, request.prompt, k) for k in range(first, first + request.sampling.n)]


def cut_at_stop(text: str, stops: Sequence[str]) -> tuple[str, bool]:
    """Cut text before the earliest stop string; say whether one was found."""
    cut = min((i for i in (text.find(s) for s in stops if s) if i >= 0), default=-1)
    return (text[:cut], True) if cut >= 0 else (text, False)


def generate_chains(engine: Engine, first: Sequence[GenRequest], follow: Follow, *, pipelined: bool = True) -> None:
    """Run chains of requests, each link built from the previous one's completion.

    An engine that streams (`generate_chains`) submits a chain's next request the moment its last
    one ends, so it never drains between links. Any other engine, or pipelined=False, runs in
    rounds: one call for the k-th link of every chain still going. The requests are the same.
    """
    if not first:  # nothing to ask: no call, and no engine started for it
        return
    streaming = getattr(engine, "generate_chains", None) if pipelined else None
    if streaming is not None:
        streaming(first, follow)
        return
    pending = dict(enumerate(first))
    while pending:
        chains = list(pending)
        completions = engine.generate([pending[i] for i in chains])
        pending = {}
        for i, completion in zip(chains, completions):
            following = follow(i, completion)
            if following is not None:
                pending[i] = following


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

    def _count(self, completion: Completion) -> None:
        self.prompt_tokens += completion.prompt_tokens
        self.completion_tokens += completion.completion_tokens

    def chains(self, first: Sequence[GenRequest], follow: Follow) -> None:
        """generate_chains through this counter: one call, every link counted."""
        self.calls += 1
        self.requests += len(first)

        def counted(i: int, completion: Completion) -> GenRequest | None:
            self._count(completion)
            following = follow(i, completion)
            self.requests += following is not None
            return following

        self.inner.generate_chains(first, counted)

    def __getattr__(self, name: str):  # optional abilities (count_tokens, ...) pass through
        if name == "generate_chains":  # streaming only where the engine inside streams
            getattr(self.inner, name)
            return self.chains
        return getattr(self.inner, name)
