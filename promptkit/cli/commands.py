"""The `promptkit` command line."""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

from promptkit.cli.paths import check_command_paths
from promptkit.engines import default_cache_path
from promptkit.engines.model_files import BUILTIN_MODEL, state_dir
from promptkit.engines.placeholder import PlaceholderEngine
from promptkit.errors import PromptkitError
from promptkit.files.atomic import check_out_dir, check_root_dir, write_text_atomic
from promptkit.files.paths import check_output_file
from promptkit.registry import unknown_name_message
from promptkit.runs.build import build, build_task, expand, open_engine, resolved_yaml, run_spec, zero_shot_reasoner
from promptkit.runs.experiments import (
    order_line,
    order_stats,
    point_data,
    point_label,
    point_value,
    sweep_grid,
    swept_fields,
    with_order_seed,
    write_sweep,
)
from promptkit.runs.report import write_report
from promptkit.runs.view import write_view
from promptkit.spec.files import read_spec_file, set_dotted, validate
from promptkit.spec.models import RunSpec
from promptkit.spec.presets import PRESETS, stage_names
from promptkit.spec.read_policy import ReadPolicy, check_spec
from promptkit.stages.auto_cot_build import AutoCoTSettings, auto_cot, write_exemplars
from promptkit.stages.demo_pools import question_pool
from promptkit.tasks import TASKS, generate_last_letters
from promptkit.tasks.last_letters import shipped_names

ENGINE_KINDS = ("hf", "vllm", "replay", "openai")


# --- arguments -------------------------------------------------------------------------------------


def _engine_args(p: argparse.ArgumentParser, defaults: bool) -> None:
    g = p.add_argument_group("engine")
    g.add_argument("--engine", default="hf" if defaults else None, help="hf, vllm, replay or openai")
    g.add_argument(
        "--model",
        help=f"local folder, GGUF file (hf) or hub id; default: {BUILTIN_MODEL}, embedded (openai: the served name)",
    )
    g.add_argument("--replay", help="JSONL recording, for --engine replay")
    g.add_argument("--dtype", help="hf, vllm: auto, float32, float16 or bfloat16")
    g.add_argument("--device", help="hf: auto, cpu, cuda, cuda:1, ...")
    g.add_argument(
        "--max-batch-tokens", type=int, help="hf: rows x padded length per batch (default: a 4 GiB KV cache)"
    )
    g.add_argument("--tensor-parallel-size", type=int, help="vllm: GPUs per model")
    g.add_argument("--base-url", help="openai: the server's root, e.g. http://127.0.0.1:8000/v1")
    g.add_argument("--concurrency", type=int, help="openai: requests in flight at once")
    g.add_argument("--max-retries", type=int, help="openai: retries (with backoff) on rate limits, timeouts, 5xx")
    g.add_argument("--api-key-env", help="openai: the environment variable holding the API key")


def _run_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", help="local data file (GSM8K JSONL, last-letter JSON) or dataset folder")
    p.add_argument("--limit", type=int, help="first N examples only")
    c = p.add_mutually_exclusive_group()
    c.add_argument("--cache", help=f"generation cache file (default: {_display_path(default_cache_path())})")
    c.add_argument("--no-cache", action="store_true", help="do not read or write the generation cache")
    p.add_argument("--out", help="output folder (default: runs/TASK-METHOD-TIME)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    _allow_path_arg(p)


def _allow_path_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--allow-path", action="append", default=[], metavar="PATH",
        help="a file or folder a spec may read besides its own folder (repeatable)",
    )  # fmt: skip


def _orders_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--orders", type=int, help="order sensitivity: K runs, the same demonstrations in K seeded orders (K >= 2)"
    )


