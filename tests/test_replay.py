from __future__ import annotations

import json

import pytest

from promptkit.engines import ReplayEngine
from promptkit.errors import PromptkitError, ReplayMiss
from promptkit.types import GenRequest, Sampling


@pytest.fixture
def recording(tmp_path):
    path = tmp_path / "rec.jsonl"
    rows = [
        {"prompt": "Q: What is 2+2?\nA: The answer is", "completions": [" 4.\nQ: next"]},
        {"prompt": "Q: What is 3+3?\nA: The answer is", "completions": [" 6.", " six", " 6"]},
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_serves_recorded_completions_in_order(recording):
    engine = ReplayEngine(recording)
    out = engine.generate(
        [
            GenRequest("Q: What is 3+3?\nA: The answer is", Sampling(n=2)),
            GenRequest("Q: What is 2+2?\nA: The answer is"),
        ]
    )
    assert out[0].texts == (" 6.", " six")
    assert out[1].texts == (" 4.\nQ: next",)


def test_stop_strings_cut_recorded_text(recording):
    out = ReplayEngine(recording).generate([GenRequest("Q: What is 2+2?\nA: The answer is", Sampling(stop=("\nQ:",)))])
    assert out[0].texts == (" 4.",)


def test_a_miss_shows_the_prompt_and_where_it_differs(recording):
    with pytest.raises(ReplayMiss) as err:
        ReplayEngine(recording).generate([GenRequest("Q: What is 3+4?\nA: The answer is")])
    message = str(err.value)
    assert "Q: What is 3+4?" in message
    assert "differs at character 13" in message
    assert "'4?\\nA: The answer is'" in message and "'3?\\nA: The answer is'" in message


def test_too_few_recorded_samples_is_an_error(recording):
    with pytest.raises(ReplayMiss, match="asked for 4 samples, the recording has 1"):
        ReplayEngine(recording).generate([GenRequest("Q: What is 2+2?\nA: The answer is", Sampling(n=4))])


def test_malformed_line_names_file_and_line(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"prompt": "a", "completions": ["b"]}\n{"prompt": \n')
    with pytest.raises(PromptkitError, match=r"bad\.jsonl:2: malformed JSON"):
        ReplayEngine(path)
