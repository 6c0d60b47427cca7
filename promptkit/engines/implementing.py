"""Helpers for writing an engine (the contract itself is `promptkit.engines.base`): sample seeds, stop strings,
assembling a completion from its draws, collecting results in input order, and a counting wrapper."""

from __future__ import annotations

import functools
import hashlib
import json
import threading
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from promptkit.engines.base import Engine, EngineStats, Follow, OnComplete, chains_in_rounds
from promptkit.types import Completion, GenRequest, Prompt, Score, ScoreRequest, prompt_key

Method = TypeVar("Method", bound=Callable[..., Any])

CPU_DTYPE = "float32"
"""What dtype `auto` means on a CPU, for every local engine: the same texts run after run and whatever the batch
(vLLM's CPU build in bfloat16 on an AMX CPU gave the same greedy completion for 16 of 32 GSM8K questions in two
identical runs; docs/engines.md). bfloat16, asked for by name, is the faster choice where the CPU has it."""


def call_lock(engine: Any) -> threading.RLock:
    """The lock an engine's calls queue on (made on first use; setdefault is atomic: one lock wins)."""
    return engine.__dict__.setdefault("_one_call", threading.RLock())


def one_call_at_a_time(method: Method) -> Method:
    """Calls from several threads queue, each waiting for the one before: an engine drives one model (its
    batches, caches and step loop), which two calls at once would share. Reentrant: a call may make calls."""

    @functools.wraps(method)
    def queued(self: Any, *args: Any, **kwargs: Any) -> Any:
        with call_lock(self):
            return method(self, *args, **kwargs)

    return queued  # type: ignore[return-value]


def in_order(count: int, drive: Callable[[OnComplete], None], on_complete: OnComplete | None = None) -> list:
    """The results of `drive`, which reports (index, result) as each request ends in any order, as a list
    in input order; each is passed on to on_complete as it comes."""
    results: list = [None] * count

    def done(i: int, result) -> None:
        results[i] = result
        if on_complete:
            on_complete(i, result)

    drive(done)
    return results


def common_prefix_length(a: Sequence[object], b: Sequence[object]) -> int:
    """How many leading items two sequences (texts, token ids) share."""
    n = 0
    for x, y in zip(a, b):
        if x != y:
            break
        n += 1
    return n


def split_at_spaces(context: str, continuation: str) -> tuple[str, str]:
    """lm-evaluation-harness's rule: the context's trailing spaces belong to the continuation."""
    spaces = len(context) - len(context.rstrip())
    return (context[:-spaces], context[-spaces:] + continuation) if spaces else (context, continuation)


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


def draw_seeds(request: GenRequest) -> list[int | None]:
    """The draws a request needs, by seed: a greedy request's samples are all one text, drawn once
    unseeded; a sampled request draws each sample with its own seed."""
    return [None] if request.sampling.greedy else sample_seeds(request)  # type: ignore[return-value]


def completion_of(
    draws: Sequence[tuple[str, str, int, Sequence[int] | None]], n: int, prompt_tokens: int
) -> Completion:
    """A request's completion from its draws (text, finish reason, tokens, token ids): the one draw of a
    greedy request stands for each of its n samples."""
    k = n // len(draws)
    ids = [d[3] for d in draws]
    return Completion(
        texts=tuple(d[0] for d in draws) * k,
        finish_reasons=tuple(d[1] for d in draws) * k,  # type: ignore[arg-type]
        prompt_tokens=prompt_tokens,
        sample_tokens=tuple(d[2] for d in draws) * k,
        token_ids=tuple(tuple(i) for i in ids) * k if all(i is not None for i in ids) else (),  # type: ignore[arg-type]
    )


class CountingEngine(Engine):
    """Wraps an engine and counts the calls and requests that reach it; passes every ability through."""

    def __init__(self, inner: Engine) -> None:
        self.inner = inner
        self.identity = inner.identity
        self.tokens = inner.tokens
        self.streams = inner.streams
        self.scores = inner.scores
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

    def score(self, requests: Sequence[ScoreRequest]) -> list[Score]:
        """Counted as generation is: each request's context as its prompt tokens (in the engine's own tokens; none
        where it has no tokenizer, a server), its scored continuation as its completion tokens."""
        self.calls += 1
        self.requests += len(requests)
        scores = self.inner.score(requests)
        self.completion_tokens += sum(s.tokens for s in scores)
        if self.tokens is not None:
            lengths: dict[str, int] = {}  # the classes' continuations share a context: encoded once
            for r in requests:
                if r.context not in lengths:
                    lengths[r.context] = len(self.tokens.encode(r.context))
                self.prompt_tokens += lengths[r.context]
        return scores

    def _count(self, completion: Completion) -> None:
        self.prompt_tokens += completion.prompt_tokens
        self.completion_tokens += completion.completion_tokens

    def generate_chains(self, first: Sequence[GenRequest], follow: Follow) -> None:
        """The engine inside's chains (streaming where it streams): one call, every link counted."""
        if not self.streams:
            chains_in_rounds(self, first, follow)
            return
        self.calls += 1
        self.requests += len(first)

        def counted(i: int, completion: Completion) -> GenRequest | None:
            self._count(completion)
            following = follow(i, completion)
            self.requests += following is not None
            return following

        self.inner.generate_chains(first, counted)

    def stats(self) -> EngineStats | None:
        return self.inner.stats()

    def close(self) -> None:
        self.inner.close()


class LocalTokenization:
    """For an engine that tokenizes itself (`tokens`, a `Tokenization`): its window, ids, counts and chat text."""

    tokens: Any

    @property
    def context_window(self) -> int:
        return int(self.tokens.context_window)

    def encode(self, prompt: Prompt) -> list[int]:
        return self.tokens.encode(prompt)

    def count_tokens(self, prompt: Prompt) -> int:
        return len(self.tokens.encode(prompt))

    def render_chat(self, messages: Prompt) -> str:
        return self.tokens.render_chat(messages)
