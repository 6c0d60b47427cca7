"""The stage protocol, and the two loops every stage is built from.

A stage takes the states of all examples in flight and returns new ones. It declares the fields it
reads and writes, so a pipeline is checked before it runs. `map_states` applies per-example work and
turns an exception into that example's failure; `call_engine` renders a prompt for every live state
and makes one engine call for all of them (one request per example, or per sample once split).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from promptkit.engines.base import Engine
from promptkit.stages.framework.prompts import PromptBuilder
from promptkit.types import Completion, GenRequest, Prompt, Sampling, State


class Stage(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def reads(self) -> tuple[str, ...]: ...

    @property
    def writes(self) -> tuple[str, ...]: ...

    def __call__(self, states: Sequence[State], engine: Engine) -> list[State]: ...


def map_states(name: str, states: Sequence[State], work: Callable[[State], State]) -> list[State]:
    """work(state) for every live state; an exception fails that example alone."""
    out = []
    for state in states:
        if state.failed:
            out.append(state)
            continue
        try:
            out.append(work(state))
        except Exception as exc:  # one example's bad data must not discard the others' work
            out.append(state.with_error(name, exc))
    return out


@dataclass(frozen=True)
class Call:
    """One state's part of an engine call: its prompt and completion, or its failure."""

    state: State
    prompt: Prompt | None = None
    completion: Completion | None = None


def request_for(
    name: str, state: State, prompt: PromptBuilder, settings: Sampling, extra: dict | None = None
) -> tuple[GenRequest | None, Call]:
    """One live state's request (its own sample's seed), or the state failed by its template."""
    try:
        built = prompt.build({**state.context(), **(extra or {})})
    except Exception as exc:  # a template that fails on this example's data fails it alone
        return None, Call(state.with_error(name, exc))
    first = state.sample if state.sample is not None and not settings.greedy else 0
    return GenRequest(built, settings, first_sample=first), Call(state, built)


def call_engine(
    name: str,
    states: Sequence[State],
    prompt: PromptBuilder,
    sampling: Callable[[State], Sampling],
    engine: Engine,
    extra: Callable[[State], dict] = lambda s: {},
) -> list[Call]:
    """Render every live state's prompt and make one engine call for all of them.

    A state that is already one sample of several asks for that sample (its own seed), so samples
    that reach the same prompt stay independent draws; greedy ones share sample 0 and its cache row.
    """
    calls: list[Call] = []
    requests: list[GenRequest] = []
    for state in states:
        if state.failed:
            calls.append(Call(state))
            continue
        request, call = request_for(name, state, prompt, sampling(state), extra(state))
        calls.append(call)
        if request is not None:
            requests.append(request)
    completions = iter(engine.generate(requests) if requests else [])
    return [Call(c.state, c.prompt, next(completions)) if c.prompt is not None else c for c in calls]
