"""From a checked spec to objects: task, engine, pipeline and extractor; and running it."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from .demos import Demo, exemplars_from_file, pool_from_task, shipped_exemplars
from .engines import make_engine
from .engines.base import Engine
from .evaluate import RunResult, evaluate
from .extract import Extractor, get_extractor
from .jsonl import read_json
from .methods import DEFAULT_EXTRACTOR, METHODS, MethodConfig, build_method
from .pipeline import Pipeline
from .prompts import ChatPrompt, PromptBuilder, TextPrompt
from .spec import ChatSpec, RunSpec
from .stages import Decompose, Extract, Generate, PackDemos, SelectDemos, SolveInOrder, Vote
from .stages.least_to_most import PARSERS
from .tasks import TASKS, Task, load_task
from .tasks.gsm8k import load_gsm8k_hub
from .tasks.last_letters import generated_task
from .templating import Templates
from .types import Sampling
from .view import write_view


@dataclass(frozen=True)
class Built:
    task: Task
    pipeline: Pipeline
    extractor: Extractor


def build_task(spec: RunSpec) -> Task:
    TASKS.get(spec.task.name)
    return load_task(spec.task.name, spec.task.data).limit(spec.task.limit)


def build(spec: RunSpec, task: Task | None = None) -> Built:
    task = task or build_task(spec)
    templates = Templates(tuple(Path(d) for d in spec.template_dirs))
    if spec.method is not None:
        METHODS.get(spec.method.name)
        extractor = get_extractor(spec.extractor or DEFAULT_EXTRACTOR[spec.method.name], task.answer_kind)
        m = spec.method
        config = MethodConfig(
            task=task.name,
            extractor=extractor,
            templates=templates,
            template_overrides=m.templates,
            max_tokens=m.max_tokens,
            temperature=m.temperature,
            seed=m.seed,
            pool=demo_pool(m.pool, m.selector, task),
            shots=m.shots,
            selector=m.selector,
            order=m.order,
            selection_seed=m.selection_seed,
            chat=m.chat,
            samples=m.samples,
        )
        return Built(task, build_method(m.name, config), extractor)
    extractor = get_extractor(spec.extractor or "default", task.answer_kind)
    stages = tuple(_stage(s, task, templates, extractor) for s in spec.pipeline or ())
    return Built(task, Pipeline(stages), extractor)


def demo_pool(pool: str | None, selector: str, task: Task) -> tuple[Demo, ...] | None:
    """The given pool; else the shipped exemplars for a fixed selector; else the task's training data."""
    if pool:
        data = read_json(pool) if pool.endswith(".json") else None
        if isinstance(data, dict) and "exemplars" in data:
            return exemplars_from_file(pool)
        return pool_from_task(load_task(task.name, pool))
    if selector == "fixed":
        return None
    if task.name == "gsm8k":
        return pool_from_task(load_gsm8k_hub("train"))
    return pool_from_task(generated_task(count=1000, words=4, seed=1))


def _prompt(template: str | None, chat: ChatSpec | None, templates: Templates) -> PromptBuilder:
    if chat is not None:
        return ChatPrompt(chat.user, chat.assistant, chat.system, templates)
    return TextPrompt(template or "", templates)


def _sampling(s) -> Sampling:
    return Sampling(s.max_tokens, s.temperature, s.top_p, s.n, tuple(s.stop), s.seed)


def _stage(s, task: Task, templates: Templates, extractor: Extractor):
    if s.kind == "select_demos":
        pool = demo_pool(s.pool, s.strategy, task) or shipped_exemplars(task.name)
        return SelectDemos(pool, s.k, s.strategy, s.order, s.seed)
    if s.kind == "pack":
        return PackDemos(_prompt(s.template, s.chat, templates), s.max_tokens)
    if s.kind == "generate":
        return Generate(s.name, _prompt(s.template, s.chat, templates), s.output, _sampling(s))
    if s.kind == "extract":
        chosen = get_extractor(s.extractor, task.answer_kind) if s.extractor else extractor
        return Extract(chosen, s.source, s.output)
    if s.kind == "decompose":
        parser, fallback = PARSERS.get(s.parser)
        return Decompose(TextPrompt(s.template, templates), parser, fallback, _sampling(s))
    if s.kind == "solve":
        return SolveInOrder(TextPrompt(s.template, templates), _sampling(s))
    if s.kind == "vote":
        return Vote(s.source)
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
        out_dir=out_dir,
        options=spec.method.model_dump(exclude={"name"}) if spec.method else {"stages": len(spec.pipeline or [])},
        progress=progress,
    )
    if out_dir is not None:
        write_resolved_spec(spec, out_dir / "spec.resolved.yaml")
        write_view([out_dir], out_dir / "index.html")
    return result


def write_resolved_spec(spec: RunSpec, path: Path) -> None:
    data: dict[str, Any] = json.loads(spec.model_dump_json(exclude_none=True))
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
