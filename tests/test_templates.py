"""Golden renders: Kojima et al.'s zero-shot and zero-shot-CoT formats, byte for byte."""

from __future__ import annotations

import pytest

from promptkit.errors import PromptkitError
from promptkit.stages.framework.templating import Templates, default_templates
from promptkit.tasks import read_definition

Q = "Janet has 3 apples.  How many?"


@pytest.mark.parametrize(
    "task, name, variables, expected",
    [
        ("gsm8k", "direct", {"question": Q}, f"Q: {Q}\nA: The answer (arabic numerals) is"),
        ("last_letters", "direct", {"question": Q}, f"Q: {Q}\nA: The answer is"),
        ("gsm8k", "zero_shot_cot/reason", {"question": Q}, f"Q: {Q}\nA: Let's think step by step."),
        (
            "gsm8k",
            "zero_shot_cot/answer",
            {"question": Q, "rationale": " She has 3.\n\n"},
            f"Q: {Q}\nA: Let's think step by step. She has 3.\n\n \nTherefore, the answer (arabic numerals) is",
        ),
        (
            "last_letters",
            "zero_shot_cot/answer",
            {"question": Q, "rationale": " ab"},
            f"Q: {Q}\nA: Let's think step by step. ab \nTherefore, the answer is",
        ),
    ],
)
def test_golden_render(task, name, variables, expected):
    words = read_definition(task).prompts.words()
    assert Templates(words=words).render(name, variables) == expected


def test_missing_variable_names_it_and_the_template():
    with pytest.raises(PromptkitError, match=r"template 'direct': 'question' is undefined"):
        default_templates().render("direct", {"questoin": Q})


def test_user_file_template(tmp_path):
    path = tmp_path / "mine.j2"
    path.write_text("Question: {{ question }}\nAnswer:")
    assert Templates().render(str(path), {"question": "x"}) == "Question: x\nAnswer:"


def test_sandbox_refuses_python_internals(tmp_path):
    path = tmp_path / "evil.j2"
    path.write_text("{{ question.__class__.__mro__[1].__subclasses__() }}")
    with pytest.raises(PromptkitError):
        Templates().render(str(path), {"question": "x"})


def test_unknown_template_is_a_clear_error():
    with pytest.raises(PromptkitError, match="template 'gsm8k/nope' not found"):
        default_templates().render("gsm8k/nope", {})
