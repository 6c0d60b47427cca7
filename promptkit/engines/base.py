"""The engine contract: a list of requests in, completions out in input order, each reported as it ends.

Every engine subclasses `Engine`. Optional abilities are declared as attributes, never discovered:
`tokens` (the engine's own tokenization, or None), `streams` (whether `generate_chains` submits a
chain's next request the moment its last one ends; otherwise chains run in rounds), `scores`
(whether `score` gives continuations' log-likelihoods) and `stats()` (what it counted, or None).
Wrappers (the cache, the counter) declare what they pass through. Helpers for writing an engine live in
`promptkit.engines.implementing`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from promptkit.errors import EngineUnavailable
from promptkit.types import Completion, GenRequest, Prompt, Score, ScoreRequest

OnComplete = Callable[[int, Completion], None]
"""Called with (request index, completion) as soon as a request is finished, e.g. to persist it."""

Follow = Callable[[int, Completion], "GenRequest | None"]
"""Called with (chain index, completion) as a chain's request ends; returns the chain's next request."""


_LEARNED = "|learned:"


@dataclass(frozen=True)
class EngineIdentity:
    """What determines an engine's outputs; the cache never mixes two identities."""

    kind: str
    model: str
    revision: str = ""
    settings: str = ""

    def key(self) -> str:
        return f"{self.kind}|{self.model}|{self.revision}|{self.settings}"

    def with_learned(self, digest: str) -> EngineIdentity:
        """This identity with a learned prompt before every prompt: its rows are never another's."""
        return EngineIdentity(self.kind, self.model, self.revision, f"{self.settings}{_LEARNED}{digest}")

    @property
    def has_learned(self) -> bool:
        return _LEARNED in self.settings


@runtime_checkable
class TokenCounter(Protocol):
    """The ability `Engine.tokens`: the exact ids the model is fed for a prompt (chat template included)."""

    def encode(self, prompt: Prompt) -> list[int]: ...

    @property
    def context_window(self) -> int: ...


@dataclass
class EngineStats:
    """Requests served from a cache vs. sent on; what the model itself was asked and generated."""

    hits: int = 0
    misses: int = 0
    model_calls: int = 0
    generated_tokens: int = 0
    served_tokens: int = 0


class Engine(ABC):
    """What every engine does, and the optional abilities it declares."""

    identity: EngineIdentity
    tokens: TokenCounter | None = None
    """Exact tokenization (counting for context packing), or None where the engine has none (a server)."""
    streams: bool = False
    """True where generate_chains keeps chains streaming; otherwise they run in rounds."""
    scores: bool = False
    """True where score() gives the log-likelihood of continuations (multiple-choice scoring)."""

    @abstractmethod
    def generate(self, requests: Sequence[GenRequest], on_complete: OnComplete | None = None) -> list[Completion]:
        """Return one completion per request, in input order; call on_complete as each finishes."""

    def generate_chains(self, first: Sequence[GenRequest], follow: Follow) -> None:
        """Run chains of requests (see `generate_chains`); here in rounds, one generate per link."""
        chains_in_rounds(self, first, follow)

    def score(self, requests: Sequence[ScoreRequest]) -> list[Score]:
        """Each continuation's log-probability given its context, in input order (where `scores`)."""
        raise EngineUnavailable(cannot_score(self.identity.kind))

    def stats(self) -> EngineStats | None:
        """What this engine counted (a cache: hits and misses), or None where it counts nothing."""
        return None

    def close(self) -> None:  # noqa: B027 (optional: most engines start nothing)
        """Stop what the engine started (processes, connections); a later request may start it again."""

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def cannot_score(kind: str) -> str:
    return (
        f"the {kind} engine cannot score continuations by likelihood: use hf, vllm, or an openai server "
        "that returns prompt log-probabilities (vLLM's does)"
    )


def generate_chains(engine: Engine, first: Sequence[GenRequest], follow: Follow, *, pipelined: bool = True) -> None:
    """Run chains of requests, each link built from the previous one's completion.

    An engine that streams submits a chain's next request the moment its last one ends, so it never
    drains between links. Any other engine, or pipelined=False, runs in rounds: one call for the k-th
    link of every chain still going. The requests are the same.
    """
    if not first:  # nothing to ask: no call, and no engine started for it
        return
    if pipelined and engine.streams:
        engine.generate_chains(first, follow)
    else:
        chains_in_rounds(engine, first, follow)


def chains_in_rounds(engine: Engine, first: Sequence[GenRequest], follow: Follow) -> None:
    pending = dict(enumerate(first))
    while pending:
        chains = list(pending)
        completions = engine.generate([pending[i] for i in chains])
        pending = {}
        for i, completion in zip(chains, completions):
            following = follow(i, completion)
            if following is not None:
                pending[i] = following