def _method_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--extractor", help="default, answer_is, kojima, strict-match, flexible-extract (default: the method's)"
    )
    p.add_argument(
        "--samples",
        type=int,
        help="samples per question, joined by a majority vote (default: 5 for self_consistency, else 1)",
    )
    p.add_argument("--temperature", type=float, help="sampling temperature (default: 0.7 with --samples > 1, else 0)")
    p.add_argument("--seed", type=int, help="sampling seed")
    p.add_argument(
        "--template", action="append", default=[], metavar="[STAGE=]FILE", help="swap a stage's template for a file"
    )
    d = p.add_argument_group("demonstrations (few_shot, few_shot_cot, self_consistency)")
    d.add_argument("--shots", type=int, help="demonstrations per prompt (default: all exemplars, or 8 from a pool)")
    d.add_argument("--selector", help="fixed, random, similar, mmr or embedding (default: fixed)")
    d.add_argument("--order", help="given, random or similar_last (default: given)")
    d.add_argument("--selection-seed", type=int, help="seed of per-example draws (default: 0)")
    d.add_argument("--demo-answers", help="ablation: gold, random (another demonstration's) or none (default: gold)")
    d.add_argument("--demo-rationales", help="ablation: gold, shuffled or none (default: gold)")
    d.add_argument("--demo-inputs", help="ablation: gold or random (another pool question) (default: gold)")
    d.add_argument("--pool", help="demonstration pool: an exemplars JSON file or a data file of the task")
    d.add_argument(
        "--chat", action="store_true", default=None, help="demonstrations as chat turns through the chat template"
    )


def _display_path(path: Path) -> str:
    home = str(Path.home())
    return "~" + str(path)[len(home) :] if str(path).startswith(home) else str(path)


class _Parser(argparse.ArgumentParser):
    """A bad flag is one line and exit 2, like every other mistake (argparse prints the usage too)."""

    def error(self, message: str) -> NoReturn:
        print(f"promptkit: error: {self.prog.removeprefix('promptkit ')}: {message} (see --help)", file=sys.stderr)
        raise SystemExit(2)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="promptkit",
        description="Prompting and reasoning pipelines over LLMs.",
        epilog="--debug anywhere on the line prints the traceback of an unexpected error.",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    ev = sub.add_parser("eval", help="run a method over a task and score it")
    ev.add_argument("--task", required=True, help=f"one of: {', '.join(TASKS.names())}")
    ev.add_argument("--method", required=True, help=f"one of: {', '.join(PRESETS.names())}")
    _method_args(ev)
    _run_args(ev)
    _orders_arg(ev)
    _engine_args(ev, defaults=True)

    run = sub.add_parser("run", help="run a YAML spec")
    run.add_argument("spec", help="YAML spec file")
    run.add_argument("--set", action="append", default=[], metavar="dotted.key=value", help="override a spec field")
    _run_args(run)
    _orders_arg(run)
    _engine_args(run, defaults=False)

    sw = sub.add_parser("sweep", help="one run per point of a grid of spec values, with a table (and report plots)")
    sw.add_argument("spec", help="YAML spec file")
    sw.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="dotted.key=v1,v2,...",
        help="a field and its values (repeatable: a grid)",
    )
    _run_args(sw)
    _engine_args(sw, defaults=False)

    render = sub.add_parser("render", help="print the exact prompts for chosen examples, calling no model")
    render.add_argument("spec", nargs="?", help="YAML spec file (or use --task and --method)")
    render.add_argument("--task")
    render.add_argument("--method")
    render.add_argument("--set", action="append", default=[], metavar="dotted.key=value")
    render.add_argument("--data")
    render.add_argument("--limit", type=int, help="the first N examples (default: 1, unless --example)")
    render.add_argument("--example", action="append", default=[], help="example id to show (repeatable)")
    render.add_argument("--json", action="store_true", help="one JSON line per prompt: id, stage, prompt")
    render.add_argument("--stages", action="store_true", help="print the resolved spec (the method's stages) instead")
    _allow_path_arg(render)
    _method_args(render)

    cmp = sub.add_parser("compare", help="several methods or specs on the same task and model, in one table")
    cmp.add_argument("--specs", nargs="+", help="YAML spec files")
    cmp.add_argument("--task", help="with --methods")
    cmp.add_argument("--methods", help="comma-separated method names")
    cmp.add_argument(
        "--set", action="append", default=[], metavar="dotted.key=value", help="override a field of every spec"
    )
    _method_args(cmp)
    _run_args(cmp)
    _engine_args(cmp, defaults=False)

    ac = sub.add_parser(
        "auto-cot", help="Auto-CoT: the model writes demonstrations for a pool; saved as an exemplars file"
    )
    ac.add_argument("--task", required=True, help=f"one of: {', '.join(TASKS.names())}")
    ac.add_argument("--pool", help="questions to cluster: a data file of the task (default: its training data)")
    ac.add_argument("--clusters", type=int, help="demonstrations, one per cluster (default: 8; 4 for last letters)")
    ac.add_argument("--max-steps", type=int, help="most reasoning lines kept (default: 5; 7 for last letters)")
    ac.add_argument("--max-question-words", type=int, default=60, help="longest question kept (default: 60)")
    ac.add_argument("--tries", type=int, default=5, help="questions tried per cluster, nearest first (default: 5)")
    ac.add_argument("--seed", type=int, default=0, help="k-means seed (default: 0)")
    ac.add_argument("--embedder", default="tfidf", help="tfidf or embedding (default: tfidf)")
    ac.add_argument("--max-tokens", type=int, default=256, help="zero-shot-CoT reasoning budget (default: 256)")
    ac.add_argument("--out", required=True, help="exemplars JSON file to write (use it with --pool FILE)")
    c = ac.add_mutually_exclusive_group()
    c.add_argument("--cache", help="generation cache file")
    c.add_argument("--no-cache", action="store_true", help="do not read or write the generation cache")
    ac.add_argument("--quiet", action="store_true", help="no progress bars")
    _engine_args(ac, defaults=True)

    rep = sub.add_parser("report", help="Markdown report and PNG plots from run folders")
    rep.add_argument("runs", nargs="+", help="run folders (or folders holding run folders)")
    rep.add_argument("--out", default="report", help="output folder (default: report)")

    view = sub.add_parser("view", help="one self-contained HTML page to read runs (several: side by side)")
    view.add_argument("runs", nargs="+", help="run folders (several: runs of one task, compared per example)")
    view.add_argument("--out", help="HTML file to write (default: RUN/index.html for one run, else view.html)")

    sub.add_parser("schema", help="print the JSON schema of run specs")

    ll = sub.add_parser("make-last-letters", help="generate a last-letter concatenation set")
    ll.add_argument("--words", type=int, default=4)
    ll.add_argument("--count", type=int, default=500)
    ll.add_argument("--seed", type=int, default=0)
    ll.add_argument("--out", required=True, help="JSON file to write")
    return parser


