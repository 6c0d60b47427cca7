"""A task file: a benchmark described as data (YAML checked by these models, `promptkit schema task`).

It says where the records are, how a record becomes an example (Jinja over the record's fields),
what kind of answer the task expects, and the words the methods put around a question. A task file
may come from someone else: unknown fields are refused, and its paths are read only inside its own
folder (promptkit.tasks.files).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Literal

from pydantic import Field, field_validator, model_validator
from pydantic.json_schema import SkipJsonSchema

from promptkit.schema import Count, Seed, SpecModel
from promptkit.tasks.lm_eval.facts import LmEvalFacts

AnswerKind = Literal["number", "choice", "yes_no", "text"]
"""number: compared as numbers; choice: one of the allowed labels; yes_no: yes or no; text: normalised exact match."""

Category = Literal["arithmetic", "commonsense", "symbolic", "other"]


class HubSource(SpecModel):
    path: str = Field(description="a `datasets` hub id (or a local folder laid out like one)")
    config: str | None = Field(None, description="the dataset's configuration, where it has several")
    split: str = Field(description="the split to read, e.g. test")


class GeneratedSource(SpecModel):
    generator: Literal["last_letters"] = Field(description="a generator shipped with promptkit")
    count: Count = Field(description="how many questions")
    words: Count = Field(description="words per question")
    seed: Seed = Field(0, description="the generator's seed")


class Subsample(SpecModel):
    """A seeded draw of the records, as Zhao et al. draw their 300 test examples: NumPy's
    RandomState(seed).choice(len(records), min(size, len(records)), replace=False), in the order drawn."""

    size: Count = Field(description="how many records (all of them, shuffled, when there are fewer)")
    seed: int = Field(0, ge=0, le=2**32 - 1, description="the draw's seed (NumPy's RandomState takes 32 bits)")

    def indices(self, count: int) -> list[int]:
        import numpy as np

        return [int(i) for i in np.random.RandomState(self.seed).choice(count, min(self.size, count), replace=False)]


class DataSource(SpecModel):
    """Where records come from; `--data` replaces it with a file of the same format."""

    file: str | None = Field(None, description="JSONL, JSON or CSV, relative to the task file")
    records: str | None = Field(
        None, description="JSON only: the key holding the list of records (e.g. examples); absent: the file is a list"
    )
    hub: HubSource | None = Field(None, description="a hub copy, read through `datasets` when no file is given")
    generate: GeneratedSource | None = Field(None, description="or a generated set")
    expects: str | None = Field(
        None, description="what --data should be, for the message when the task has no source of its own"
    )
    size: Count | None = Field(None, description="examples in the standard set (what `promptkit tasks` shows)")
    in_folder: str | None = Field(
        None,
        pattern=r"^[A-Za-z0-9_.-]+$",
        description="the file's name inside the folder --data names (a dataset kept in its own layout, e.g. Zhao "
        "et al.'s data/sst2): the task's data and training files are both found there",
    )
    format: Literal["lines"] | None = Field(
        None, description="lines: one record {line} per line of text, whatever the suffix; absent: by the suffix"
    )
    subsample: Subsample | None = Field(
        None, description="the standard set is a seeded draw of the records (--whole-set: all of them)"
    )
    without_data_subsample: bool = Field(
        False,
        description="training data only: leave out the records the data's subsample draws (when both are one file)",
    )
    keep: str | None = Field(
        None,
        description="a Jinja expression over a record's fields (and `record`): the records for which it is false "
        "are left out and counted in the summary, e.g. \"record['Solution-Type'] != 'Comparison'\"",
    )
    on_bad_answer: Literal["error", "skip"] = Field(
        "error",
        description="a record whose gold answer does not fit answer.type: stop, naming its file and line (error), "
        "or leave it out and say so (skip: how many, and the first few, on screen, in summary.json and the viewer)",
    )


class FolderDownload(SpecModel):
    """The data folder's copy on the web: each file fetched once into promptkit's folder and checked against its
    SHA-256, so that a task kept in its own layout (data.in_folder) runs without --data."""

    url: str = Field(
        pattern=r"^https?://[^\s?#]+/$", description="the folder's address, ending in '/': a file's is url + its name"
    )
    files: dict[str, str] = Field(description="each file's name in the folder -> its SHA-256 (64 hex digits)")

    @field_validator("files")
    @classmethod
    def _named_and_hashed(cls, files: dict[str, str]) -> dict[str, str]:
        if not files:
            raise ValueError("files: at least one")
        for name, digest in files.items():
            if not re.fullmatch(r"[A-Za-z0-9_.-]+", name) or name in (".", ".."):
                raise ValueError(f"files: {name!r} is not a plain file name")
            if not re.fullmatch(r"[0-9a-f]{64}", digest):
                raise ValueError(f"files: {name}: {digest!r} is not a SHA-256 in hex")
        return files


class Choices(SpecModel):
    """Options held as data, given letters: the question template sees them as `choices`."""

    field: str = Field(
        description="the record field (dotted for nested) holding the options: a mapping option -> score "
        "(BIG-bench target_scores), or a list of {label, text}"
    )
    labels: list[str] | None = Field(
        None, description="letters given to the options in order (A, B, ...); absent: the record's own labels"
    )
    shuffle: bool = Field(
        False,
        description="shuffle the options, seeded by the record itself (its JSON, keys sorted), so an example's "
        "order is the same in every run and whatever --limit, and the right answer is not always first",
    )


class ExampleMap(SpecModel):
    """How a record becomes an example. Templates are Jinja over the record's fields."""

    question: str = Field(description="template of the question as asked")
    answer: str = Field(description="the gold answer: a field name, or a template")
    id: str | None = Field(None, description="a field name or a template; the record's position by default")
    inputs: dict[str, str] = Field(
        default_factory=dict, description="more inputs for templates: name -> Jinja expression over the record"
    )
    rationale: str | None = Field(
        None, description="template of a worked solution, when this data serves as demonstrations (may read `gold`)"
    )
    choices: Choices | None = Field(None, description="options as data, for multiple-choice records")
    strings: list[str] | None = Field(
        None,
        description="record fields that must be non-empty strings; default: question, where the templates read it",
    )


