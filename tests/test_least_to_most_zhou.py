"""Least-to-most prompts are Zhou et al.'s, byte for byte (the texts: ../shared/data/exemplars/least_to_most_zhou.json).

The exemplar text is compared verbatim; where the paper prints no format (how the query and solved
subproblems are appended), the test spells out the layout the templates follow.
"""

from __future__ import annotations

import json

import pytest

from promptkit.stages.framework.templating import default_templates

pytestmark = pytest.mark.reproduction

WORDS = ["Whitney", "Erika", "Tj", "Benito"]


@pytest.fixture(scope="module")
def zhou(shared_data):
    return json.loads((shared_data / "exemplars" / "least_to_most_zhou.json").read_text(encoding="utf-8"))


def _qa(exemplars) -> str:
    return "\n\n".join(f"Q: {e['question']}\nA: {e['answer']}" for e in exemplars)


def test_last_letters_decomposition_is_table_1(zhou):
    rendered = default_templates().render("last_letters/l2m_zhou_decompose", {"words": WORDS})
    expected = _qa(zhou["last_letters"]["decompose_exemplars"]) + '\n\nQ: "Whitney, Erika, Tj, Benito"\nA:'
    assert rendered == expected


def test_last_letters_solving_is_table_2_then_the_solved_sublists(zhou):
    solved = [{"question": "Whitney, Erika", "answer": 'The last letter of "Whitney" is "y". ... outputs "ya".'}]
    variables = {"solved": solved, "current": "Whitney, Erika, Tj"}
    rendered = default_templates().render("last_letters/l2m_zhou_solve", variables)
    expected = (
        _qa(zhou["last_letters"]["solve_exemplars"])
        + '\n\nQ: "Whitney, Erika"\nA: The last letter of "Whitney" is "y". ... outputs "ya".'
        + '\n\nQ: "Whitney, Erika, Tj"\nA:'
    )
    assert rendered == expected


def test_gsm8k_decomposition_is_the_seven_example_prompt(zhou):
    question = "Tom has 2 cats and 3 dogs. How many pets does he have?"
    rendered = default_templates().render("gsm8k/l2m_zhou_decompose", {"question": question})
    assert rendered == zhou["gsm8k"]["decompose_prompt"] + f"\n\nQ: {question}\nA:"


def test_gsm8k_solving_is_the_four_example_prompt(zhou):
    question = "Tom has 2 cats and 3 dogs. How many pets does he have?"
    variables = {
        "question": question,
        "solved": [{"question": "How many cats?", "answer": "Tom has 2 cats. The answer is 2."}],
        "current": "How many pets does he have?",
    }
    rendered = default_templates().render("gsm8k/l2m_zhou_solve", variables)
    expected = (
        zhou["gsm8k"]["solve_prompt"]
        + f"\n\n{question}\n\nQ: How many cats?\nA: Tom has 2 cats. The answer is 2.\n\nQ: How many pets does he have?\nA:"
    )
    assert rendered == expected


def test_the_method_sends_these_prompts_and_solves_from_two_words(zhou, tmp_path):
    from helpers import run_method

    from promptkit import ScriptedEngine
    from promptkit.tasks import load_task

    question = 'Take the last letters of each words in "Ada Bob Cy" and concatenate them.'
    task = load_task("last_letters", _one_question_file(tmp_path, question, "aby"))

    def script(prompt: str) -> str:
        if prompt.endswith('Q: "Ada, Bob, Cy"\nA:') and "Concatenating" not in prompt:
            return ' "Ada", "Ada, Bob", "Ada, Bob, Cy"'
        current = prompt.rsplit('Q: "', 1)[1].split('"')[0]
        return {
            "Ada, Bob": ' ... So, "Ada, Bob" outputs "ab".',
            "Ada, Bob, Cy": ' ... So, "Ada, Bob, Cy" outputs "aby".',
        }[current]

    engine = ScriptedEngine(script)
    result = run_method(task, "least_to_most", engine)
    assert engine.calls[0][0].prompt == _qa(zhou["last_letters"]["decompose_exemplars"]) + '\n\nQ: "Ada, Bob, Cy"\nA:'
    assert result.states[0].fields["subquestions"] == ["Ada, Bob", "Ada, Bob, Cy"]  # Table 2 starts at two words
    assert result.summary.correct == 1 and result.summary.engine_calls == 3


def _one_question_file(tmp_path, question, answer):
    import json

    path = tmp_path / "one.jsonl"
    path.write_text(json.dumps({"question": question, "answer": answer}) + "\n")
    return path