# --- from arguments to specs -----------------------------------------------------------------------


def engine_data(args: argparse.Namespace, base: dict[str, Any] | None = None) -> dict[str, Any]:
    """The engine part of a spec from flags, on top of a spec's own engine section."""
    data = dict(base or {})
    kind = args.engine or data.get("kind")
    if kind not in ENGINE_KINDS:
        raise PromptkitError(unknown_name_message("engine", str(kind), list(ENGINE_KINDS)))
    if data.get("kind") != kind:  # another kind: only the model carries over
        data = {"kind": kind, **({"model": data["model"]} if data.get("model") else {})}
    flags = {
        "model": args.model,
        "path": args.replay if kind == "replay" else None,
        "dtype": args.dtype if kind in ("hf", "vllm") else None,
        "device": args.device if kind == "hf" else None,
        "max_batch_tokens": args.max_batch_tokens if kind == "hf" else None,
        "tensor_parallel_size": args.tensor_parallel_size if kind == "vllm" else None,
        "base_url": args.base_url if kind == "openai" else None,
        "concurrency": args.concurrency if kind == "openai" else None,
        "max_retries": args.max_retries if kind == "openai" else None,
        "api_key_env": args.api_key_env if kind == "openai" else None,
    }
    data.update({k: v for k, v in flags.items() if v is not None})
    if kind == "replay" and not data.get("path"):
        raise PromptkitError("the replay engine needs --replay FILE (a JSONL recording)")
    if kind == "openai" and not data.get("model"):
        raise PromptkitError("the openai engine needs --model (the name the server knows the model by)")
    return data


