"""What a prompt is tuned on: k examples per class from the task's training pool and a development set of
the same size, each rendered by the classify method's own zero-shot prompt, so that a learned prompt is
trained on exactly the text `classify` scores it on."""

from __future__ import annotations

import hashlib
import random
from collections.abc import Sequence
from dataclasses import dataclass

from promptkit.engines.placeholder import PlaceholderEngine
from promptkit.errors import PromptkitError
from promptkit.runs.build import build_method
from promptkit.stages.library.demo_pools import definition_of
from promptkit.tasks import Task, load_task
from promptkit.tasks.files import load_train
from promptkit.types import Example


@dataclass(frozen=True)
class Split:
    contexts: tuple[str, ...]
    """Each example's prompt, as `classify` (zero-shot) renders it."""
    targets: tuple[int, ...]
    """Each example's gold class, an index into TuningData.classes."""


@dataclass(frozen=True)
class TuningData:
    task: str
    train: Split
    dev: Split
    classes: tuple[tuple[str, tuple[str, ...]], ...]
    """(label, the words whose probabilities sum to the class's), in the task's order."""
    delimiter: str
    """Between a prompt and each label word."""
    digest: str
    """A hash of the drawn examples' prompts and labels: what the artifact says it was trained on."""
    pool_texts: tuple[str, ...] = ()
    """The training pool's input texts, without labels (BDPL mines its vocabulary from them)."""

    @property
    def continuations(self) -> list[tuple[int, str]]:
        """(class index, continuation) for every label word, in order."""
        return [(c, self.delimiter + w) for c, (_, words) in enumerate(self.classes) for w in words]


def draw_per_class(
    examples: Sequence[Example], labels: Sequence[str], k: int, seed: int
) -> tuple[list[Example], list[Example]]:
    """k training and k development examples of each class, drawn without overlap (seeded, in pool order)."""
    rng = random.Random(seed)
    train: list[Example] = []
    dev: list[Example] = []
    for label in labels:
        members = [e for e in examples if e.target == label]
        if len(members) < 2 * k:
            raise PromptkitError(
                f"class {label!r} has {len(members)} examples in the training pool; {k} per class for training "
                f"and {k} for development need {2 * k}"
            )
        drawn = rng.sample(members, 2 * k)
        train += drawn[:k]
        dev += drawn[k:]
    return train, dev


def tuning_data(task: Task, k: int, seed: int, pool: str | None = None) -> TuningData:
    """The examples a prompt is tuned on, from `pool` (a data file of the task) or the task's training data."""
    if k < 1:
        raise PromptkitError(f"k: {k} examples per class; at least 1")
    definition = definition_of(task)
    source = load_task(definition, pool) if pool else load_train(definition, task.folder)
    labels = task.labels
    if not labels:
        raise PromptkitError(f"task {task.name!r} is not a classification task (it lists no labels)")
    train, dev = draw_per_class(source.examples, labels, k, seed)
    built = build_method(source.with_examples(tuple(train + dev)), "classify", shots=0)
    score = built.pipeline.stages[-1]
    contexts = []
    for state in built.pipeline.run(train + dev, PlaceholderEngine()):
        if state.failed:
            raise PromptkitError(f"example {state.example.id}: {state.error}")
        contexts.append(next(str(r.prompt) for r in state.trace if r.stage == score.name))
    index = {label: i for i, label in enumerate(labels)}
    targets = [index[str(e.target)] for e in train + dev]
    digest = hashlib.sha256(repr((contexts, targets)).encode()).hexdigest()[:16]
    return TuningData(
        task=task.name,
        train=Split(tuple(contexts[: len(train)]), tuple(targets[: len(train)])),
        dev=Split(tuple(contexts[len(train) :]), tuple(targets[len(train) :])),
        classes=tuple(score.classes),  # type: ignore[attr-defined]
        delimiter=score.delimiter,  # type: ignore[attr-defined]
        digest=digest,
        pool_texts=tuple(" ".join(v for v in e.inputs.values() if isinstance(v, str)) for e in source.examples),
    )
