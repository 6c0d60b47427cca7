"""An lm-eval task as a promptkit task: its definition (what methods are expanded by) and its examples.

Each evaluated document is an example whose id is lm-eval's doc_id. Its `question` is the task's own
doc_to_text without its `Question:` label and its final answer cue (`Answer:`), with a multiple-choice
task's options after it as Kojima et al. write them (` Answer Choices: (A) ... (B) ...`): what promptkit's
generation methods ask. Its gold answer is what lm-eval's process_results compares with: the letter of the
right option, or the target text.
"""

from __future__ import annotations

import re
import string
from functools import lru_cache
from pathlib import Path
from typing import Any

from promptkit.errors import PromptkitError
from promptkit.tasks.base import Task
from promptkit.tasks.definition import (
    AnswerFormat,
    AnswerKind,
    ClassificationFormat,
    ExampleMap,
    Prompts,
    TaskDefinition,
)
from promptkit.tasks.lm_eval.build import built_task, check_files, config_of, facts_of, local_files
from promptkit.tasks.lm_eval.facts import LmEvalFacts
from promptkit.tasks.lm_eval.index import find
from promptkit.tasks.lm_eval.source import LmEvalSource
from promptkit.types import Example

_LABEL = re.compile(r"^\s*(?:Question|Q)\s*:\s*")
_CUE = re.compile(r"\s*(?:Answer|A)\s*:\s*$")
_NUMBER = re.compile(r"-?(?:\d+(?:\.\d*)?|\.\d+)")
# Kojima et al.'s answer prefixes (the zero-shot CoT answer trigger follows from them).
PREFIXES: dict[AnswerKind, str] = {
    "number": "The answer (arabic numerals) is",
    "choice": "Among the options, the answer is",
    "text": "The answer is",
}


def lm_eval_definition(name: str, data_files: dict[str, str] | None = None) -> TaskDefinition:
    """A task of lm-eval by name, from its configuration alone (no data is read): what a spec is checked by."""
    return _definition(name, tuple(sorted((data_files or {}).items())) if data_files is not None else None)


@lru_cache(maxsize=64)
def _definition(name: str, files: tuple[tuple[str, str], ...] | None) -> TaskDefinition:
    entry = find(name)
    if entry.kind != "task" or entry.yaml is None:
        members = ", ".join(entry.members[:8]) + (", ..." if len(entry.members) > 8 else "")
        raise PromptkitError(
            f"lm-eval {name!r} is a {entry.kind} of {len(entry.members)} tasks ({members}): promptkit eval runs each "
            "of them; elsewhere name one task"
        )
    facts = facts_of(name, entry.yaml, config_of(entry.yaml), dict(files) if files is not None else None)
    return definition_for(facts, "choice" if facts.output_type == "multiple_choice" else "text")


def definition_for(facts: LmEvalFacts, kind: AnswerKind) -> TaskDefinition:
    """The task definition promptkit's methods read: its answer type and words; the records are lm-eval's."""
    name = re.sub(r"[^A-Za-z0-9_.-]", "_", facts.task)
    labels = facts.labels
    prefix = f"The answer ({' or '.join(labels)}) is" if labels else PREFIXES[kind]
    # A fixed label set is a classification: promptkit's classify scores its words after the question.
    classification = ClassificationFormat(q_prefix="", a_prefix="Answer: ") if labels else None
    return TaskDefinition(
        name=name,
        description=f"lm-evaluation-harness task {facts.task} ({facts.output_type}, scored by {facts.metric})",
        example=ExampleMap(question="{{ question }}", answer="answer"),
        answer=AnswerFormat(type=kind, labels=labels),
        prompts=Prompts(answer_prefix=prefix, classification=classification),
        lm_eval=facts,
    )


def with_data(definition: TaskDefinition, data: str | Path) -> TaskDefinition:
    """The definition reading its data from --data: a folder of SPLIT.jsonl files, or one file evaluated."""
    facts = _facts(definition)
    files = local_files(facts.task, config_of(Path(facts.yaml)), Path(data))
    return definition.model_copy(update={"lm_eval": facts.model_copy(update={"data_files": files})})


