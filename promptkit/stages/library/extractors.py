"""Answer extractors: text -> answer string, or None when nothing can be parsed (never 0).

Each named extractor has a version per answer type (number, choice, yes_no, text) and says how its
answers compare with gold, so the same completions can be scored several ways without generating
again. A choice task's extractors are given its allowed labels.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from functools import partial

from promptkit.errors import PromptkitError
from promptkit.registry import Registry
from promptkit.tasks import AnswerKind
from promptkit.types import Example

# A number: thousands groups only when well formed ("1,234" but not "3, 4"), decimals, ".5", and an
# optional "/denominator" (not a date's "1/2/2020"). Signs and currency are read around it in code.
_NUMBER = re.compile(
    r"(?<![^\W_])(?<![.,/])(?P<sign>[-\u2212]\s?)?(?P<cur>[$\u20ac\u00a3]\s?)?(?P<sign2>[-\u2212])?"
    r"(?P<num>(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?|\.\d+)(?![\d,]*\d)"
    r"(?:/(?P<den>\d+)(?![\d/]))?"
)
_QUOTED = re.compile(r"[\"\u201c\u201d'\u2018\u2019`]([^\"\u201c\u201d'\u2018\u2019`]+)[\"\u201c\u201d'\u2018\u2019`]")


def _fraction(text: str) -> Fraction | None:
    """Exact value of '1,234.5', '-3', '3/4', '.5'; None for anything else (never raises)."""
    cleaned = text.replace(",", "").replace("$", "").replace("\u2212", "-").strip()
    try:
        return Fraction(cleaned)
    except (ValueError, ZeroDivisionError, OverflowError):  # not a number; or too many digits to convert
        return None


def number_text(value: Fraction) -> str | None:
    """'3', '-0.75', '1/3': integers and terminating decimals as decimals, others as a fraction.

    None only past Python's limit on converting an integer to text (thousands of digits).
    """
    sign = "-" if value < 0 else ""
    p, q = abs(value.numerator), value.denominator
    twos = fives = 0
    rest = q
    while rest % 2 == 0:
        rest, twos = rest // 2, twos + 1
    while rest % 5 == 0:
        rest, fives = rest // 5, fives + 1
    try:
        if q == 1:
            return f"{sign}{p}"
        if rest != 1:
            return f"{sign}{p}/{q}"
        places = max(twos, fives)
        digits = str(p * 10**places // q).rjust(places + 1, "0")
    except ValueError:
        return None
    return f"{sign}{digits[:-places]}.{digits[-places:]}".rstrip("0")


def normalize_number(text: str) -> str | None:
    value = _fraction(text)
    return None if value is None else number_text(value)


def _is_subtraction(text: str, sign_at: int) -> bool:
    """A minus right after a number ('$10 - $3') subtracts; it does not make the next number negative."""
    before = text[:sign_at].rstrip()
    before = before.rstrip("$\u20ac\u00a3%").rstrip()
    return bool(before) and (before[-1].isdigit() or before[-1] == ")")


def _number_strings(text: str) -> list[str]:
    out = []
    for m in _NUMBER.finditer(text):
        value = _fraction(m.group("num"))
        if value is None:
            continue
        if m.group("den"):
            denominator = _fraction(m.group("den"))
            if denominator:
                value /= denominator
        negative = bool(m.group("sign2")) or (bool(m.group("sign")) and not _is_subtraction(text, m.start()))
        written = number_text(-value if negative else value)
        if written is not None:
            out.append(written)
    return out


def first_number(text: str) -> str | None:
    """The first number: '$1,234.50' -> '1234.5', '-3' -> '-3', '18.' -> '18', '3/4' -> '0.75'."""
    found = _number_strings(text)
    return found[0] if found else None


def last_number(text: str) -> str | None:
    found = _number_strings(text)
    return found[-1] if found else None


def letters(text: str) -> str | None:
    """The first line's quoted span, or its first sentence; quotes, spaces and punctuation removed."""
    line = next((ln.strip() for ln in text.splitlines() if ln.strip()), "")
    quoted = _QUOTED.search(line)
    span = quoted.group(1) if quoted else re.split(r"\.(?:\s|$)", line)[0]
    cleaned = re.sub(r"[\W_]", "", span).lower()
    return cleaned or None


def numbers_match(prediction: str, gold: str) -> bool:
    a, b = _fraction(prediction), _fraction(gold)
    return a is not None and a == b


