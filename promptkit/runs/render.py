"""Rendering without a model: every stage's prompt for chosen examples, and the stages a spec runs."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from promptkit.engines.placeholder import PlaceholderEngine
from promptkit.errors import PromptkitError
from promptkit.runs.build import build, build_task, resolved_yaml
from promptkit.runspec.models import PipelineSpec
from promptkit.tasks import Task
from promptkit.types import Prompt


@dataclass(frozen=True)
class RenderedPrompt:
    example: str
    """The example's id."""
    stage: str
    prompt: Prompt


def _chosen(spec: PipelineSpec, examples: Sequence[str]) -> Task:
    """The examples asked for by id; else the spec's limit, or the first example."""
    task = build_task(spec)
    if examples:
        known = {e.id for e in task.examples}
        missing = [i for i in examples if i not in known]
        if missing:
            raise PromptkitError(f"no example with id {', '.join(missing)} in {task.source}")
        return task.with_examples(tuple(e for e in task.examples if e.id in examples))
    return task if spec.task.limit is not None else task.limit(1)


def render(spec: PipelineSpec, examples: Sequence[str] = ()) -> list[RenderedPrompt]:
    """Each prompt every stage would send for the chosen examples, in order, calling no model (the first
    example by default). A template that fails on an example is a one-line error naming it."""
    task = _chosen(spec, examples)
    built = build(spec, task)
    rendered = []
    for state in built.pipeline.run(task.examples, PlaceholderEngine()):
        if state.failed:
            raise PromptkitError(f"example {state.example.id}: {state.error}")
        rendered += [RenderedPrompt(state.example.id, record.stage, record.prompt) for record in state.trace]
    return rendered


def render_stages(spec: PipelineSpec) -> str:
    """The spec as it runs, its method written out as stages (what spec.resolved.yaml holds)."""
    return resolved_yaml(build(spec, _chosen(spec, ())).spec)
