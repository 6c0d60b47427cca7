from __future__ import annotations

from helpers import run_method

from promptkit import ScriptedEngine
from promptkit.stages.kinds.least_to_most import parse_gsm8k, parse_quoted_list
from promptkit.tasks.base import Task
from promptkit.types import Example

QUESTIONS = {
    "0": 'Take the last letters of each words in "Ada Bob Cy" and concatenate them.',
    "1": 'Take the last letters of each words in "Dee" and concatenate them.',
    "2": 'Take the last letters of each words in "Eve Fay" and concatenate them.',
}
DECOMPOSITIONS = {"Ada Bob Cy": ' "Ada", "Ada Bob", "Ada Bob Cy"', "Dee": ' "Dee"', "Eve Fay": " I cannot split this."}
ANSWERS = {"Ada": "a", "Ada Bob": "ab", "Ada Bob Cy": "aby", "Dee": "e", "Eve Fay": "ey"}


def script(prompt: str) -> str:
    query = prompt.rsplit("Q: ", 1)[1]
    if query.startswith("Take the last letters"):
        return DECOMPOSITIONS[query.split('"')[1]]
    current = query.split('"')[1]
    return f' So, "{current}" outputs "{ANSWERS[current]}".'


def _run():
    task = Task("last_letters", tuple(Example(i, {"question": q}, "x") for i, q in QUESTIONS.items()), "text", "inline")
    engine = ScriptedEngine(script)
    result = run_method(task, "least_to_most_promptkit", engine)
    return result, engine


def test_engine_calls_are_one_plus_the_longest_chain():
    result, engine = _run()
    assert result.summary.engine_calls == 1 + 3
    assert [len(call) for call in engine.calls] == [3, 3, 1, 1]  # decompose all; step 1 all; then only the long one


def test_each_step_sees_the_solved_subproblems_before_it():
    result, engine = _run()
    last = engine.calls[3][0].prompt
    assert last.endswith(
        'Q: "Ada"\nA: So, "Ada" outputs "a".\n\nQ: "Ada Bob"\nA: So, "Ada Bob" outputs "ab".\n\nQ: "Ada Bob Cy"\nA:'
    )
    states = {s.example.id: s for s in result.states}
    assert states["0"].fields["prediction"] == "aby"
    assert [r.stage for r in states["0"].trace] == ["decompose", "solve", "solve", "solve"]


def test_an_unparseable_decomposition_falls_back_to_solving_directly():
    result, _ = _run()
    state = {s.example.id: s for s in result.states}["2"]
    assert state.fields["fallback"] is True
    assert state.fields["subquestions"] == ["Eve Fay"]
    assert "fallback" in state.trace[0].note
    assert [r.stage for r in state.trace] == ["decompose", "solve"]
    assert state.fields["prediction"] == "ey"


def test_parse_gsm8k_decomposition():
    text = ' To answer the question "How many in all?", we need to know: "How many red?", "How many blue?".'
    assert parse_gsm8k(text) == ["How many red?", "How many blue?", "How many in all?"]
    assert parse_gsm8k(" 42") is None


def test_parse_quoted_list_decomposition():
    assert parse_quoted_list(' "a", "a b"\nmore') == ["a", "a b"]
    assert parse_quoted_list(" none") is None


def test_gsm8k_solving_prompt_has_the_problem_then_qa_pairs():
    task = Task(
        "gsm8k", (Example("0", {"question": "Tom has 2 cats and 3 dogs. How many pets?"}, "5"),), "number", "inline"
    )

    def gsm8k_script(prompt: str) -> str:
        if prompt.endswith("How many pets?\nA:") and "we need to know" in prompt.rsplit("Q: ", 2)[-2]:
            return ' To answer the question "How many pets?", we need to know: "How many cats?".'
        return " The answer is 2." if prompt.endswith("How many cats?\nA:") else " 2 + 3 = 5. The answer is 5."

    engine = ScriptedEngine(gsm8k_script)
    result = run_method(task, "least_to_most_promptkit", engine)
    final_prompt = engine.calls[-1][0].prompt
    assert final_prompt.endswith(
        "Tom has 2 cats and 3 dogs. How many pets?\n\nQ: How many cats?\nA: The answer is 2.\n\nQ: How many pets?\nA:"
    )
    assert result.summary.correct == 1 and result.summary.engine_calls == 3


class StreamingScripted(ScriptedEngine):
    """A streaming engine for chains: it completes one request at a time, newest first, and takes each
    chain's next request the moment the previous one ends (as a continuous-batching engine may)."""

    streams = True

    def generate_chains(self, first, follow):
        self.chain_calls = getattr(self, "chain_calls", 0) + 1
        self.order = []
        queue = list(enumerate(first))
        while queue:
            chain, request = queue.pop()
            completion = ScriptedEngine(self.script).generate([request])[0]
            self.order.append(chain)
            following = follow(chain, completion)
            if following is not None:
                queue.append((chain, following))


def _traces(result):
    return [
        (s.example.id, s.fields["prediction"], [(r.stage, r.prompt, r.completion) for r in s.trace])
        for s in result.states
    ]


def _task():
    return Task("last_letters", tuple(Example(i, {"question": q}, "x") for i, q in QUESTIONS.items()), "text", "inline")


def test_on_a_streaming_engine_each_chain_goes_on_without_waiting_and_results_are_the_same():
    stepwise, _ = _run()
    engine = StreamingScripted(script)
    pipelined = run_method(_task(), "least_to_most_promptkit", engine)
    assert _traces(pipelined) == _traces(stepwise)
    assert engine.order == [2, 1, 0, 0, 0], "the 3-step chain ran its steps back to back"
    assert engine.chain_calls == 1 and len(engine.calls) == 1, "decompose is one call, solving one chain call"
    assert pipelined.summary.engine_calls == 2


def test_pipelined_false_solves_in_rounds_even_on_a_streaming_engine():
    from dataclasses import replace

    from promptkit import build_method, evaluate
    from promptkit.stages import SolveInOrder
    from promptkit.stages.framework.pipeline import Pipeline

    engine = StreamingScripted(script)
    built = build_method(_task(), "least_to_most_promptkit")
    stages = [replace(s, pipelined=False) if isinstance(s, SolveInOrder) else s for s in built.pipeline.stages]
    result = evaluate(_task(), Pipeline(tuple(stages)), engine, built.extractor, method="l2m")
    assert not hasattr(engine, "chain_calls") and [len(c) for c in engine.calls] == [3, 3, 1, 1]
    assert _traces(result) == _traces(_run()[0])


def test_chains_through_the_cache_are_stored_and_a_rerun_asks_nothing(tmp_path):
    from promptkit.engines import CachedEngine

    engine = StreamingScripted(script)
    first = run_method(_task(), "least_to_most_promptkit", CachedEngine(engine, tmp_path / "c.sqlite"))
    again_engine = StreamingScripted(script)
    cached = CachedEngine(again_engine, tmp_path / "c.sqlite")
    again = run_method(_task(), "least_to_most_promptkit", cached)
    assert _traces(again) == _traces(first)
    assert not again_engine.calls and not hasattr(again_engine, "chain_calls"), "every link came from the cache"
    assert cached.stats().hits == 3 + 5 and cached.stats().model_calls == 0


def test_no_chains_make_no_call():
    from promptkit.engines.base import generate_chains

    for engine in (ScriptedEngine(script), StreamingScripted(script)):
        generate_chains(engine, [], lambda i, c: None)
        assert not engine.calls and not hasattr(engine, "chain_calls")
