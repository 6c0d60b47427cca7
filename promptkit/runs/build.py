"""From a checked spec to objects: task, engine, pipeline and extractor; and running it."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from promptkit.stages.ablations import Ablation
from promptkit.files.atomic import staged
from promptkit.stages.auto_cot_build import AutoCoTSettings
from promptkit.stages.demo_pools import Demo, exemplars_from_file, pool_from_task, shipped_exemplars
from promptkit.engines import make_engine
from promptkit.engines.base import Engine
from promptkit.errors import PromptkitError
from promptkit.runs.evaluate import RunResult, evaluate, write_run
from promptkit.stages.extractors import Extractor, get_extractor
from promptkit.files.jsonl import read_json
from promptkit.stages.pipeline import Pipeline
from promptkit.spec.presets import MODEL_CALLING, expand_method
from promptkit.stages.prompts import ChatPrompt, PromptBuilder, TextPrompt
from promptkit.spec.models import ChatSpec, RunSpec
from promptkit.spec.files import validate
from promptkit.stages import DECOMPOSERS, Decompose, Extract, First, Generate, PackDemos, SelectDemos, SolveInOrder, Vote
from promptkit.stages.auto_cot import AutoCoTDemos
from promptkit.tasks import TASKS, Task, load_task
from promptkit.tasks.gsm8k import load_gsm8k_hub
from promptkit.tasks.last_letters import generated_task
from promptkit.stages.templating import Templates
from promptkit.types import Sampling
from promptkit.runs.view import write_view


@dataclass(frozen=True)
class Built:
    task: Task
    pipeline: Pipeline
    extractor: Extractor
    spec: RunSpec
    """The spec as it runs: a named method expanded into its stages."""


def build_task(spec: RunSpec) -> Task:
    TASKS.get(spec.task.name)
    return load_task(spec.task.name, spec.task.data).limit(spec.task.limit)


def expand(spec: RunSpec) -> RunSpec:
    """The spec with its method written out as the pipeline it runs (what spec.resolved.yaml holds)."""
    data: dict[str, Any] = spec.model_dump(mode="json", exclude_none=True)
    if spec.method is not None:
        stages, extractor = expand_method(spec.method, spec.task.name, spec.extractor)
        data.pop("method")
        data.update(name=spec.label, pipeline=stages, extractor=extractor)
    stages = data["pipeline"]
    split = [i for i, s in enumerate(stages) if s.get("n", 1) > 1]
    if len(split) > 1:
        raise PromptkitError(f"pipeline.{split[1]}: only one stage may draw n > 1 samples (pipeline.{split[0]} does)")
    if split and stages[-1]["kind"] not in ("vote", "first"):
        stages.append({"kind": "first"})  # samples are joined before scoring; the resolved spec shows how
    return validate(data, "the expanded spec")


def build(spec: RunSpec, task: Task | None = None) -> Built:
    """Task, checked pipeline and scoring extractor; nothing runs and no model loads."""
    task = task or build_task(spec)
    spec = expand(spec)
    templates = Templates(tuple(Path(d) for d in spec.template_dirs))
    stage_specs = spec.pipeline or []
    extractors = [s.extractor for s in stage_specs if s.kind == "extract" and s.extractor]
    extractor = get_extractor(spec.extractor or (extractors[-1] if extractors else "default"), task.answer_kind)
    stages = tuple(_stage(s, task, templates, extractor) for s in stage_specs)
    check_flow(stages, stage_specs, task)
    return Built(task, Pipeline(stages), extractor, spec)


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
            raise PromptkitError(
                f"pipeline.{i} ({spec.kind}): {source}reads {missing[0]!r}, which neither the task nor an earlier "
                f"stage writes (there are: {', '.join(sorted(available))})"
            )
        available |= set(stage.writes)
        if spec.kind in MODEL_CALLING:
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
    spec = validate(
        {
            "task": {"name": task.name},
            "engine": {"kind": "replay", "path": "(library call)"},
            "method": {"name": method, **options},
            **({"extractor": extractor} if extractor else {}),
        },
        f"method {method}",
    )
    return build(spec, task)


def demo_pool(pool: str | None, selector: str, task: Task) -> tuple[Demo, ...]:
    """The given pool; else the shipped exemplars for a fixed selector; else the task's training data."""
    if pool:
        data = read_json(pool) if pool.endswith(".json") else None
        if isinstance(data, dict) and "exemplars" in data:
            return exemplars_from_file(pool)
        return pool_from_task(load_task(task.name, pool))
    if selector == "fixed":
        return shipped_exemplars(task.name)
    if task.name == "gsm8k":
        return pool_from_task(load_gsm8k_hub("train"))
    return pool_from_task(generated_task(count=1000, words=4, seed=1))


