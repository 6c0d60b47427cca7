"""Plain value types on the hot path: frozen dataclasses, no validation cost."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal, TypedDict


class Message(TypedDict):
    role: str
    content: str


Prompt = str | tuple[Message, ...]
FinishReason = Literal["stop", "length"]


@dataclass(frozen=True)
class Example:
    """One task item: an id that is stable across runs, its inputs and the gold answer."""

    id: str
    inputs: Mapping[str, Any]
    target: str | None = None


@dataclass(frozen=True)
class Sampling:
    """Engine-neutral sampling settings; each engine translates them."""

    max_tokens: int = 256
    temperature: float = 0.0
    top_p: float = 1.0
    n: int = 1
    stop: tuple[str, ...] = ()
    seed: int | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.stop, tuple):  # a list would make the settings unhashable
            object.__setattr__(self, "stop", tuple(self.stop))
        if self.max_tokens < 1:
            raise ValueError(f"max_tokens must be >= 1, got {self.max_tokens}")
        if self.n < 1:
            raise ValueError(f"n must be >= 1, got {self.n}")
        if not 0.0 < self.top_p <= 1.0:
            raise ValueError(f"top_p must be in (0, 1], got {self.top_p}")
        if self.temperature < 0:
            raise ValueError(f"temperature must be >= 0, got {self.temperature}")

    @property
    def greedy(self) -> bool:
        return self.temperature == 0.0


@dataclass(frozen=True)
class GenRequest:
    prompt: Prompt
    sampling: Sampling = Sampling()
    first_sample: int = 0
    """Index of the first sample asked for: a cache top-up asks for samples first..first+n-1."""


@dataclass(frozen=True)
class Completion:
    """The n texts generated for one request, in sample order."""

    texts: tuple[str, ...]
    finish_reasons: tuple[FinishReason, ...]
    prompt_tokens: int = 0
    sample_tokens: tuple[int, ...] = ()
    """Tokens generated for each sample (empty when the engine cannot tell)."""
    token_ids: tuple[tuple[int, ...], ...] = field(default=(), compare=False)
    """The generated token ids of each sample, where the engine has them (not kept in the cache)."""

    @property
    def text(self) -> str:
        return self.texts[0]

    @property
    def completion_tokens(self) -> int:
        return sum(self.sample_tokens)


@dataclass(frozen=True)
class ScoreRequest:
    """A continuation to score after a context: lm-evaluation-harness's loglikelihood request."""

    context: str
    continuation: str


@dataclass(frozen=True)
class Score:
    logprob: float
    """The sum of the continuation's token log-probabilities given the context."""
    tokens: int
    """How many tokens the continuation is, split from the context as lm-eval splits it."""
    greedy: bool
    """Whether each continuation token is the model's most likely next token (lm-eval's is_greedy)."""


@dataclass(frozen=True)
class StageRecord:
    """One model call made for one example: what was sent and what came back."""

    stage: str
    prompt: Prompt
    completion: str | list[str]
    """The text; the n texts when one request drew several samples."""
    note: str | None = None
    sample: int | None = None
    """Which sample this call belongs to, once a stage has drawn several per example."""

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"stage": self.stage, "prompt": _jsonable(self.prompt), "completion": self.completion}
        if self.note:
            out["note"] = self.note
        if self.sample is not None:
            out["sample"] = self.sample
        return out


@dataclass(frozen=True)
class State:
    """An example on its way through a pipeline. Stages return new states; nothing mutates.

    A stage that draws n samples per example splits its state into n, one per sample (`sample`
    0..n-1); later stages map over them and a reducer (vote, first) joins them again.
    """

    example: Example
    fields: Mapping[str, Any] = field(default_factory=dict)
    trace: tuple[StageRecord, ...] = ()
    sample: int | None = None
    error: str | None = None
    """Why this example failed (stage and message); a failed state passes through later stages untouched."""

    @property
    def failed(self) -> bool:
        return self.error is not None

    def with_error(self, stage: str, exc: BaseException) -> State:
        message = str(exc) or type(exc).__name__
        kind = "" if type(exc).__name__ == "PromptkitError" else f"{type(exc).__name__}: "  # ours already explain
        return replace(self, error=f"{stage}: {kind}{message}")

    def with_fields(self, **updates: Any) -> State:
        return replace(self, fields={**self.fields, **updates})

    def with_record(self, record: StageRecord, **updates: Any) -> State:
        return replace(self, fields={**self.fields, **updates}, trace=(*self.trace, record))

    def context(self) -> dict[str, Any]:
        """Variables a template sees: the example's inputs, then fields added by stages."""
        return {**self.example.inputs, **self.fields}


def _jsonable(prompt: Prompt) -> str | list[dict[str, str]]:
    return prompt if isinstance(prompt, str) else [{**m} for m in prompt]  # type: ignore[dict-item]


def prompt_key(prompt: Prompt) -> str | list[dict[str, str]]:
    return _jsonable(prompt)