def method_data(args: argparse.Namespace, method: str, task: str) -> dict[str, Any]:
    """The method part of a spec: each flag is shorthand for the MethodSpec field, whose default applies."""
    PRESETS.get(method)
    data: dict[str, Any] = {"name": method}
    keys = ("shots", "selector", "order", "selection_seed", "pool", "chat", "samples", "temperature", "seed",
            "demo_answers", "demo_rationales", "demo_inputs")  # fmt: skip
    for key in keys:
        data[key] = getattr(args, key)
    data["templates"] = template_overrides(args.template, method, task)
    return {k: v for k, v in data.items() if v is not None}


def template_overrides(values: Sequence[str], method: str, task: str) -> dict[str, str]:
    out = {}
    for value in values:
        stage, sep, path = value.rpartition("=")
        if not sep:
            names = stage_names(method, task)
            if len(names) != 1:
                raise PromptkitError(
                    f"--template: {method} has several prompt stages ({', '.join(names)}); write STAGE=FILE"
                )
            stage, path = names[0], value
        if not Path(path).is_file():
            raise PromptkitError(f"--template: file not found: {path}")
        out[stage] = path
    return out


def flags_spec(args: argparse.Namespace, task: str, method: str, engine: dict[str, Any]) -> RunSpec:
    if args.limit is not None and args.limit < 1:
        raise PromptkitError(f"--limit must be >= 1, got {args.limit}")
    TASKS.get(task)
    data = {
        "task": {"name": task, "data": args.data, "limit": args.limit},
        "engine": engine,
        "method": method_data(args, method, task),
        "extractor": args.extractor,
    }
    spec = validate(data, "command line")
    expand(spec)  # stage names and sample settings are checked before any data loads
    return spec


def file_spec(args: argparse.Namespace, path: str, with_engine: bool = True) -> RunSpec:
    data = read_spec_file(path)
    for assignment in args.set:
        set_dotted(data, assignment)
    return spec_from_data(args, data, path, with_engine)


def spec_from_data(
    args: argparse.Namespace, data: dict[str, Any], path: str, with_engine: bool = True, spec_file: str | None = None
) -> RunSpec:
    """A spec file's data with the command line's overrides, checked, its reads inside what it may read."""
    task = data.setdefault("task", {})
    if isinstance(task, dict):
        if args.data:
            task["data"] = args.data
        if args.limit is not None:
            task["limit"] = args.limit
    if with_engine and isinstance(data.get("engine"), dict):
        data["engine"] = engine_data(args, data["engine"])
    spec = validate(data, path)
    policy = ReadPolicy.for_spec(spec_file or path, command_line_paths(args))
    check_spec(expand(spec), policy, getattr(args, "api_key_env", None))
    return spec


def command_line_paths(args: argparse.Namespace) -> list[str]:
    """Paths the user named on the command line: a spec may read these besides its own folder."""
    given = [getattr(args, name, None) for name in ("data", "replay", "pool")]
    given += [value.rpartition("=")[2] for value in getattr(args, "template", [])]
    given += list(getattr(args, "allow_path", []) or [])
    for assignment in getattr(args, "set", []):  # a path set with --set is the user's own
        value = assignment.partition("=")[2].strip()
        given += [v.strip() for v in value.split(",") if v.strip() and Path(v.strip()).exists()]
    return [g for g in given if g]


def cache_path(args: argparse.Namespace, spec: RunSpec) -> Path | None:
    if args.no_cache:
        return None
    if args.cache:
        return Path(args.cache)
    # A recording costs nothing to read again, so replays are not cached unless asked.
    return None if spec.engine.kind == "replay" else default_cache_path()


def out_dir(args: argparse.Namespace, spec: RunSpec) -> Path:
    return (
        Path(args.out) if args.out else Path("runs") / f"{spec.task.name}-{spec.label}-{time.strftime('%Y%m%d-%H%M%S')}"
    )


# --- commands --------------------------------------------------------------------------------------


