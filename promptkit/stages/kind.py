"""What a stage kind declares, and what a stage's factory is given.

A stage kind is one module under `promptkit.stages` that exposes `KINDS`: for each kind its spec
model (the `pipeline:` entry, with `kind: Literal[...]`), its factory, whether it calls the model,
and which of its fields name files. The spec union, the builder, the flow check and the path policy
are all derived from these (`promptkit.stages.kinds`); the stage object itself says what it reads
and writes (`Stage.reads`, `Stage.writes`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, get_args

from pydantic import BaseModel

if TYPE_CHECKING:  # stage modules import this one: it imports none of them
    from promptkit.stages.base import Stage
    from promptkit.stages.extractors import Extractor
    from promptkit.stages.pipeline import Pipeline
    from promptkit.stages.templating import Templates
    from promptkit.tasks.base import Task


@dataclass(frozen=True)
class BuildContext:
    """What a stage's factory may use besides its own spec."""

    task: Task
    templates: Templates
    extractor: Extractor
    """The run's scoring extractor."""
    reasoner: Callable[[Task, int], Pipeline]
    """reasoner(questions, max_tokens): a zero-shot-CoT pipeline, for stages whose demonstrations the model writes."""


@dataclass(frozen=True)
class StageKind:
    spec: type[BaseModel]
    build: Callable[[Any, BuildContext], Stage]
    calls_model: bool = False
    """Whether it sends requests to the engine (such a stage has a name, unique in its pipeline)."""
    files: tuple[str, ...] = ()
    """Dotted fields naming data files (relative to a spec's folder; what a spec may read)."""
    templates: tuple[str, ...] = ()
    """Dotted fields naming templates: a shipped or template_dirs name, or a file."""

    @property
    def name(self) -> str:
        return get_args(self.spec.model_fields["kind"].annotation)[0]