def letters_match(prediction: str, gold: str) -> bool:
    return prediction.lower() == re.sub(r"[\W_]", "", gold).lower()


def exact_match(prediction: str, gold: str) -> bool:
    return prediction == gold


# --- Kojima et al. (2022), answer_cleansing() for zero-shot methods, reproduced exactly -----------


def kojima_number(text: str) -> str | None:
    found = re.findall(r"-?\d+\.?\d*", text.replace(",", ""))
    return _kojima_tail(found[0]) if found else None


def kojima_letters(text: str) -> str | None:
    return _kojima_tail(re.sub("\"|'|\n|\\.|\\s", "", text)) or None


def kojima_choice(text: str, labels: Sequence[str]) -> str | None:
    """re.findall(r'A|B|C|D|E', text)[0]: the first allowed letter anywhere, inside a word too."""
    found = re.findall("|".join(re.escape(label) for label in labels), text)
    return _kojima_tail(found[0]) if found else None


def kojima_yes_no(text: str) -> str | None:
    """Lowercased, quotes, newlines, periods, spaces, colons and commas made spaces; the first yes or no word."""
    words = re.sub("\"|'|\n|\\.|\\s|\\:|\\,", " ", text.lower()).split(" ")
    found = [w for w in words if w in ("yes", "no")]
    return _kojima_tail(found[0]) if found else None


def _kojima_tail(pred: str) -> str:
    return pred.removesuffix(".")


# --- choices and yes/no: a label or word standing on its own ----------------------------------------


def _label_pattern(labels: Sequence[str]) -> re.Pattern[str]:
    """'(C)', or C alone: not inside a word, not the article of a following word ('A pond'; 'A or C' is a label)."""
    alternatives = "|".join(re.escape(label) for label in sorted(labels, key=len, reverse=True))
    return re.compile(rf"\(({alternatives})\)|(?<![\w])({alternatives})(?![\w])(?!\s+(?!(?:or|and)\b)[a-z])")


def _labels_in(text: str, labels: Sequence[str]) -> list[str]:
    """The labels in order; 'A:' opening a later line is a speaker (a model writing the next turn), not an answer."""
    found = []
    for m in _label_pattern(labels).finditer(text):
        if m.group(2) and text[m.end() : m.end() + 1] == ":" and text[: m.start()].endswith("\n"):
            continue
        found.append(m.group(1) or m.group(2))
    return found


def first_label(text: str, labels: Sequence[str]) -> str | None:
    found = _labels_in(text, labels)
    return found[0] if found else None


def last_label(text: str, labels: Sequence[str]) -> str | None:
    found = _labels_in(text, labels)
    return found[-1] if found else None


_YES_NO = re.compile(r"\b(yes|no)\b", re.IGNORECASE)


def first_yes_no(text: str) -> str | None:
    m = _YES_NO.search(text)
    return m.group(1).lower() if m else None


def last_yes_no(text: str) -> str | None:
    found = _YES_NO.findall(text)
    return found[-1].lower() if found else None


# --- "The answer is ..." (few-shot CoT exemplars; least-to-most's 'outputs "..."' for letters) ------

_ANSWER_IS = re.compile(r"[Tt]he answer is[:\s]*(.*)")
_OUTPUTS = re.compile(r'outputs "([^"]*)"')


def answer_is_number(text: str) -> str | None:
    """The number after the first 'The answer is'; without that phrase, the last number."""
    m = _ANSWER_IS.search(text)
    found = first_number(m.group(1)) if m else None
    return found if found is not None else last_number(text)


def answer_is_label(text: str, labels: Sequence[str]) -> str | None:
    """The first label after 'The answer is'; without that phrase, the last label."""
    m = _ANSWER_IS.search(text)
    found = first_label(m.group(1), labels) if m else None
    return found if found is not None else last_label(text, labels)


def answer_is_yes_no(text: str) -> str | None:
    m = _ANSWER_IS.search(text)
    found = first_yes_no(m.group(1)) if m else None
    return found if found is not None else last_yes_no(text)


def answer_is_letters(text: str) -> str | None:
    m = _ANSWER_IS.search(text)
    if m:
        return letters(m.group(1))
    outputs = _OUTPUTS.findall(text)
    return letters(f'"{outputs[-1]}"') if outputs else None


# --- lm-evaluation-harness gsm8k_cot filters and its exact_match settings, reproduced -------------