def _execute(args: argparse.Namespace, spec: RunSpec) -> int:
    if args.orders is not None:
        return _execute_orders(args, spec)
    built = build(spec)  # bad names and files fail here, before a model is loaded
    check_prompts(built)
    out = out_dir(args, spec)
    check_out_dir(out)
    engine = open_engine(spec, cache_path(args, spec), progress=not args.quiet)
    try:
        result = run_spec(spec, engine, out, progress=not args.quiet, built=built)
    finally:
        close_engine(engine)
    print(_one_line(result.summary, out))
    return 0


def _execute_orders(args: argparse.Namespace, spec: RunSpec) -> int:
    if args.orders < 2:
        raise PromptkitError(f"--orders must be >= 2, got {args.orders}")
    specs = [with_order_seed(spec, k) for k in range(args.orders)]
    builts = [build(s) for s in specs]
    if not any(s.kind == "select_demos" for s in builts[0].spec.pipeline or []):
        raise PromptkitError(f"--orders needs demonstrations to order; {spec.label} selects none")
    check_prompts(builts[0])
    out = out_dir(args, spec)
    check_root_dir(out)
    runs = []
    engine = open_engine(spec, cache_path(args, spec), progress=not args.quiet)
    try:
        for k, (s, built) in enumerate(zip(specs, builts)):
            folder = out / f"order-{k}"
            run_spec(s, engine, folder, progress=not args.quiet, built=built)
            rows = [
                json.loads(line) for line in (folder / "predictions.jsonl").read_text(encoding="utf-8").splitlines()
            ]
            runs.append((folder.name, rows))
    finally:
        close_engine(engine)
    stats = order_stats(runs)
    write_text_atomic(out / "orders.json", json.dumps(stats, indent=1) + "\n")
    print(f"{spec.task.name} {spec.label}: {order_line(stats)} -> {out}")
    return 0


def close_engine(engine) -> None:
    """Stop what the engine started (vLLM's processes) and close the cache, on any way out."""
    close = getattr(engine, "close", None)
    if close is not None:
        close()


def check_prompts(built) -> None:
    """Render the first example through every stage, calling no model: template mistakes surface now."""
    for state in built.pipeline.run(built.task.examples[:1], PlaceholderEngine()):
        if state.failed:
            raise PromptkitError(f"example {state.example.id}: {state.error}")


def _one_line(s: dict[str, Any], out: Path) -> str:
    low, high = s["ci95"]
    return (
        f"{s['task']} {s['method']} [{s['engine']} {s['model']}] accuracy {s['accuracy']:.1%} "
        f"({s['correct']}/{s['n']}, 95% CI {low:.1%}-{high:.1%}); engine calls {s['engine_calls']} "
        f"(model {s['model_calls']}), cache hits {s['cache_hits']}, generated tokens {s['generated_tokens']}; "
        f"{s['wall_seconds']:.1f}s -> {out}"
        + (f"; {s['failed']} examples failed (see 'error' in predictions.jsonl)" if s.get("failed") else "")
    )


def cmd_eval(args: argparse.Namespace) -> int:
    TASKS.get(args.task)
    PRESETS.get(args.method)
    return _execute(args, flags_spec(args, args.task, args.method, engine_data(args)))


def cmd_run(args: argparse.Namespace) -> int:
    return _execute(args, file_spec(args, args.spec))


