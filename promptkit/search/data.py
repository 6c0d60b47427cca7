"""What a search sees: development examples and a demonstration pool, both from the task's training data.
The evaluated (test) records are never read: a search cannot score them, whatever it does."""

from __future__ import annotations

import random
from dataclasses import dataclass, replace

from promptkit.errors import PromptkitError
from promptkit.stages.library.demo_pools import definition_of
from promptkit.tasks import Task, load_task
from promptkit.tasks.files import load_train


@dataclass(frozen=True)
class SearchData:
    dev: Task
    """Development examples: every candidate is scored on (a prefix of) these, in this drawn order."""
    pool: Task
    """The rest of the training records, in their own order: the demonstrations are drawn from these."""
    pool_file: str | None
    """Where the training records came from when not the task's own training data (the spec's `pool`)."""


def search_data(task: Task, dev: int, seed: int, pool_file: str | None = None) -> SearchData:
    """`dev` records drawn (seeded) from the training pool for development; the others stay the pool."""
    definition = definition_of(task)
    source = load_task(definition, pool_file) if pool_file else load_train(definition, task.folder)
    records = list(source.examples)
    if len(records) <= dev:
        raise PromptkitError(
            f"the training pool holds {len(records)} records: {dev} for development leave none to draw "
            "demonstrations from (lower --dev, or give a larger --pool)"
        )
    drawn = set(random.Random(f"{seed}:dev").sample(range(len(records)), dev))
    order = random.Random(f"{seed}:dev-order").sample(sorted(drawn), dev)
    # The development examples run as the task does: its folder, its definition; only the records differ.
    dev_task = replace(
        task, examples=tuple(records[i] for i in order), source=source.source, whole=None, load_whole=None
    )
    pool = source.with_examples(tuple(r for i, r in enumerate(records) if i not in drawn))
    return SearchData(dev_task, pool, pool_file)