def question_pool(pool: str | None, task: str) -> Task:
    """Questions for Auto-CoT: a data file of the task, else its training data."""
    if pool:
        return load_task(task, pool)
    return load_gsm8k_hub("train") if task == "gsm8k" else generated_task(count=1000, words=4, seed=1)


def _prompt(template: str | None, chat: ChatSpec | None, templates: Templates) -> PromptBuilder:
    if chat is not None:
        return ChatPrompt(chat.user, chat.assistant, chat.system, templates)
    return TextPrompt(template or "", templates)


def _sampling(s) -> Sampling:
    return Sampling(s.max_tokens, s.temperature, s.top_p, s.n, tuple(s.stop), s.seed)


def _stage(s, task: Task, templates: Templates, extractor: Extractor):
    if s.kind == "select_demos":
        pool = demo_pool(s.pool, s.strategy, task)
        k = s.k if s.k is not None else (len(pool) if s.strategy == "fixed" else 8)
        if k > len(pool):
            raise PromptkitError(f"select_demos: k={k} demonstrations asked for, but the pool holds {len(pool)}")
        ablation = Ablation(s.answers, s.rationales, s.inputs)
        return SelectDemos(pool, k, s.strategy, s.order, s.seed, ablation=ablation, order_seed=s.order_seed)
    if s.kind == "auto_cot":
        settings = AutoCoTSettings(
            s.clusters, s.max_question_words, s.max_steps, s.tries, s.seed, s.embedder, s.max_tokens
        )
        return AutoCoTDemos(question_pool(s.pool, task.name), settings)
    if s.kind == "pack":
        return PackDemos(_prompt(s.template, s.chat, templates), s.max_tokens)
    if s.kind == "generate":
        return Generate(s.name, _prompt(s.template, s.chat, templates), s.output, _sampling(s))
    if s.kind == "extract":
        chosen = get_extractor(s.extractor, task.answer_kind) if s.extractor else extractor
        return Extract(chosen, s.source, s.output)
    if s.kind == "decompose":
        prompt = TextPrompt(s.template, templates)
        return Decompose(prompt, DECOMPOSERS.get(s.parser), _sampling(s), s.sized, s.name)
    if s.kind == "solve":
        return SolveInOrder(TextPrompt(s.template, templates), _sampling(s), s.name, s.pipelined)
    if s.kind == "vote":
        return Vote(s.source)
    if s.kind == "first":
        return First(s.source)
    raise ValueError(f"no stage of kind {s.kind!r}")


def open_engine(spec: RunSpec, cache: Path | None, progress: bool) -> Engine:
    return make_engine(spec.engine, cache, progress=progress)


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
        with staged(out_dir) as stage:  # predictions, summary, spec and page appear together or not at all
            write_run(stage, result.rows, result.summary)
            write_resolved_spec(built.spec, stage / "spec.resolved.yaml")
            write_view([stage], stage / "index.html", names=[out_dir.name])
    return result


def run_options(spec: RunSpec, expanded: RunSpec) -> dict[str, Any]:
    """What the summary records of how the run was set up: the method's fields, else the pipeline's shape."""
    if spec.method is not None:
        return spec.method.model_dump(exclude={"name"})
    stages = expanded.pipeline or []
    options: dict[str, Any] = {"stages": len(stages)}
    for s in stages:
        if s.kind == "select_demos":
            options.update({"shots": s.k} if s.k is not None else {})
            options.update({f"demo_{k}": getattr(s, k) for k in ("answers", "rationales", "inputs")})
        if getattr(s, "n", 1) > 1:
            options["samples"] = s.n
    return options


def resolved_yaml(spec: RunSpec) -> str:
    data: dict[str, Any] = json.loads(spec.model_dump_json(exclude_none=True))
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


def write_resolved_spec(spec: RunSpec, path: Path) -> None:
    path.write_text(resolved_yaml(spec), encoding="utf-8")
