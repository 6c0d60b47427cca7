"""Least-to-most prompting (Zhou et al., 2023): decompose, then solve the subproblems in order.

Every example advances together: step k makes one engine call for all examples that still have a
k-th subproblem, so engine calls = 1 (decomposition) + the longest chain, not the sum of chains.
Both stages generate through `call_engine`, as `Generate` does.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

from pydantic import Field

from promptkit.engines.base import Engine, generate_chains
from promptkit.registry import Registry
from promptkit.stages.framework.declaration import BuildContext, Recorded, StageKind
from promptkit.stages.framework.prompts import PromptBuilder, TextPrompt, prompt_variables
from promptkit.stages.framework.spec_fields import Sampled
from promptkit.stages.framework.stage import Call, call_engine, request_for
from promptkit.types import Completion, GenRequest, Sampling, StageRecord, State

_QUOTED = re.compile(r'"([^"]+)"')
_GSM8K = re.compile(r'To answer the question "(.+?)", we need to know:(.*)', re.S)
_LIST = re.compile(r'"([^"]*)"')


def _words(inputs: Mapping[str, Any]) -> list[str]:
    quoted = _LIST.search(str(inputs.get("question", "")))
    return quoted.group(1).split() if quoted else []


def _normalized(text: str) -> str:
    return " ".join(re.sub(r"[^\w\s]", " ", text.lower()).split())


@dataclass(frozen=True)
class Decomposer:
    """How one prompt family's decompositions read, check, fall back and are budgeted."""

    parse: Callable[[str], list[str] | None]
    whole: Callable[[list[str], Mapping[str, Any]], bool]
    """Whether the last subproblem is the whole problem."""
    fallback: Callable[[Mapping[str, Any]], list[str]]
    budget: Callable[[Mapping[str, Any]], int]
    """Tokens the decomposition of this question may need: long lists need long decompositions."""


def parse_gsm8k(text: str) -> list[str] | None:
    """'To answer the question "Q", we need to know: "A", "B".' -> [A, B, Q]."""
    m = _GSM8K.search(text.split("\n\n")[0])
    if not m:
        return None
    needed = [q.strip() for q in _QUOTED.findall(m.group(2)) if q.strip()]
    return [*needed, m.group(1).strip()]


def _gsm8k_whole(subquestions: list[str], inputs: Mapping[str, Any]) -> bool:
    # The final subquestion is the question the problem asks, so it appears in the problem.
    return _normalized(subquestions[-1]) in _normalized(str(inputs.get("question", "")))


def parse_quoted_list(text: str) -> list[str] | None:
    """'"think", "think machine", ...' on the first line -> the items."""
    line = next((ln for ln in text.splitlines() if ln.strip()), "")
    items = [q.strip() for q in _QUOTED.findall(line) if q.strip()]
    return items or None


def _spaced_whole(subproblems: list[str], inputs: Mapping[str, Any]) -> bool:
    return subproblems[-1].split() == _words(inputs)


def _comma_whole(subproblems: list[str], inputs: Mapping[str, Any]) -> bool:
    return [w.strip() for w in subproblems[-1].split(",")] == _words(inputs)


def _zhou_sublists(text: str) -> list[str] | None:
    """Zhou et al.'s decomposition starts at one word; their solving exemplars start at two, so we do."""
    items = parse_quoted_list(text)
    if items and len(items) > 1 and "," not in items[0]:
        items = items[1:]
    return items


def _list_budget(separator: str) -> Callable[[Mapping[str, Any]], int]:
    def budget(inputs: Mapping[str, Any]) -> int:
        words = _words(inputs) or str(inputs.get("question", "")).split()
        ideal = ", ".join(f'"{separator.join(words[: i + 1])}"' for i in range(len(words)))
        return 32 + len(ideal) // 2  # about 2 characters a token at worst for quoted short words

    return budget


