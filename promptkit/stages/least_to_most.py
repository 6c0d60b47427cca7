"""Least-to-most prompting (Zhou et al., 2023): decompose, then solve the subproblems in order.

Every example advances together: step k makes one engine call for all examples that still have a
k-th subproblem, so engine calls = 1 (decomposition) + the longest chain, not the sum of chains.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ..engines.base import Engine
from ..prompts import PromptBuilder
from ..registry import Registry
from ..types import GenRequest, Sampling, StageRecord, State

_QUOTED = re.compile(r'"([^"]+)"')
_GSM8K = re.compile(r'To answer the question "(.+?)", we need to know:(.*)', re.S)

Parser = Callable[[str], "list[str] | None"]


def parse_gsm8k(text: str) -> list[str] | None:
    """'To answer the question "Q", we need to know: "A", "B".' -> [A, B, Q]."""
    m = _GSM8K.search(text.split("\n\n")[0])
    if not m:
        return None
    needed = [q.strip() for q in _QUOTED.findall(m.group(2)) if q.strip()]
    return [*needed, m.group(1).strip()]


def parse_last_letters(text: str) -> list[str] | None:
    """'"think", "think machine", ...' -> the cumulative word lists."""
    line = next((ln for ln in text.splitlines() if ln.strip()), "")
    items = [q.strip() for q in _QUOTED.findall(line) if q.strip()]
    return items or None


def fallback_last_letters(question: str) -> list[str]:
    quoted = _QUOTED.findall(question)
    return [quoted[0]] if quoted else [question]


PARSERS: Registry[tuple[Parser, Callable[[str], list[str]]]] = Registry(
    "decomposition parser",
    {"gsm8k": (parse_gsm8k, lambda q: [q]), "last_letters": (parse_last_letters, fallback_last_letters)},
)


@dataclass(frozen=True)
class Decompose:
    """One call for every example; writes `subquestions` and whether the parse fell back."""

    prompt: PromptBuilder
    parser: Parser
    fallback: Callable[[str], list[str]]
    sampling: Sampling
    name: str = "decompose"

    def __call__(self, states: Sequence[State], engine: Engine) -> list[State]:
        prompts = [self.prompt.build(s.context()) for s in states]
        completions = engine.generate([GenRequest(p, self.sampling) for p in prompts])
        out = []
        for state, prompt, completion in zip(states, prompts, completions):
            parsed = self.parser(completion.text)
            note = None if parsed else "fallback: the decomposition could not be parsed; solving the question directly"
            subquestions = parsed or self.fallback(state.example.inputs["question"])
            record = StageRecord(self.name, prompt, completion.text, note)
            out.append(state.with_record(record, subquestions=subquestions, fallback=parsed is None, solved=[]))
        return out


@dataclass(frozen=True)
class SolveInOrder:
    """Step k: one call for all examples with a k-th subquestion; its answer joins their context.

    The solve template sees `question`, `solved` (earlier {"question", "answer"} pairs) and `current`.
    The last answer goes to `answer`.
    """

    prompt: PromptBuilder
    sampling: Sampling
    name: str = "solve"

    def __call__(self, states: Sequence[State], engine: Engine) -> list[State]:
        out = list(states)
        longest = max((len(s.fields["subquestions"]) for s in states), default=0)
        for step in range(longest):
            active = [i for i, s in enumerate(out) if step < len(s.fields["subquestions"])]
            prompts = [
                self.prompt.build({**out[i].context(), "current": out[i].fields["subquestions"][step]}) for i in active
            ]
            completions = engine.generate([GenRequest(p, self.sampling) for p in prompts])
            for i, prompt, completion in zip(active, prompts, completions):
                state = out[i]
                answer = completion.text.strip()
                solved = [*state.fields["solved"], {"question": state.fields["subquestions"][step], "answer": answer}]
                out[i] = state.with_record(
                    StageRecord(self.name, prompt, completion.text), solved=solved, answer=answer
                )
        return out
