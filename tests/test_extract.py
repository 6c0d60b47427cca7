from __future__ import annotations

import pytest

from promptkit.errors import PromptkitError
from promptkit.stages.library.extractors import (
    first_number,
    get_extractor,
    kojima_letters,
    kojima_number,
    last_number,
    letters,
)


@pytest.mark.parametrize(
    "text, expected",
    [
        (" 18.", "18"),
        ("$1,234.50 in total", "1234.5"),
        ("The answer is -3 degrees", "-3"),
        ("costs $ 40,000.", "40000"),
        ("It is 5.0.", "5"),
        (" \n\n30%.", "30"),
        ("3, 4 and 5", "3"),
        ("0.25 of it", "0.25"),
        ("no number here", None),
        ("", None),
    ],
)
def test_first_number(text, expected):
    assert first_number(text) == expected


def test_last_number():
    assert last_number("3 + 4 = 7. The answer is 1,007.") == "1007"


@pytest.mark.parametrize(
    "text, expected",
    [
        (' "fnenl".', "fnenl"),
        (' "h-e-e-o".', "heeo"),
        (" yajo. The last letter of", "yajo"),
        ("\n\nThe answer is “AbCd”", "abcd"),
        ("...", None),
    ],
)
def test_letters(text, expected):
    assert letters(text) == expected


def test_default_number_scoring_compares_as_numbers():
    ex = get_extractor("default", "number")
    assert ex.score("2125", "2,125")
    assert ex.score("14", "14.00")
    assert not ex.score("15", "14")
    assert not ex.score(None, "0"), "an unparsed answer is never correct, even against 0"


def test_kojima_reproduces_the_reference_cleansing():
    assert kojima_number(" $40,000.") == "40000"
    assert kojima_number(": Bob will need $14.00 to buy") == "14.00"
    assert kojima_number("none") is None
    assert kojima_letters(' "h-e-e-o".') == "h-e-e-o"
    assert kojima_letters(" fnenl. The last") == "fnenlThelast"
    ex = get_extractor("kojima", "number")
    assert not ex.score("2125", "2,125"), "the reference compares strings with the gold as given"


def test_unknown_extractor_suggests_close_names():
    with pytest.raises(PromptkitError, match="did you mean 'kojima'"):
        get_extractor("kojma", "number")


@pytest.mark.parametrize(
    "text, first, last",
    [
        ("$10 - $3 = $7", "10", "7"),  # a minus between two numbers subtracts
        ("10 - 3", "10", "3"),
        ("5 + -3", "5", "-3"),  # after an operator it is a sign
        ("(-2) apples", "-2", "-2"),
        ("She ate 3/4 of it", "0.75", "0.75"),  # fractions are numbers
        ("1/3 left", "1/3", "1/3"),
        ("3/0", "3", "3"),
        ("−3 degrees", "-3", "-3"),  # Unicode minus
        ("only .5 of a cup", "0.5", "0.5"),
        ("on 1/2/2020", "1", "1"),  # a date is not a fraction
        ("It is 123456789012345678901234567890.5 exactly", "123456789012345678901234567890.5", None),
    ],
)
def test_number_cases(text, first, last):
    assert first_number(text) == first
    assert last_number(text) == (last or first)


def test_numbers_of_any_length_compare_exactly():
    ex = get_extractor("default", "number")
    long = "1" * 40
    assert ex.extract(f"It is {long}.") == long
    assert ex.score(long, long) and not ex.score(long, long[:-1] + "2")
    assert ex.score("0.75", "3/4") and ex.score("-3", "−3")
    huge = "9" * 6000  # past Python's int-to-text limit: not a number we can read, and no exception
    assert ex.extract(huge) is None


def test_the_long_number_that_ended_runs_now_scores(tmp_path):
    from helpers import run_method

    from promptkit import ScriptedEngine
    from promptkit.tasks.base import Task
    from promptkit.types import Example

    task = Task("gsm8k", (Example("0", {"question": "q"}, "5"),), "number", "inline")
    engine = ScriptedEngine(lambda p: " 123456789012345678901234567890 is big. The answer is 5.")
    result = run_method(task, "few_shot_cot", engine, shots=1)
    assert result.summary.correct == 1 and result.summary.failed == 0