_STRICT = re.compile(r"The answer is (\-?[0-9\.\,]+).")
_FLEXIBLE = re.compile(r"(-?[$0-9.,]{2,})|(-?[0-9]+)")
_LM_EVAL_IGNORE = [re.compile(r) for r in (",", r"\$", r"(?s).*#### ", r"\.$")]


def _first_group(match: str | tuple[str, ...]) -> str:
    return match if isinstance(match, str) else next((g for g in match if g), "")


def lm_eval_strict(text: str) -> str | None:
    """strict-match: the first 'The answer is N.'; lm-eval's '[invalid]' becomes None."""
    found = _STRICT.findall(text)
    return _first_group(found[0]) if found else None


def lm_eval_flexible(text: str) -> str | None:
    """flexible-extract: the last number-like span (group_select -1)."""
    found = _FLEXIBLE.findall(text)
    return _first_group(found[-1]) if found else None


def lm_eval_exact_match(prediction: str, gold: str) -> bool:
    """exact_match with ignore_case and regexes_to_ignore [',', '\\$', '(?s).*#### ', '\\.$']."""

    def clean(s: str) -> str:
        for r in _LM_EVAL_IGNORE:
            s = r.sub("", s)
        return s.lower()

    return clean(prediction) == clean(gold)


@dataclass(frozen=True)
class Extractor:
    name: str
    extract: Callable[[str], str | None]
    matches: Callable[[str, str], bool]
    """How an extracted answer compares with the gold answer."""
    extract_for: Callable[[str, Example], str | None] | None = None
    """Where the answer depends on the example too (an lm-eval filter reads its document): used instead."""

    def answer(self, text: str, example: Example) -> str | None:
        """The answer a text gives to an example's question."""
        return self.extract(text) if self.extract_for is None else self.extract_for(text, example)

    def score(self, prediction: str | None, gold: str | None) -> bool:
        return prediction is not None and gold is not None and self.matches(prediction, gold)


Make = Callable[[Sequence[str]], Extractor]
"""The task's allowed labels (a choice task's; empty otherwise) -> the extractor."""


def _plain(name: str, extract: Callable[[str], str | None], matches: Callable[[str, str], bool]) -> Make:
    return lambda labels: Extractor(name, extract, matches)


def _labelled(name: str, extract: Callable[..., str | None], matches: Callable[[str, str], bool]) -> Make:
    return lambda labels: Extractor(name, partial(extract, labels=tuple(labels)), matches)


EXTRACTORS: Registry[Mapping[AnswerKind, Make]] = Registry(
    "extractor",
    {
        "default": {
            "number": _plain("default", first_number, numbers_match),
            "choice": _labelled("default", first_label, exact_match),
            "yes_no": _plain("default", first_yes_no, exact_match),
            "text": _plain("default", letters, letters_match),
        },
        "answer_is": {
            "number": _plain("answer_is", answer_is_number, numbers_match),
            "choice": _labelled("answer_is", answer_is_label, exact_match),
            "yes_no": _plain("answer_is", answer_is_yes_no, exact_match),
            "text": _plain("answer_is", answer_is_letters, letters_match),
        },
        "strict-match": {"number": _plain("strict-match", lm_eval_strict, lm_eval_exact_match)},
        "flexible-extract": {"number": _plain("flexible-extract", lm_eval_flexible, lm_eval_exact_match)},
        # Kojima et al.'s answer_cleansing per dataset type. The reference compares strings: gold as
        # given, so '2,125' never matches '2125'.
        "kojima": {
            "number": _plain("kojima", kojima_number, exact_match),
            "choice": _labelled("kojima", kojima_choice, exact_match),
            "yes_no": _plain("kojima", kojima_yes_no, exact_match),
            "text": _plain("kojima", kojima_letters, exact_match),
        },
    },
)


def get_extractor(name: str, kind: AnswerKind, labels: Sequence[str] = ()) -> Extractor:
    """The named extractor for an answer type; a choice task's needs its labels."""
    by_kind = EXTRACTORS.get(name)
    if kind not in by_kind:
        raise PromptkitError(f"extractor {name!r} does not handle {kind} answers (it handles: {', '.join(by_kind)})")
    if kind == "choice" and not labels:
        raise PromptkitError("a choice task needs its labels (answer.labels in the task file, or example.choices)")
    return by_kind[kind](labels)
