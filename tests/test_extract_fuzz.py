"""Every extractor returns an answer or nothing for any text; scoring never raises either."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from promptkit.stages.library.extractors import EXTRACTORS, first_number, normalize_number

# Text biased towards what breaks number parsing: digits, signs, separators, currency, fractions.
NUMBERISH = st.text(alphabet="0123456789-−+.,/$€£ eE%()ab\n\"'“”", max_size=80)
ANY_TEXT = st.one_of(st.text(max_size=200), NUMBERISH)
LABELS = ("A", "B", "C", "D", "E")
EXTRACTORS_ALL = [make(LABELS) for name in EXTRACTORS.names() for make in EXTRACTORS.get(name).values()]


@settings(max_examples=400, deadline=None)
@given(ANY_TEXT, ANY_TEXT)
def test_extractors_never_raise(text, gold):
    for extractor in EXTRACTORS_ALL:
        answer = extractor.extract(text)
        assert answer is None or isinstance(answer, str)
        assert extractor.score(answer, gold) in (True, False)


@settings(max_examples=300, deadline=None)
@given(NUMBERISH)
def test_an_extracted_number_reads_back_as_itself(text):
    found = first_number(text)
    if found is not None:
        assert normalize_number(found) == found


@settings(max_examples=200, deadline=None)
@given(st.integers(), st.integers(min_value=0, max_value=10**40))
def test_any_integer_or_decimal_round_trips(whole, fraction):
    text = f"{whole}.{fraction}" if fraction else str(whole)
    found = first_number(f"The total is {text} dollars")
    assert normalize_number(found) == normalize_number(text)
