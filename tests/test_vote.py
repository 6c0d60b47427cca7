from __future__ import annotations

from helpers import run_method

from promptkit import ScriptedEngine
from promptkit.stages import majority
from promptkit.tasks.base import Task
from promptkit.types import Example


def test_majority_ignores_unparsed_answers():
    assert majority(["3", None, "4", "3", None, None]) == ("3", {"3": 2, "4": 1})


def test_a_tie_goes_to_the_answer_that_appeared_first():
    assert majority(["4", "3", "3", "4"])[0] == "4"
    assert majority([None, "3", "4"])[0] == "3"


def test_nothing_parsed_means_no_prediction():
    assert majority([None, None]) == (None, {})


def test_self_consistency_is_one_call_with_n_samples_then_a_vote():
    task = Task("gsm8k", tuple(Example(str(i), {"question": f"q{i}"}, "7") for i in range(3)), "number", "inline")
    samples = [" The answer is 7.", " The answer is 8.", " The answer is 7.", " no idea", " The answer is 7."]
    engine = ScriptedEngine(lambda p: samples)
    result = run_method(task, "self_consistency", engine, samples=5, shots=1)
    assert result.summary.engine_calls == 1 and len(engine.calls[0]) == 3
    request = engine.calls[0][0]
    assert request.sampling.n == 5 and request.sampling.temperature > 0
    state = result.states[0]
    assert state.fields["prediction"] == "7"
    assert state.fields["votes"] == {"7": 3, "8": 1}
    assert state.fields["agreement"] == 3 / 5
    assert state.trace[0].completion == samples
    assert result.summary.correct == 3