def cmd_render(args: argparse.Namespace) -> int:
    if args.spec:
        spec = file_spec(args, args.spec, with_engine=False)
    elif args.task and args.method:
        no_engine = {"kind": "replay", "path": "(render calls no model)"}
        spec = flags_spec(args, args.task, args.method, no_engine)
    else:
        raise PromptkitError("render needs a spec file, or --task and --method")
    task = build_task(spec)
    if args.example:
        known = {e.id for e in task.examples}
        missing = [i for i in args.example if i not in known]
        if missing:
            raise PromptkitError(f"no example with id {', '.join(missing)} in {task.source}")
        task = type(task)(
            task.name, tuple(e for e in task.examples if e.id in args.example), task.answer_kind, task.source, task.meta
        )
    elif spec.task.limit is None:
        task = task.limit(1)
    built = build(spec, task)
    if args.stages:
        print(resolved_yaml(built.spec), end="")
        return 0
    states = built.pipeline.run(task.examples, PlaceholderEngine())
    for state in states:
        if state.failed:
            raise PromptkitError(f"example {state.example.id}: {state.error}")
        for record in state.trace:
            if args.json:
                print(
                    json.dumps(
                        {"id": state.example.id, "stage": record.stage, "prompt": record.prompt}, ensure_ascii=False
                    )
                )
            else:
                print(f"===== example {state.example.id} · stage {record.stage} =====")
                print(
                    record.prompt
                    if isinstance(record.prompt, str)
                    else json.dumps(record.prompt, indent=1, ensure_ascii=False)
                )
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    if args.specs:
        specs = [file_spec(args, path) for path in args.specs]  # each keeps its engine unless --engine is given
    elif args.task and args.methods is not None:
        args.engine = args.engine or "hf"
        engine = engine_data(args)
        methods = [m.strip() for m in args.methods.split(",") if m.strip()]
        if not methods:
            raise PromptkitError(f"--methods names no method (known: {', '.join(PRESETS.names())})")
        specs = [flags_spec(args, args.task, m, engine) for m in methods]
    else:
        raise PromptkitError("compare needs --specs FILE..., or --task and --methods a,b,c")
    builts = [build(spec) for spec in specs]
    for built in builts:
        check_prompts(built)
    root = Path(args.out) if args.out else Path("runs") / f"compare-{time.strftime('%Y%m%d-%H%M%S')}"
    check_root_dir(root)
    engines: dict[str, Any] = {}  # one engine per distinct engine spec: the model loads once
    summaries = []
    try:
        for i, (spec, built) in enumerate(zip(specs, builts)):
            key = spec.engine.model_dump_json()
            if key not in engines:
                engines[key] = open_engine(spec, cache_path(args, spec), progress=not args.quiet)
            out = root / f"{i:02d}-{spec.label}"
            summaries.append(run_spec(spec, engines[key], out, progress=not args.quiet, built=built).summary)
    finally:
        for engine in engines.values():
            close_engine(engine)
    table = comparison_table(summaries)
    (root / "compare.md").write_text(table + "\n", encoding="utf-8")
    if len({s["task"] for s in summaries}) == 1:  # runs of one task: side by side, per example
        write_view([root / f"{i:02d}-{spec.label}" for i, spec in enumerate(specs)], root / "view.html")
    print(table)
    print(f"runs in {root}" + (" (side by side: view.html)" if (root / "view.html").exists() else ""))
    return 0


def cmd_sweep(args: argparse.Namespace) -> int:
    base = read_spec_file(args.spec)
    grid = sweep_grid(args.set)
    fields = swept_fields(grid)
    if not fields:
        raise PromptkitError("sweep needs at least one --set field with two or more values (e.g. method.shots=0,2,4)")
    specs = [
        spec_from_data(args, point_data(base, point), f"{args.spec} [{point_label(point)}]", spec_file=args.spec)
        for point in grid
    ]
    builts = [build(spec) for spec in specs]  # every point is checked before any model loads
    check_prompts(builts[0])
    root = Path(args.out) if args.out else Path("runs") / f"sweep-{time.strftime('%Y%m%d-%H%M%S')}"
    check_root_dir(root)
    engines: dict[str, Any] = {}
    rows = []
    try:
        for point, spec, built in zip(grid, specs, builts):
            key = spec.engine.model_dump_json()
            if key not in engines:
                engines[key] = open_engine(spec, cache_path(args, spec), progress=not args.quiet)
            label = point_label([a for a in point if a.split("=", 1)[0] in fields])
            summary = run_spec(spec, engines[key], root / label, progress=not args.quiet, built=built).summary
            rows.append({"values": {f: point_value(point, f) for f in fields}, "run": label, "summary": summary})
    finally:
        for engine in engines.values():
            close_engine(engine)
    print(write_sweep(root, fields, rows))
    print(f"runs in {root}; plots: promptkit report {root}")
    return 0


