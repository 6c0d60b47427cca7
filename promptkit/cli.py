"""The `promptkit` command line."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from .demos import Demo, exemplars_from_file, pool_from_task
from .engines import EngineSettings, default_cache_path, make_engine
from .errors import PromptkitError
from .evaluate import evaluate
from .extract import get_extractor
from .jsonl import read_json
from .methods import DEFAULT_EXTRACTOR, METHODS, MethodConfig, build_method
from .stages.demos import ORDERS, STRATEGIES
from .tasks import TASKS, Task, generate_last_letters, load_task
from .tasks.gsm8k import load_gsm8k_hub
from .tasks.last_letters import generated_task


def _engine_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("engine")
    g.add_argument("--engine", default="hf", help="hf, vllm or replay (default: hf)")
    g.add_argument("--model", help="local path or hub id")
    g.add_argument("--replay", help="JSONL recording, for --engine replay")
    g.add_argument("--dtype", default="auto", help="auto, float32, float16 or bfloat16")
    g.add_argument("--device", default=None, help="hf engine: auto, cpu, cuda, cuda:1, ...")
    g.add_argument("--max-batch-tokens", type=int, default=None, help="hf engine: rows x padded length per batch")
    g.add_argument("--tensor-parallel-size", type=int, default=None, help="vllm engine: GPUs per model")
    c = p.add_mutually_exclusive_group()
    c.add_argument("--cache", help=f"generation cache file (default: {_display_path(default_cache_path())})")
    c.add_argument("--no-cache", action="store_true", help="do not read or write the generation cache")


def _display_path(path: Path) -> str:
    home = str(Path.home())
    return "~" + str(path)[len(home) :] if str(path).startswith(home) else str(path)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="promptkit", description="Prompting and reasoning pipelines over LLMs.")
    sub = parser.add_subparsers(dest="command", required=True)

    ev = sub.add_parser("eval", help="run a method over a task and score it")
    ev.add_argument("--task", required=True, help=f"one of: {', '.join(TASKS.names())}")
    ev.add_argument("--method", required=True, help=f"one of: {', '.join(METHODS.names())}")
    ev.add_argument("--data", help="local data file (GSM8K JSONL, last-letter JSON) or dataset folder")
    ev.add_argument("--limit", type=int, help="first N examples only")
    ev.add_argument(
        "--extractor", help="default, answer_is, kojima, strict-match, flexible-extract (default: the method's)"
    )
    ev.add_argument("--temperature", type=float, default=0.0)
    ev.add_argument("--seed", type=int, default=None, help="sampling seed")
    d = ev.add_argument_group("demonstrations (few_shot, few_shot_cot, self_consistency)")
    d.add_argument("--shots", type=int, help="demonstrations per prompt (default: all exemplars, or 8 from a pool)")
    d.add_argument("--selector", default="fixed", help=f"one of: {', '.join(STRATEGIES)} (default: fixed)")
    d.add_argument("--order", default="given", help=f"one of: {', '.join(ORDERS)} (default: given)")
    d.add_argument("--selection-seed", type=int, default=0, help="seed of per-example draws (default: 0)")
    d.add_argument("--pool", help="demonstration pool: an exemplars JSON file or a data file of the task")
    d.add_argument("--chat", action="store_true", help="demonstrations as chat turns through the chat template")
    d.add_argument("--samples", type=int, default=5, help="self_consistency: samples per question (default: 5)")
    ev.add_argument("--out", help="output folder (default: runs/TASK-METHOD-TIME)")
    ev.add_argument("--quiet", action="store_true", help="no progress bars")
    _engine_args(ev)

    ll = sub.add_parser("make-last-letters", help="generate a last-letter concatenation set")
    ll.add_argument("--words", type=int, default=4)
    ll.add_argument("--count", type=int, default=500)
    ll.add_argument("--seed", type=int, default=0)
    ll.add_argument("--out", required=True, help="JSON file to write")
    return parser


def engine_settings(args: argparse.Namespace) -> EngineSettings:
    options: dict = {}
    if args.engine in ("hf", "vllm"):
        options["dtype"] = args.dtype
    if args.engine == "hf":
        options["progress"] = not getattr(args, "quiet", False)
        if args.device:
            options["device"] = args.device
        if args.max_batch_tokens:
            options["max_batch_tokens"] = args.max_batch_tokens
    if args.engine == "vllm" and args.tensor_parallel_size:
        options["tensor_parallel_size"] = args.tensor_parallel_size
    return EngineSettings(args.engine, args.model, args.replay, options)


def cache_path(args: argparse.Namespace) -> Path | None:
    if args.no_cache:
        return None
    if args.cache:
        return Path(args.cache)
    # A recording costs nothing to read again, so replays are not cached unless asked.
    return None if args.engine == "replay" else default_cache_path()


def cmd_eval(args: argparse.Namespace) -> int:
    if args.limit is not None and args.limit < 1:
        raise PromptkitError(f"--limit must be >= 1, got {args.limit}")
    METHODS.get(args.method)  # fail on a bad name before loading anything heavy
    if args.samples < 1:
        raise PromptkitError(f"--samples must be >= 1, got {args.samples}")
    task = load_task(args.task, args.data).limit(args.limit)
    extractor = get_extractor(args.extractor or DEFAULT_EXTRACTOR[args.method], task.answer_kind)
    config = MethodConfig(
        task=task.name,
        extractor=extractor,
        temperature=args.temperature,
        seed=args.seed,
        pool=demo_pool(args, task),
        shots=args.shots,
        selector=args.selector,
        order=args.order,
        selection_seed=args.selection_seed,
        chat=args.chat,
        samples=args.samples,
    )
    pipeline = build_method(args.method, config)
    engine = make_engine(engine_settings(args), cache_path(args))
    out = Path(args.out) if args.out else Path("runs") / f"{task.name}-{args.method}-{time.strftime('%Y%m%d-%H%M%S')}"
    options = {
        k: getattr(args, k)
        for k in ("temperature", "seed", "shots", "selector", "order", "selection_seed", "pool", "chat")
    }
    if args.method == "self_consistency":
        options["samples"] = args.samples
    result = evaluate(task, pipeline, engine, extractor, method=args.method, out_dir=out, options=options)
    s = result.summary
    low, high = s["ci95"]
    print(
        f"{task.name} {args.method} [{s['engine']} {s['model']}] accuracy {s['accuracy']:.1%} "
        f"({s['correct']}/{s['n']}, 95% CI {low:.1%}-{high:.1%}); engine calls {s['engine_calls']}, "
        f"cache hits {s['cache_hits']}; {s['wall_seconds']:.1f}s -> {out}"
    )
    return 0


def demo_pool(args: argparse.Namespace, task: Task) -> tuple[Demo, ...] | None:
    """--pool, else the shipped exemplars for a fixed selector, else the task's training data."""
    if args.pool:
        data = read_json(args.pool) if args.pool.endswith(".json") else None
        if isinstance(data, dict) and "exemplars" in data:
            return exemplars_from_file(args.pool)
        return pool_from_task(load_task(task.name, args.pool))
    if args.selector == "fixed":
        return None
    if task.name == "gsm8k":
        return pool_from_task(load_gsm8k_hub("train"))
    return pool_from_task(generated_task(count=1000, words=4, seed=1))


def cmd_make_last_letters(args: argparse.Namespace) -> int:
    data = generate_last_letters(args.count, args.words, args.seed)
    Path(args.out).write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {args.count} questions of {args.words} words to {args.out}")
    return 0


COMMANDS = {"eval": cmd_eval, "make-last-letters": cmd_make_last_letters}


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except PromptkitError as exc:
        print(f"promptkit: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("promptkit: interrupted; finished generations are in the cache", file=sys.stderr)
        return 130


def entry() -> None:
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    sys.exit(main())