def load_lm_eval(definition: TaskDefinition, limit: int | None = None) -> Task:
    """The task's evaluated documents as examples, read by lm-eval."""
    facts = _facts(definition)
    lm = _task(facts)
    docs = tuple(lm.eval_docs)
    if not docs:
        raise PromptkitError(f"lm-eval task {facts.task!r}: no documents to evaluate")
    facts = facts.model_copy(update={"multiple_input": bool(getattr(lm, "multiple_input", False))})
    source = LmEvalSource(facts, lm, docs)
    golds = [source.gold(doc) for doc in docs]
    kind = "choice" if facts.output_type == "multiple_choice" else _generated_kind(lm, facts, golds)
    examples = tuple(_example(source, i, doc, gold) for i, (doc, gold) in enumerate(zip(docs, golds)))
    if kind != "choice":
        _check_metric(source, str(golds[0]))
    absent = {}
    if facts.multiple_input:
        absent["question"] = (
            f"lm-eval task {facts.task!r} puts each option in a context of its own (multiple_input): only the lm_eval "
            "method scores it"
        )
    where = ", ".join(f"{s}: {f}" for s, f in sorted(facts.data_files.items())) if facts.data_files else "lm-eval's"
    task = Task(
        facts.label,
        examples,
        kind,
        f"lm-eval {facts.task} ({where})",
        {"lm_eval": facts.task, "metric": facts.metric},
        definition=definition_for(facts, kind),
        lm_eval=source,
        absent=absent,
    )
    return task.limit(limit)


def load_lm_eval_pool(definition: TaskDefinition) -> Task:
    """The documents lm-eval draws demonstrations from (its few-shot split) as examples: a pool for promptkit's own
    selectors."""
    facts = _facts(definition)
    lm = _task(facts)
    docs = tuple(lm.fewshot_docs() or ())
    if not docs:
        raise PromptkitError(
            f"lm-eval task {facts.task!r} has no documents to draw demonstrations from (give its training split a "
            "file, or --pool FILE)"
        )
    source = LmEvalSource(facts, lm, docs)
    examples = tuple(_example(source, i, doc, source.gold(doc)) for i, doc in enumerate(docs))
    kind = (
        "choice" if facts.output_type == "multiple_choice" else _generated_kind(lm, facts, [e.target for e in examples])
    )
    return Task(facts.label, examples, kind, f"lm-eval {facts.task} (its few-shot documents)",
                definition=definition_for(facts, kind))  # fmt: skip


def _facts(definition: TaskDefinition) -> LmEvalFacts:
    if definition.lm_eval is None:
        raise TypeError(f"task {definition.name!r} is not an lm-eval task")
    return definition.lm_eval


def _task(facts: LmEvalFacts) -> Any:
    if facts.data_files is not None:
        check_files(facts.task, config_of(Path(facts.yaml)), facts.data_files)
    lm = built_task(facts)
    if callable(lm.config.process_results):
        raise PromptkitError(
            f"lm-eval task {facts.task!r} scores with a process_results hook of its own, which promptkit does not "
            "run per answer: not supported"
        )
    return lm


def _example(source: LmEvalSource, index: int, doc: dict[str, Any], gold: Any) -> Example:
    task = source.task
    inputs: dict[str, Any] = {"lm_eval_doc": index}
    if source.facts.output_type == "multiple_choice":
        options = [str(o) for o in task.doc_to_choice(doc)]
        labels = source.facts.labels or option_labels(len(options))
        inputs |= {"labels": labels, "choice_texts": options}
        if source.facts.labels:  # the options are the answers themselves (no, yes)
            inputs["question"] = question_text(task.doc_to_text(doc))
        elif not source.facts.multiple_input:
            listed = " ".join(f"({label}) {text}" for label, text in zip(labels, options))
            inputs["question"] = f"{question_text(task.doc_to_text(doc))} Answer Choices: {listed}"
        target = labels[gold] if gold is not None else None
    else:
        inputs["question"] = question_text(task.doc_to_text(doc))
        target = gold
    return Example(str(index), inputs, target)


def option_labels(count: int) -> list[str]:
    """A, B, C, ... (1, 2, 3, ... past 26 options)."""
    return list(string.ascii_uppercase[:count]) if count <= 26 else [str(i + 1) for i in range(count)]


def question_text(text: Any) -> str:
    """doc_to_text without a leading 'Question:' label and a final 'Answer:' cue."""
    return _CUE.sub("", _LABEL.sub("", str(text)))


def _generated_kind(lm: Any, facts: LmEvalFacts, golds: list[Any]) -> AnswerKind:
    """number where every gold answer is one once the metric's own regexes_to_ignore are applied (GSM8K's
    '#### 72'); text otherwise. Scoring is the task's metric either way."""
    ignore = lm._metric_fn_kwargs.get(facts.metric, {}).get("regexes_to_ignore") or ()

    def cleaned(gold: str) -> str:
        for pattern in ignore:
            gold = re.sub(pattern, "", gold)
        return gold.strip()

    return "number" if all(_NUMBER.fullmatch(cleaned(str(g))) for g in golds) else "text"


def _check_metric(source: LmEvalSource, gold: str) -> None:
    """The metric must score one answer against its gold (exact_match does; corpus-level ones like bleu do not)."""
    try:
        ok = source.matches(gold, gold)
    except Exception:  # a metric of another shape fails in its own way
        ok = False
    if not ok:
        raise PromptkitError(
            f"lm-eval task {source.facts.task!r}: its metric {source.facts.metric!r} does not score one answer "
            "against its gold, which promptkit's scoring needs: not supported"
        )