class AnswerFormat(SpecModel):
    type: AnswerKind = Field(description="how answers are extracted and compared")
    labels: list[str] | None = Field(
        None, description="choice: the allowed letters; absent: choices.labels, or every label the records use"
    )
    words: dict[str, list[str]] = Field(
        default_factory=dict,
        description="scoring classes by likelihood: a label's words, whose probabilities are summed (Zhao et al.'s "
        "AGNews: Technology: [Technology, Science]); the label itself by default",
    )

    @field_validator("labels")
    @classmethod
    def _distinct(cls, labels: list[str] | None) -> list[str] | None:
        if labels is not None and (not labels or len(set(labels)) != len(labels) or not all(labels)):
            raise ValueError("labels must be distinct, non-empty, and at least one")
        return labels

    @model_validator(mode="after")
    def _labels_for_choice_only(self):
        if self.labels is not None and self.type != "choice":
            raise ValueError("labels are for type: choice")
        unknown = sorted(set(self.words) - set(self.labels or ()))
        if unknown:
            raise ValueError(f"words: {unknown[0]!r} is not one of the labels")
        check_label_words(self.words)
        return self

    def words_of(self, label: str) -> list[str]:
        """The words scored for a label: its own list, else the label itself."""
        return self.words.get(label) or [label]


def check_label_words(words: Mapping[str, list[str]]) -> None:
    """A label scored by no word would never be predicted: each listed label needs a non-empty word."""
    empty = [label for label, ws in words.items() if not ws or not all(ws)]
    if empty:
        raise ValueError(f"words: {empty[0]!r} needs at least one non-empty word")


class Steps(SpecModel):
    """A least-to-most method's prompts for this task."""

    decompose: str = Field(description="template that splits the question into subquestions")
    solve: str = Field(description="template that answers one subquestion after the earlier ones")
    parser: str = Field(description="how the decomposition's output is read (promptkit.stages DECOMPOSERS)")