def cmd_auto_cot(args: argparse.Namespace) -> int:
    TASKS.get(args.task)
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
    check_output_file("--out", args.out)
    pool = question_pool(args.pool, args.task)
    engine = open_engine(spec, cache_path(args, spec), progress=not args.quiet)
    try:
        result = auto_cot(pool, engine, zero_shot_reasoner, settings)
    finally:
        close_engine(engine)
    write_exemplars(result, f"{pool.source} with {engine.identity.model}", Path(args.out))
    chosen = sum(c["chosen"] is not None for c in result.clusters)
    print(f"auto-cot: {chosen} of {len(result.clusters)} clusters gave a demonstration -> {args.out}")
    return 0


def comparison_table(summaries: Sequence[dict[str, Any]]) -> str:
    lines = [
        "| task | method | accuracy | 95% CI | n | prompt tokens | completion tokens | engine calls | seconds |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for s in summaries:
        low, high = s["ci95"]
        lines.append(
            f"| {s['task']} | {s['method']} | {s['accuracy']:.1%} | {low:.1%}-{high:.1%} | {s['n']} | "
            f"{s['prompt_tokens']} | {s['completion_tokens']} | {s['engine_calls']} | {s['wall_seconds']:.1f} |"
        )
    return "\n".join(lines)


def cmd_report(args: argparse.Namespace) -> int:
    check_root_dir(Path(args.out))
    path = write_report([Path(r) for r in args.runs], Path(args.out))
    print(f"report: {path}")
    return 0


def cmd_view(args: argparse.Namespace) -> int:
    folders = [Path(r) for r in args.runs]
    default = folders[0] / "index.html" if len(folders) == 1 else Path("view.html")
    out = Path(args.out) if args.out else default
    check_output_file("--out", out)
    out = write_view(folders, out)
    print(f"view: {out}")
    return 0


def cmd_schema(args: argparse.Namespace) -> int:
    print(json.dumps(RunSpec.model_json_schema(), indent=2))
    return 0


MAX_GENERATED = 1_000_000


def cmd_make_last_letters(args: argparse.Namespace) -> int:
    names = len(shipped_names())
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
    "eval": cmd_eval,
    "run": cmd_run,
    "render": cmd_render,
    "compare": cmd_compare,
    "sweep": cmd_sweep,
    "auto-cot": cmd_auto_cot,
    "report": cmd_report,
    "schema": cmd_schema,
    "view": cmd_view,
    "make-last-letters": cmd_make_last_letters,
}


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    args = build_parser().parse_args([a for a in argv if a != "--debug"])
    try:
        check_command_paths(args)  # every file and folder named, before any work
        return COMMANDS[args.command](args)
    except PromptkitError as exc:
        print(f"promptkit: error: {exc}", file=sys.stderr)
        return 2
    except Terminated:
        print("promptkit: terminated; finished generations are in the cache", file=sys.stderr)
        return 128 + signal.SIGTERM
    except KeyboardInterrupt:
        print("promptkit: interrupted; finished generations are in the cache", file=sys.stderr)
        return 130
    except Exception as exc:  # a bug, not the user's mistake: one line, and the traceback kept for a report
        if debug:
            raise
        saved = save_traceback()
        print(f"promptkit: internal error: {type(exc).__name__}: {exc} (traceback: {saved}; --debug prints it)",
              file=sys.stderr)  # fmt: skip
        return 1


def save_traceback() -> str:
    import tempfile
    import traceback

    try:
        folder = state_dir() / "crashes"
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        folder = Path(tempfile.gettempdir())
    path = folder / f"crash-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}.txt"
    path.write_text(traceback.format_exc(), encoding="utf-8")
    return str(path)


class Terminated(KeyboardInterrupt):
    """SIGTERM, turned into an exception so that cleanup runs as it does for Ctrl-C."""


def _terminate(signum, frame) -> None:
    raise Terminated()


def entry() -> None:
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    # Python's default for SIGTERM ends the process at once, skipping every cleanup (vLLM's processes).
    signal.signal(signal.SIGTERM, _terminate)
    sys.exit(main())