DECOMPOSERS: Registry[Decomposer] = Registry(
    "decomposition parser",
    {
        "gsm8k": Decomposer(
            parse_gsm8k,
            _gsm8k_whole,
            lambda inputs: [str(inputs["question"])],
            lambda inputs: max(128, len(str(inputs.get("question", ""))) // 2),
        ),
        "last_letters": Decomposer(
            parse_quoted_list, _spaced_whole, lambda inputs: [" ".join(_words(inputs))], _list_budget(" ")
        ),
        "last_letters_zhou": Decomposer(
            _zhou_sublists, _comma_whole, lambda inputs: [", ".join(_words(inputs))], _list_budget(", ")
        ),
    },
)


@dataclass(frozen=True)
class Decompose:
    """One call for every example; writes `subquestions` and whether it fell back to the whole question.

    A decomposition that is cut by the token budget, cannot be parsed, or does not end with the
    whole problem falls back to solving the problem in one step, and the trace says why.
    """

    prompt: PromptBuilder
    decomposer: Decomposer
    sampling: Sampling
    """max_tokens here is a floor when `sized` is on."""
    sized: bool = True
    name: str = "decompose"

    @property
    def reads(self) -> tuple[str, ...]:
        return prompt_variables(self.prompt)

    @property
    def writes(self) -> tuple[str, ...]:
        return ("subquestions", "fallback", "solved")

    def _sampling(self, state: State) -> Sampling:
        n = 1 if state.sample is not None else self.sampling.n
        if not self.sized:
            return replace(self.sampling, n=n)
        budget = max(self.sampling.max_tokens, self.decomposer.budget(state.example.inputs))
        return replace(self.sampling, n=n, max_tokens=budget)

    def __call__(self, states: Sequence[State], engine: Engine) -> list[State]:
        out: list[State] = []
        for call in call_engine(self.name, states, self.prompt, self._sampling, engine):
            if call.completion is None:
                out.append(call.state)
                continue
            split = call.state.sample is None and len(call.completion.texts) > 1
            for k, (text, finish) in enumerate(zip(call.completion.texts, call.completion.finish_reasons)):
                state = replace(call.state, sample=k) if split else call.state
                out.append(self._read(state, call.prompt, text, finish))
        return out

    def _read(self, state: State, prompt, text: str, finish: str) -> State:
        inputs = state.example.inputs
        parsed = self.decomposer.parse(text)
        note = None
        if finish == "length":
            note = "fallback: the decomposition was cut by the token budget; solving the problem in one step"
        elif not parsed:
            note = "fallback: the decomposition could not be parsed; solving the problem in one step"
        elif not self.decomposer.whole(parsed, inputs):
            note = "fallback: the last subproblem is not the whole problem; solving the problem in one step"
        subquestions = self.decomposer.fallback(inputs) if note else parsed
        record = StageRecord(self.name, prompt, text, note, sample=state.sample)
        return state.with_record(record, subquestions=subquestions, fallback=note is not None, solved=[])


@dataclass(frozen=True)
class SolveInOrder:
    """Each example's subquestions in order, every answer joining the context of the next.

    The solve template sees `question`, `solved` (earlier {"question", "answer"} pairs) and `current`.
    The last answer goes to `answer`. On a streaming engine (pipelined), an example's next
    subquestion is asked the moment its previous answer ends, so no example waits for the slowest
    one at each step; otherwise step k is one call for all examples with a k-th subquestion.
    """

    prompt: PromptBuilder
    sampling: Sampling
    name: str = "solve"
    pipelined: bool = True

    @property
    def reads(self) -> tuple[str, ...]:
        return (*(v for v in prompt_variables(self.prompt) if v != "current"), "subquestions")

    @property
    def writes(self) -> tuple[str, ...]:
        return ("solved", "answer")

    def __call__(self, states: Sequence[State], engine: Engine) -> list[State]:
        out = list(states)
        chains: list[int] = []  # chain -> index in out
        asked: list[Call] = []  # chain -> the call of its current link

        def ask(i: int) -> tuple[GenRequest, Call] | None:
            state = out[i]
            step = len(state.fields["solved"])
            if step >= len(state.fields["subquestions"]):
                return None
            settings = replace(self.sampling, n=1)
            request, call = request_for(
                self.name, state, self.prompt, settings, {"current": state.fields["subquestions"][step]}
            )
            if request is None:  # its template failed on this example: the example fails alone
                out[i] = call.state
                return None
            return request, call

        def answered(chain: int, completion: Completion) -> GenRequest | None:
            i, call = chains[chain], asked[chain]
            state, text = call.state, completion.text
            answer = text.strip()
            step = len(state.fields["solved"])
            solved = [*state.fields["solved"], {"question": state.fields["subquestions"][step], "answer": answer}]
            out[i] = state.with_record(
                StageRecord(self.name, call.prompt or "", text, sample=state.sample), solved=solved, answer=answer
            )
            following = ask(i)
            if following is None:
                return None
            asked[chain] = following[1]
            return following[0]

        first = []
        for i, state in enumerate(out):
            if state.failed:
                continue
            following = ask(i)
            if following is not None:
                chains.append(i)
                asked.append(following[1])
                first.append(following[0])
        generate_chains(engine, first, answered, pipelined=self.pipelined)
        return out


class DecomposeSpec(Sampled):
    kind: Literal["decompose"]
    name: str = Field("decompose", description="stage name in the trace")
    template: str = Field(description="decomposition prompt template")
    parser: str = Field(description="decomposition parser: gsm8k, last_letters or last_letters_zhou")
    sized: bool = Field(True, description="budget grows with the question (max_tokens is then a floor)")


class SolveSpec(Sampled):
    kind: Literal["solve"]
    name: str = Field("solve", description="stage name in the trace")
    template: str = Field(description="solving prompt template (sees question, solved, current)")
    pipelined: bool = Field(
        True,
        description="on a streaming engine (vllm), an example's next subquestion is asked the moment its "
        "previous answer ends; false: in rounds, one call per step for every example (same requests)",
    )


def _decompose(s: DecomposeSpec, ctx: BuildContext) -> Decompose:
    return Decompose(TextPrompt(s.template, ctx.templates), DECOMPOSERS.get(s.parser), s.sampling(), s.sized, s.name)


def _solve(s: SolveSpec, ctx: BuildContext) -> SolveInOrder:
    return SolveInOrder(TextPrompt(s.template, ctx.templates), s.sampling(), s.name, s.pipelined)


RECORDS = (
    Recorded("subquestions", "subquestions"),
    Recorded("fallback", "fallback", show=lambda row: "fallback: true" if row["fallback"] else None),
)

KINDS = (
    StageKind(DecomposeSpec, _decompose, calls_model=True, generates=True, templates=("template",), records=RECORDS),
    StageKind(SolveSpec, _solve, calls_model=True, generates=True, templates=("template",)),
)