class ClassificationFormat(SpecModel):
    """Zhao et al.'s prompt for classification: prompt_prefix, then each demonstration as q_prefix + input,
    a newline, a_prefix + its label and a blank line; then q_prefix + the input, a newline, and a_prefix
    without its final space (templates/classification/zhao.j2)."""

    prompt_prefix: str = Field("", description="before everything (an instruction, ending in a blank line)")
    q_prefix: str = Field(description="before each input (e.g. 'Review: ')")
    a_prefix: str = Field(pattern=r" $", description="before each label (e.g. 'Sentiment: '); ends in a space")


COT_TRIGGER = "Let's think step by step."
"""Kojima et al.'s zero-shot CoT trigger: the default of every task's `cot_trigger`."""


class Prompts(SpecModel):
    answer_prefix: str = Field(
        description="the zero-shot answer prefix after 'A:' (Kojima et al.: 'The answer (arabic numerals) is')"
    )
    answer_trigger: str | None = Field(
        None,
        description="zero-shot CoT's second prompt ends with it; default 'Therefore, ' + the prefix, first letter "
        "lowercased, as Kojima et al.",
    )
    cot_trigger: str = Field(COT_TRIGGER, description="zero-shot CoT's first prompt ends with it (after 'A: ')")
    instruction: str = Field(
        "", description="before the few-shot demonstrations (empty: none, as Wei et al.); ends in its own blank line"
    )
    exemplars: str | None = Field(
        None, description="few-shot exemplars: a JSON file {exemplars: [{question, rationale, answer}]}"
    )
    least_to_most: dict[str, Steps] = Field(
        default_factory=dict, description="method name -> its prompts (least-to-most needs task-specific ones)"
    )
    classification: ClassificationFormat | None = Field(
        None, description="the format `classify` writes (Zhao et al.'s prefixes)"
    )

    @property
    def trigger(self) -> str:
        if self.answer_trigger is not None:
            return self.answer_trigger
        return "Therefore, " + self.answer_prefix[:1].lower() + self.answer_prefix[1:]

    @classmethod
    def default_words(cls) -> dict[str, str]:
        """The words every task has the same unless its file says otherwise: what a template sees without a task."""
        return {name: cls.model_fields[name].default for name in ("cot_trigger", "instruction")}

    def words(self) -> dict[str, str]:
        """What every prompt template of this task may read besides the example (templates/direct.j2, ...)."""
        words = {"answer_prefix": self.answer_prefix, "answer_trigger": self.trigger}
        words |= {"cot_trigger": self.cot_trigger, "instruction": self.instruction}
        return words | (self.classification.model_dump() if self.classification else {})


class TaskDefinition(SpecModel):
    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$", description="the task's name in runs and tables")
    description: str = Field("", description="one line: what the benchmark is, and its paper")
    category: Category | None = Field(None, description="Kojima et al.'s grouping")
    data: DataSource = Field(default_factory=DataSource, description="the examples evaluated")
    train: DataSource | None = Field(None, description="training data: demonstrations drawn from it")
    download: FolderDownload | None = Field(
        None, description="where the folder that data.in_folder names is fetched from when --data is not given"
    )
    example: ExampleMap
    answer: AnswerFormat
    prompts: Prompts
    facts: list[str] = Field(
        default_factory=list,
        description="list inputs whose length, when every example's is the same, the summary records (e.g. words)",
    )
    lm_eval: SkipJsonSchema[LmEvalFacts | None] = Field(
        None,
        exclude=True,
        description="set by promptkit for a task of lm-evaluation-harness (a task file's is refused)",
    )

    @model_validator(mode="after")
    def _choices_need_a_choice_task(self):
        if self.example.choices is not None and self.answer.type != "choice":
            raise ValueError("example.choices needs answer.type: choice")
        return self

    @model_validator(mode="after")
    def _download_holds_the_files(self):
        if self.download is None:
            return self
        for field, source in (("data", self.data), ("train", self.train)):
            if source is not None and source.in_folder and source.in_folder not in self.download.files:
                raise ValueError(f"download.files lacks {source.in_folder} ({field}.in_folder)")
        if not self.data.in_folder:
            raise ValueError("download is for a task whose data lies in a folder (data.in_folder)")
        return self
