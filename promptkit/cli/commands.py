"""The commands: each parses its flags into specs, calls the library (promptkit.runs) and prints a line."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from promptkit.cli.specs import cache_path, engine_data, file_spec, flags_spec, out_dir, spec_from_data, stamped
from promptkit.cli.task_list import cmd_tasks
from promptkit.engines import make_engine
from promptkit.engines.cpu_precision import slower_note
from promptkit.errors import PromptkitError
from promptkit.files.atomic import check_root_dir, write_text_atomic
from promptkit.files.paths import check_output_file
from promptkit.runs import demo, experiments
from promptkit.runs.recording import write_recording
from promptkit.runs.records import RunSummary
from promptkit.runs.render import render, render_stages
from promptkit.runs.report import write_report
from promptkit.runs.spread import spread_line
from promptkit.runs.view import write_view
from promptkit.runspec.files import read_spec_file, validate
from promptkit.runspec.methods import METHODS
from promptkit.runspec.models import RunSpec
from promptkit.stages.library.auto_cot_build import AutoCoTSettings
from promptkit.tasks import TaskDefinition, generate_last_letters, read_definition
from promptkit.tasks.base import left_out_line
from promptkit.tasks.generators import shipped_names as shipped_first_names
from promptkit.tasks.lm_eval import PREFIX, is_lm_eval_name, lm_eval_task_names


def _execute(args: argparse.Namespace, spec: RunSpec) -> int:
    cache = lambda s: cache_path(args, s)  # noqa: E731
    if args.seeds is not None or args.orders is not None:
        root = out_dir(args, spec)
        stats = experiments.repeats(spec, root, seeds=args.seeds, orders=args.orders, cache=cache,
                                    progress=not args.quiet)  # fmt: skip
        print(f"{spec.task.name} {spec.label}: {spread_line(stats)} -> {root}")
        return 0
    out = out_dir(args, spec)
    result = experiments.run(spec, out, cache=cache, progress=not args.quiet)
    print(_one_line(result.summary, out))
    return 0


def _one_line(s: RunSummary, out: Path) -> str:
    low, high = s.ci95
    return (
        f"{s.task} {s.method} [{s.engine} {s.model}] {s.measure} {s.accuracy:.1%} "
        f"({s.correct}/{s.n}, 95% CI {low:.1%}-{high:.1%}); engine calls {s.engine_calls} "
        f"(model {s.model_calls}), cache hits {s.cache_hits}, tokens {s.prompt_tokens} prompt, "
        f"{s.completion_tokens} completion ({s.generated_tokens} generated); "
        f"{s.wall_seconds:.1f}s -> {out}"
        + (f"; {s.failed} examples failed (see 'error' in predictions.jsonl)" if s.failed else "")
        + (f"; {left_out_line(s.left_out)}" if s.left_out else "")
    )


def cmd_eval(args: argparse.Namespace) -> int:
    METHODS.get(args.method)
    tasks = lm_eval_task_names(args.task) if is_lm_eval_name(args.task) else [args.task]
    if len(tasks) == 1:
        read_definition(tasks[0])
        return _execute(args, flags_spec(args, tasks[0], args.method, engine_data(args)))
    # A group or tag of lm-eval: a run each, in one folder; every spec is checked before the first runs.
    specs = [flags_spec(args, task, args.method, engine_data(args)) for task in tasks]
    root = out_dir(args, specs[0]) if args.out else stamped(args, f"{args.task}-{args.method}")
    for task, spec in zip(tasks, specs):
        _execute(argparse.Namespace(**{**vars(args), "out": str(root / task.removeprefix(PREFIX))}), spec)
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    return _execute(args, file_spec(args, args.spec))


def cmd_render(args: argparse.Namespace) -> int:
    if args.spec:
        spec = file_spec(args, args.spec, with_engine=False)
    elif args.task and args.method:
        spec = flags_spec(args, args.task, args.method, None)  # render calls no model: no engine
    else:
        raise PromptkitError("render needs a spec file, or --task and --method")
    if args.stages:
        print(render_stages(spec), end="")
        return 0
    for one in render(spec, args.example or ()):
        if args.json:
            print(json.dumps({"id": one.example, "stage": one.stage, "prompt": one.prompt}, ensure_ascii=False))
        else:
            print(f"===== example {one.example} · stage {one.stage} =====")
            print(one.prompt if isinstance(one.prompt, str) else json.dumps(one.prompt, indent=1, ensure_ascii=False))
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    if args.shots < 1:
        raise PromptkitError(f"--shots must be >= 1, got {args.shots}")
    if not args.data and not args.whole_set:
        # The shipped sample, taken whole: it holds the first reviews of the standard set, in order.
        args.data, args.whole_set = str(demo.shipped_data(args.limit)), True
    zero, few = (spec_from_data(args, demo.demo_data(shots), "promptkit demo") for shots in (0, args.shots))
    root = stamped(args, "demo")
    result = demo.demo(zero, few, root, seeds=args.seeds, cache=lambda s: cache_path(args, s), progress=not args.quiet)
    print(result.table)
    print(demo.meanings(result.rows))
    print(f"{result.seconds:.0f} s; runs in {root}; open {result.page} to read every prediction side by side")
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    if args.specs:
        specs = [file_spec(args, path) for path in args.specs]  # each keeps its engine unless --engine is given
    elif args.task and args.methods is not None:
        args.engine = args.engine or "hf"
        engine = engine_data(args)
        methods = [m.strip() for m in args.methods.split(",") if m.strip()]
        if not methods:
            raise PromptkitError(f"--methods names no method (known: {', '.join(METHODS.names())})")
        specs = [flags_spec(args, args.task, m, engine) for m in methods]
    else:
        raise PromptkitError("compare needs --specs FILE..., or --task and --methods a,b,c")
    root = stamped(args, "compare")
    summaries = experiments.compare(specs, root, cache=lambda s: cache_path(args, s), progress=not args.quiet)
    print(experiments.comparison_table(summaries))
    print(f"runs in {root}" + (" (side by side: view.html)" if (root / "view.html").exists() else ""))
    return 0


def cmd_sweep(args: argparse.Namespace) -> int:
    def make_spec(data: dict, label: str) -> RunSpec:
        return spec_from_data(args, data, f"{args.spec} [{label}]", spec_file=args.spec)

    root = stamped(args, "sweep")
    result = experiments.sweep(read_spec_file(args.spec), args.set, root, make_spec=make_spec, seeds=args.seeds,
                               orders=args.orders, cache=lambda s: cache_path(args, s), progress=not args.quiet)  # fmt: skip
    print(result.table)
    print(f"runs in {root}; plots: promptkit report {root}")
    return 0


def cmd_auto_cot(args: argparse.Namespace) -> int:
    read_definition(args.task)
    for flag in ("clusters", "max_steps", "max_question_words", "tries", "max_tokens"):
        value = getattr(args, flag)
        if value is not None and value < 1:
            raise PromptkitError(f"--{flag.replace('_', '-')} must be >= 1, got {value}")
    if args.embedder not in ("tfidf", "embedding"):
        raise PromptkitError(f"--embedder must be tfidf or embedding, got {args.embedder!r}")
    spec = validate(
        {"task": {"name": args.task}, "engine": engine_data(args), "method": {"name": "zero_shot_cot"}}, "command line"
    )
    settings = AutoCoTSettings(args.clusters, args.max_question_words, args.max_steps, args.tries, args.seed,
                               args.embedder, args.max_tokens)  # fmt: skip
    result = experiments.auto_cot_exemplars(spec, Path(args.out), pool=args.pool, settings=settings,
                                            cache=lambda s: cache_path(args, s), progress=not args.quiet)  # fmt: skip
    chosen = sum(c["chosen"] is not None for c in result.clusters)
    print(f"auto-cot: {chosen} of {len(result.clusters)} clusters gave a demonstration -> {args.out}")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    check_root_dir(Path(args.out))
    print(f"report: {write_report([Path(r) for r in args.runs], Path(args.out))}")
    return 0


def cmd_record(args: argparse.Namespace) -> int:
    check_output_file("--out", args.out)
    prompts = write_recording(Path(args.runs[0]), Path(args.out))
    print(f"record: {prompts} prompts -> {args.out}; rescore with --engine replay --replay {args.out}")
    return 0


SEARCH_ONLY = ("searched", "teacher", "proposer", "seeds", "limit")
"""tune's flags that only a prompt search takes (besides SearchSettings' own fields)."""


def _given(args: argparse.Namespace, names: Iterable[str], shared: Iterable[str]) -> list[str]:
    return [f"--{n.replace('_', '-')}" for n in names if n not in shared and getattr(args, n, None) is not None]


def cmd_tune(args: argparse.Namespace) -> int:
    from promptkit.search import SEARCH_METHODS, SearchSettings
    from promptkit.tuning import TuneSettings

    tune_fields = [f.name for f in dataclasses.fields(TuneSettings)]
    search_fields = [f.name for f in dataclasses.fields(SearchSettings)]
    searching = args.method in SEARCH_METHODS
    others = _given(
        args, tune_fields if searching else [*search_fields, *SEARCH_ONLY], set(tune_fields) & set(search_fields)
    )
    if others:
        kind = "a learned prompt's" if searching else "a prompt search's"
        raise PromptkitError(f"{others[0]}: {kind} flag; {args.method} does not take it")
    check_output_file("--out", args.out)
    return _search(args, search_fields) if searching else _tune(args, tune_fields)


def _tune(args: argparse.Namespace, names: list[str]) -> int:
    from promptkit.engines import CachedEngine, default_cache_path
    from promptkit.tasks import load_task
    from promptkit.tuning import TuneSettings, tune

    settings = TuneSettings(**{n: getattr(args, n) for n in names if getattr(args, n, None) is not None})
    task = load_task(args.task, args.data)
    spec = _engine_spec(engine_data(args), "engine")
    note = slower_note(str(getattr(spec, "dtype", "")), str(getattr(spec, "device", None) or "auto"))
    if note and not args.quiet:
        print(note, file=sys.stderr)
    # Only BDPL draws the same prompt twice; the other methods' candidates are new each time.
    cache = None if args.no_cache or settings.method != "bdpl" else Path(args.cache or default_cache_path())
    with make_engine(spec, progress=not args.quiet) as plain:
        engine = CachedEngine(plain, cache) if cache else plain
        result = tune(task, engine, settings, args.out, pool=args.pool, init_from=args.init_from,
                      progress=not args.quiet)  # fmt: skip
    info = result.info
    work = f"{info['calls']} engine calls" if "calls" in info else f"{info['steps']} steps"
    if info.get("tokens") is not None:
        work += f", {info['tokens']:,} prompt tokens"
    resumed = f", resumed at {result.resumed_at}" if result.resumed_at else ""
    stopped = f" (stopped: {settings.patience} checks without a better one)" if info.get("stopped_early") else ""
    print(
        f"tune {settings.method} on {task.name} [{result.model}]: best development accuracy "
        f"{info['best_dev_acc']:.1%} at {info['best_step']}; {work}{stopped}{resumed}, {info['minutes']} min "
        f"-> {result.path}"
    )
    return 0


def _engine_spec(data: dict[str, Any], source: str) -> Any:
    from promptkit.engines.engine_kinds import ENGINE_KINDS
    from promptkit.schema import check_model

    kind = data.get("kind")
    if kind not in ENGINE_KINDS:
        raise PromptkitError(f"{source}: kind: {kind!r} is not an engine (known: {', '.join(ENGINE_KINDS.names())})")
    return check_model(ENGINE_KINDS.get(str(kind)).spec, data, source)


def _engine_file(path: str | None, flag: str) -> Any:
    """--teacher, --proposer: an engine spec file, checked before any engine starts."""
    if path is None:
        return None
    from promptkit.files.yaml_file import read_yaml_mapping

    return _engine_spec(read_yaml_mapping(path, f"{flag} engine spec"), f"{flag} {path}")


def _search(args: argparse.Namespace, names: list[str]) -> int:
    from contextlib import ExitStack

    from promptkit.engines import CachedEngine, default_cache_path
    from promptkit.search import SearchSettings
    from promptkit.search.run import search, search_seeds
    from promptkit.tasks import load_task

    values = {n: getattr(args, n) for n in names if getattr(args, n, None) is not None}
    settings = SearchSettings(**{**values, "base": args.searched})
    if args.seeds is not None and args.seeds < 2:
        raise PromptkitError(f"--seeds must be >= 2, got {args.seeds} (one search: leave it out)")
    if args.limit is not None and not args.seeds:
        raise PromptkitError("--limit: the test examples the --seeds runs score; a search alone scores none")
    if args.teacher and settings.method != "bootstrap":
        raise PromptkitError("--teacher: bootstrap's; give it with --method bootstrap")
    if args.proposer and settings.method != "instruction_search":
        raise PromptkitError("--proposer: instruction_search's; give it with --method instruction_search")
    task = load_task(args.task, args.data, limit=args.limit)
    data = engine_data(args)
    spec = _engine_spec(data, "engine")
    teacher, proposer = _engine_file(args.teacher, "--teacher"), _engine_file(args.proposer, "--proposer")
    cache = None if args.no_cache else Path(args.cache or default_cache_path())
    with ExitStack() as stack:

        def opened(engine_spec: Any) -> Any:
            plain = stack.enter_context(make_engine(engine_spec, progress=not args.quiet))
            return CachedEngine(plain, cache) if cache else plain

        engine = opened(spec)
        options = {
            "task_spec": {"name": args.task, **({"data": args.data} if args.data else {})}
            | ({"limit": args.limit} if args.limit else {}),
            "engine_spec": data,
            "pool": args.pool,
            "teacher": opened(teacher) if teacher else None,
            "proposer": opened(proposer) if proposer else None,
            "progress": not args.quiet,
        }
        if args.seeds:
            many = search_seeds(task, engine, settings, args.out, args.seeds, **options)
            print(f"tune {settings.method} on {task.name}, {args.seeds} searches: test {spread_line(many.stats)}")
            print(f"specs: {', '.join(str(s.spec) for s in many.searches)}; test runs in {many.folder}")
            return 0
        result = search(task, engine, settings, args.out, **options)
    h = result.header
    measure = "development accuracy" if h["criterion"] == "dev" else h["criterion"]
    value = f"{h['score']:.1%} on {h['dev_examples']} examples" if h["criterion"] == "dev" else f"{h['score']:.3f}"
    resumed = f", {result.replayed} resumed from the log" if result.replayed else ""
    print(
        f"tune {settings.method} on {task.name} [{h['searched']}]: best {measure} {value} ({h['origin']}); "
        f"{h['candidates']} candidates, {h['calls']} engine calls of {h['budget']} ({h['cache_hits']} cache hits), "
        f"{h['prompt_tokens']} + {h['completion_tokens']} tokens{resumed}, {h['minutes']} min -> {result.spec} "
        f"(log: {result.log.name}); evaluate it: promptkit run {result.spec}"
    )
    return 0


def cmd_view(args: argparse.Namespace) -> int:
    folders = [Path(r) for r in args.runs]
    out = Path(args.out) if args.out else (folders[0] / "index.html" if len(folders) == 1 else Path("view.html"))
    check_output_file("--out", out)
    print(f"view: {write_view(folders, out)}")
    return 0


def cmd_schema(args: argparse.Namespace) -> int:
    model = RunSummary if args.summary else TaskDefinition if args.task else RunSpec
    print(json.dumps(model.model_json_schema(), indent=2))
    return 0


MAX_GENERATED = 1_000_000


def cmd_make_last_letters(args: argparse.Namespace) -> int:
    names = len(shipped_first_names())
    if not 1 <= args.words <= names:
        raise PromptkitError(f"--words must be in 1..{names} (the shipped names list), got {args.words}")
    if not 1 <= args.count <= MAX_GENERATED:
        raise PromptkitError(f"--count must be in 1..{MAX_GENERATED}, got {args.count}")
    if not 0 <= args.seed < 2**64:
        raise PromptkitError(f"--seed must be in 0..2^64-1, got {args.seed}")
    check_output_file("--out", args.out)
    data = generate_last_letters(args.count, args.words, args.seed)
    write_text_atomic(Path(args.out), json.dumps(data, indent=1) + "\n")
    print(f"wrote {args.count} questions of {args.words} words to {args.out}")
    return 0


COMMANDS = {
    "demo": cmd_demo,
    "eval": cmd_eval,
    "run": cmd_run,
    "render": cmd_render,
    "compare": cmd_compare,
    "sweep": cmd_sweep,
    "auto-cot": cmd_auto_cot,
    "report": cmd_report,
    "schema": cmd_schema,
    "tasks": cmd_tasks,
    "view": cmd_view,
    "record": cmd_record,
    "tune": cmd_tune,
    "make-last-letters": cmd_make_last_letters,
}
