"""From records to examples, as a task file says: Jinja over each record's fields, in the sandbox.

A record in the task's own format is mapped by its templates; a record that lacks the fields they
read but has `question` and `answer` is taken in the generic form (the question as asked, the gold
as given). Each gold answer is checked against the task's answer type, so a bad record is named
before any model loads.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import jinja2

from promptkit import jinja_env
from promptkit.errors import PromptkitError
from promptkit.tasks.definition import AnswerFormat, Choices, ExampleMap
from promptkit.tasks.records import Record
from promptkit.types import Example

GENERIC = ("question", "answer")
"""The generic record every task reads: {"question": ..., "answer": ...}."""


def after_last(text: str, separator: str) -> str:
    """The text after the last `separator` (GSM8K's '#### '); an error when there is none."""
    if separator not in text:
        raise PromptkitError(f"has no {separator!r} before its final answer")
    return text.rsplit(separator, 1)[1]


def drop_between(text: str, start: str, end: str) -> str:
    """`text` without every span from `start` to `end` (GSM8K's '<<48/2=24>>' calculator notes)."""
    out, rest = [], text
    while start in rest:
        before, _, after = rest.partition(start)
        if end not in after:
            break
        out.append(before)
        rest = after.partition(end)[2]
    return "".join(out) + rest


FILTERS: Mapping[str, Callable[..., Any]] = {"after_last": after_last, "drop_between": drop_between}
"""What task files may use beyond Jinja's own filters (no regular expressions: they could run unbounded)."""


class AnswerMisfit(PromptkitError):
    """A record's gold answer does not fit the task's answer type (a task may skip such records)."""


@dataclass(frozen=True)
class RecordRules:
    """Which records a data source takes: its `keep` test, and what a gold answer that does not fit means."""

    keep: str | None = None
    on_bad_answer: str = "error"
    where: str = "data"
    """The source's field in the task file, for messages (data, train)."""

    def compiled(self, source: str) -> tuple[str, Any] | None:
        """(its name for messages, the compiled expression), or None without a test; a broken one is named now."""
        if self.keep is None:
            return None
        name = f"{source}: {self.where}.keep"
        env = _environment()
        jinja_env.compile_template(env, "{{ " + self.keep + " }}", name)
        return name, env.compile_expression(self.keep, undefined_to_none=False)


@dataclass(frozen=True)
class Mapped:
    """What a Mapper made of a list of records: an example per record (None where it was left out)."""

    examples: tuple[Example | None, ...]
    rationales: dict[str, str]
    filtered: tuple[int, ...]
    """Positions the source's `keep` test left out."""
    skipped: tuple[tuple[int, str], ...]
    """(position, 'file:line: why') of each record left out for a gold answer that does not fit."""


def _environment() -> jinja2.Environment:
    return jinja_env.environment(filters=FILTERS)


def _is_template(text: str) -> bool:
    return "{{" in text or "{%" in text


@dataclass(frozen=True)
class _Compiled:
    """One template (or a bare field name) of the mapping, ready to render."""

    name: str
    source: str
    template: jinja2.Template | None
    reads: frozenset[str]

    def __call__(self, variables: Mapping[str, Any], watchdog: jinja_env.Watchdog | None = None) -> str:
        if self.template is None:
            value = variables[self.source]
            return (
                value
                if isinstance(value, str)
                else json.dumps(value)
                if isinstance(value, (list, dict))
                else str(value)
            )
        return jinja_env.render(self.template, variables, self.name, watchdog)


class Mapper:
    """A task's ExampleMap compiled once: records in, examples out."""

    def __init__(self, mapping: ExampleMap, answer: AnswerFormat, source: str) -> None:
        self.mapping, self.answer, self.source = mapping, answer, source
        env = _environment()

        def compile_text(field: str, text: str, bare_field_allowed: bool) -> _Compiled:
            name = f"{source}: example.{field}"
            if bare_field_allowed and not _is_template(text):
                return _Compiled(name, text, None, frozenset({text}))
            template = jinja_env.compile_template(env, text, name)
            return _Compiled(name, text, template, frozenset(jinja_env.undeclared(env, text, name)))

        self.question = compile_text("question", mapping.question, False)
        self.gold = compile_text("answer", mapping.answer, True)
        self.id = compile_text("id", mapping.id, True) if mapping.id else None
        self.rationale = compile_text("rationale", mapping.rationale, False) if mapping.rationale else None
        self.inputs = {}
        for key, expression in mapping.inputs.items():
            name = f"{source}: example.inputs.{key}"
            jinja_env.compile_template(env, "{{ " + expression + " }}", name)
            self.inputs[key] = (name, env.compile_expression(expression, undefined_to_none=False))
        made = {"choices", "gold", "record", *mapping.inputs}
        reads = set(self.question.reads | self.gold.reads) | (self.id.reads if self.id else set())
        if mapping.choices:
            reads.add(mapping.choices.field.split(".")[0])
        self.reads = tuple(sorted(reads - made))
        """Record fields the task's own format has: a record without them is read in the generic form."""
        self.strings = tuple(
            mapping.strings if mapping.strings is not None else [f for f in ("question",) if f in reads]
        )

    def examples(self, records: Sequence[Record], rules: RecordRules | None = None) -> Mapped:
        """Each record's example (None where `rules` leave it out), and each one's worked solution (by id) where the
        task file says how to write it."""
        rules = rules or RecordRules()
        keep = rules.compiled(self.source)
        examples: list[Example | None] = []
        rationales: dict[str, str] = {}
        filtered: list[int] = []
        skipped: list[tuple[int, str]] = []
        with jinja_env.Watchdog() as watchdog:  # one thread bounds every record's renders
            for i, (where, record) in enumerate(records):
                if keep is not None and not self._kept(keep, where, record):
                    filtered.append(i)
                    examples.append(None)
                    continue
                try:
                    example, rationale = self.example(i, where, record, watchdog)
                except AnswerMisfit as exc:
                    if rules.on_bad_answer != "skip":
                        raise
                    skipped.append((i, str(exc)))
                    examples.append(None)
                    continue
                examples.append(example)
                if rationale is not None:
                    rationales[example.id] = rationale
        return Mapped(tuple(examples), rationales, tuple(filtered), tuple(skipped))

    def _kept(self, keep: Any, where: str, record: Mapping[str, Any]) -> bool:
        try:
            return bool(_evaluate(keep[1], {"record": record, **record}, keep[0]))
        except PromptkitError as exc:
            raise PromptkitError(f"{where}: {exc}") from None

    def example(
        self, position: int, where: str, record: Mapping[str, Any], watchdog: jinja_env.Watchdog | None = None
    ) -> tuple[Example, str | None]:
        missing = [f for f in self.reads if f not in record]
        if missing and all(f in record for f in GENERIC):
            return self._generic(position, where, record)
        if missing:
            raise PromptkitError(
                f"{where}: '{missing[0]}' is missing (the task reads {', '.join(self.reads)}; "
                f'or give the generic form {{"question", "answer"}})'
            )
        for field in self.strings:
            value = record.get(field)
            if not isinstance(value, str):
                got = "missing" if field not in record else _type_name(value)
                raise PromptkitError(f"{where}: '{field}' must be a string, got {got}")
            if not value.strip():
                raise PromptkitError(f"{where}: '{field}' is empty")
        nulls = [f for f in self.reads if record[f] is None]
        if nulls:
            raise PromptkitError(f"{where}: '{nulls[0]}' must be a value, got null")
        # `record`: the whole record, for fields no template can name (a CSV column "Class Index")
        variables: dict[str, Any] = {"record": record, **record}
        labels: list[str] = []
        texts: list[str] = []
        if self.mapping.choices:
            variables["choices"] = choices = _choices(self.mapping.choices, record, where)
            labels, texts = [c["label"] for c in choices], [c["text"] for c in choices]
        try:
            inputs = {"question": self.question(variables, watchdog)}
            if not inputs["question"].strip():
                raise PromptkitError("the question is empty")
            for key, (name, expression) in self.inputs.items():
                inputs[key] = _evaluate(expression, variables, name)
            gold = self.gold({**variables, **inputs}, watchdog)
            example_id = self.id({**variables, **inputs}, watchdog) if self.id else str(position)
            gold = self._checked_gold(gold, labels)
            rationale = self.rationale({**variables, **inputs, "gold": gold}, watchdog) if self.rationale else None
        except AnswerMisfit as exc:
            raise AnswerMisfit(f"{where}: {exc}") from None
        except PromptkitError as exc:
            raise PromptkitError(f"{where}: {exc}") from None
        if labels:
            inputs["labels"] = labels  # type: ignore[assignment]
            inputs["choice_texts"] = texts  # type: ignore[assignment]  # what `continuations: texts` scores
        return Example(example_id, inputs, gold), rationale

    def _generic(self, position: int, where: str, record: Mapping[str, Any]) -> tuple[Example, str | None]:
        question, gold = record["question"], record["answer"]
        if not isinstance(question, str):
            raise PromptkitError(f"{where}: 'question' must be a string, got {_type_name(question)}")
        if not question.strip():
            raise PromptkitError(f"{where}: 'question' is empty")
        if isinstance(gold, str) and not gold.strip():
            raise PromptkitError(f"{where}: 'answer' is empty")
        if not isinstance(gold, (str, int, float)) or isinstance(gold, bool):
            raise PromptkitError(f"{where}: 'answer' must be a string or a number, got {_type_name(gold)}")
        inputs: dict[str, Any] = {"question": question}
        for key, (name, expression) in self.inputs.items():
            try:
                inputs[key] = _evaluate(expression, {"question": question}, name)
            except PromptkitError:
                pass  # an input the task's own format derives; the generic form may not support it
        example_id = str(record["id"]) if isinstance(record.get("id"), (str, int)) else str(position)
        try:
            gold = self._checked_gold(str(gold), [])
        except AnswerMisfit as exc:
            raise AnswerMisfit(f"{where}: {exc}") from None
        return Example(example_id, inputs, gold), None

    def _checked_gold(self, gold: str, record_labels: list[str]) -> str:
        """The gold answer as compared; AnswerMisfit (naming no place: the caller does) when it does not fit."""
        gold = gold.strip()
        if not gold:
            raise AnswerMisfit(f"the gold answer ('{self.mapping.answer}') is empty")
        kind = self.answer.type
        if kind == "number" and _number(gold) is None:
            raise AnswerMisfit(f"the gold answer {gold!r} is not a number (the task's answers are numbers)")
        if kind == "yes_no":
            if gold.lower() not in ("yes", "no"):
                raise AnswerMisfit(f"the gold answer {gold!r} is not yes or no")
            return gold.lower()
        if kind == "choice":
            allowed = (
                self.answer.labels or record_labels or (self.mapping.choices.labels if self.mapping.choices else None)
            )
            if allowed and gold not in allowed:
                raise AnswerMisfit(f"the gold answer {gold!r} is not one of the labels {', '.join(allowed)}")
        return gold


def _type_name(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def _number(text: str) -> Fraction | None:
    try:
        return Fraction(text.replace(",", ""))
    except (ValueError, ZeroDivisionError):
        return None


def _evaluate(expression: Any, variables: Mapping[str, Any], name: str) -> Any:
    try:
        return expression(**variables)
    except jinja2.UndefinedError as exc:
        raise PromptkitError(f"{name}: {exc.message}") from None
    except jinja2.exceptions.SecurityError as exc:
        raise PromptkitError(f"{name}: unsafe operation refused by the sandbox: {exc}") from None
    except (jinja2.TemplateError, TypeError, ValueError, IndexError, KeyError, AttributeError) as exc:
        raise PromptkitError(f"{name}: {exc}") from None


def _dotted(record: Mapping[str, Any], dotted: str, where: str) -> Any:
    value: Any = record
    for part in dotted.split("."):
        if not isinstance(value, Mapping) or part not in value:
            raise PromptkitError(f"{where}: no field {dotted!r}")
        value = value[part]
    return value


def _choices(spec: Choices, record: Mapping[str, Any], where: str) -> list[dict[str, Any]]:
    """[{label, text, score}] in the order asked: the record's own, or shuffled seeded by the record."""
    value = _dotted(record, spec.field, where)
    if isinstance(value, Mapping):
        options = [{"text": str(text), "score": score} for text, score in value.items()]
    elif isinstance(value, list) and all(isinstance(o, Mapping) and "text" in o for o in value):
        options = [{"text": str(o["text"]), "score": o.get("score"), "label": o.get("label")} for o in value]
    else:
        raise PromptkitError(f"{where}: {spec.field!r} must be a mapping option -> score or a list of {{label, text}}")
    if spec.shuffle:
        seed = hashlib.sha256(json.dumps(record, sort_keys=True, ensure_ascii=False).encode()).hexdigest()
        random.Random(seed).shuffle(options)
    if spec.labels is not None:
        if len(options) > len(spec.labels):
            raise PromptkitError(f"{where}: {len(options)} options but only {len(spec.labels)} labels")
        for option, label in zip(options, spec.labels):
            option["label"] = label
    elif any(not o.get("label") for o in options):
        raise PromptkitError(f"{where}: options without labels: give example.choices.labels")
    return options
