"""From a checked spec to objects: task, engine, pipeline and extractor; and running it."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from promptkit.engines.base import Engine
from promptkit.engines.placeholder import PlaceholderEngine
from promptkit.errors import PromptkitError
from promptkit.runs.evaluate import RunResult, evaluate
from promptkit.runs.folders import write_run_folder
from promptkit.runspec.files import validate
from promptkit.runspec.load import resolved
from promptkit.runspec.methods import used_options
from promptkit.runspec.models import PipelineSpec, RunSpec
from promptkit.stages.framework.declaration import BuildContext
from promptkit.stages.framework.pipeline import Pipeline
from promptkit.stages.framework.templating import Templates
from promptkit.stages.library.demo_pools import definition_of
from promptkit.stages.library.extractors import Extractor
from promptkit.stages.library.task_extractors import task_extractor
from promptkit.stages.stage_kinds import STAGE_KINDS
from promptkit.tasks import Task, TaskDefinition, load_task


@dataclass(frozen=True)
class Built:
    task: Task
    pipeline: Pipeline
    extractor: Extractor
    spec: PipelineSpec
    """The spec as it runs: a named method expanded into its stages."""


def build_task(spec: PipelineSpec) -> Task:
    return load_task(spec.task.name, spec.task.data, whole_set=spec.task.whole_set, limit=spec.task.limit)


def build(spec: PipelineSpec, task: Task | None = None) -> Built:
    """Task, checked pipeline and scoring extractor; nothing runs and no model loads."""
    task = task or build_task(spec)
    definition = definition_of(task)
    spec = resolved(spec, definition)  # a checked spec's own expansion: it is never expanded twice
    templates = Templates(tuple(Path(d) for d in spec.template_dirs), words=task_words(spec, definition))
    stage_specs = spec.pipeline or []
    named = (STAGE_KINDS.get(s.kind).extractor for s in stage_specs)
    extractors = [name for s, of in zip(stage_specs, named) if of is not None and (name := of(s))]
    name = spec.extractor or (extractors[-1] if extractors else "default")
    extractor = task_extractor(name, task)
    context = BuildContext(task, templates, name, reasoner=zero_shot_reasoner)
    stages = tuple(STAGE_KINDS.get(s.kind).build(s, context) for s in stage_specs)
    check_flow(stages, stage_specs, task)
    return Built(task, Pipeline(stages), extractor, spec)


def task_words(spec: PipelineSpec, definition: TaskDefinition) -> dict[str, str]:
    """The words every template of the task sees, with those the spec replaces; an unknown one is an error."""
    words = definition.prompts.words()
    unknown = sorted(set(spec.words) - set(words))
    if unknown:
        raise PromptkitError(
            f"words.{unknown[0]}: task {definition.name!r} has no such word (its words: {', '.join(sorted(words))})"
        )
    return words | spec.words


def check_flow(stages: Sequence[Any], specs: Sequence[Any], task: Task) -> None:
    """Each stage reads what the task or an earlier stage gives; the pipeline calls a model and predicts."""
    available = set(task.examples[0].inputs) if task.examples else {"question"}
    names: dict[str, int] = {}
    for i, (stage, spec) in enumerate(zip(stages, specs)):
        missing = [field for field in stage.reads if field not in available]
        if missing:
            prompt = getattr(stage, "prompt", None)
            template = getattr(prompt, "template", None) or getattr(prompt, "user_template", None)
            source = f"template {template!r} " if template else ""
            if missing[0] in task.absent:
                raise PromptkitError(
                    f"pipeline.{i} ({spec.kind}): {source}reads {missing[0]!r}: {task.absent[missing[0]]}"
                )
            raise PromptkitError(
                f"pipeline.{i} ({spec.kind}): {source}reads {missing[0]!r}, which neither the task nor an earlier "
                f"stage writes (there are: {', '.join(sorted(available))})"
            )
        available |= set(stage.writes)
        if STAGE_KINDS.get(spec.kind).calls_model:
            if stage.name in names:
                raise PromptkitError(
                    f"pipeline.{i}: stage name {stage.name!r} is taken by pipeline.{names[stage.name]}"
                )
            names[stage.name] = i
    if not names:
        raise PromptkitError("the pipeline calls no model: add a generate (or decompose and solve) stage")
    if "prediction" not in available:
        raise PromptkitError("no stage writes 'prediction', so nothing can be scored: add an extract stage")


def build_method(task: Task, method: str, *, extractor: str | None = None, **options: Any) -> Built:
    """A named method over a task, for library use: options are MethodSpec fields."""
    data = {"task": {"name": task.name}, "method": {"name": method, **options}}
    spec = validate({**data, **({"extractor": extractor} if extractor else {})}, f"method {method}", PipelineSpec)
    return build(spec, task)


def zero_shot_reasoner(questions: Task, max_tokens: int) -> Pipeline:
    """Zero-shot CoT over `questions` with a reasoning budget: what Auto-CoT asks for its demonstrations."""
    return build_method(questions, "zero_shot_cot", max_tokens={"reason": max_tokens}).pipeline


def check_prompts(built: Built) -> None:
    """Render the first example through every stage, calling no model: template mistakes surface now."""
    for state in built.pipeline.run(built.task.examples[:1], PlaceholderEngine()):
        if state.failed:
            raise PromptkitError(f"example {state.example.id}: {state.error}")


def prepare(spec: PipelineSpec) -> Built:
    """Build a spec and render its first example: bad names, files and templates fail here, before any model."""
    built = build(spec)
    check_prompts(built)
    return built


def run_spec(
    spec: RunSpec, engine: Engine, out_dir: Path | None, *, progress: bool = True, built: Built | None = None
) -> RunResult:
    """Run, score, and write predictions, summary and the resolved spec (which alone reproduces the run)."""
    built = built or build(spec)
    result = evaluate(
        built.task,
        built.pipeline,
        engine,
        built.extractor,
        method=spec.label,
        options=run_options(spec, built.spec),
        progress=progress,
    )
    if out_dir is not None:
        write_run_folder(out_dir, result.rows, result.summary, resolved_yaml(built.spec))
    return result


def run_options(spec: PipelineSpec, expanded: PipelineSpec) -> dict[str, Any]:
    """What the summary records of how the run was set up: the method's fields, else the pipeline's shape."""
    if spec.method is not None:
        return used_options(spec.method)
    stages = expanded.pipeline or []
    options: dict[str, Any] = {"stages": len(stages)}
    for s in stages:
        declared = STAGE_KINDS.get(s.kind).options
        options.update(declared(s) if declared is not None else {})
        if getattr(s, "n", 1) > 1:
            options["samples"] = s.n
    return options


# The resolved spec reads top-down: what, on which engine, how.
_TOP_ORDER = ("task", "engine", "name", "words", "method", "pipeline", "extractor", "template_dirs")


def resolved_yaml(spec: PipelineSpec) -> str:
    dumped: dict[str, Any] = json.loads(spec.model_dump_json(exclude_none=True))
    data = {k: dumped[k] for k in _TOP_ORDER if k in dumped and (k != "words" or dumped[k])}  # no words: as before
    first = ("kind", "name")  # each stage reads from what it is
    data["pipeline"] = [
        {**{k: s[k] for k in first if k in s}, **{k: v for k, v in s.items() if k not in first}}
        for s in data.get("pipeline") or []
    ]
    return yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True)


class _Dumper(yaml.SafeDumper):
    """Strings with line breaks in double quotes, so a stop string reads as "\n\n"."""


_Dumper.add_representer(
    str, lambda d, s: d.represent_scalar("tag:yaml.org,2002:str", s, style='"' if "\n" in s else None)
)
