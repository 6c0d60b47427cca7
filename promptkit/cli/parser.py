"""The command line's arguments: every command, its flags and their help (lists derived from their definitions)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import NoReturn

from promptkit.cli.arg_types import choices_of as _choices
from promptkit.cli.arg_types import count as _count
from promptkit.cli.arg_types import seed as _seed
from promptkit.cli.tune_args import add_tune_parser
from promptkit.engines import default_cache_path
from promptkit.engines.engine_kinds import ENGINE_KINDS, INNER_KINDS
from promptkit.engines.model_files import BUILTIN_MODEL
from promptkit.runs.demo import LIMIT as DEMO_LIMIT
from promptkit.runs.demo import SEEDS as DEMO_SEEDS
from promptkit.runs.demo import SHOTS as DEMO_SHOTS
from promptkit.runspec.methods import METHODS
from promptkit.runspec.models import LabelWords
from promptkit.stages.kinds.score_classes import Calibration
from promptkit.stages.kinds.select_demos import Order, Strategy
from promptkit.stages.library.ablations import Answers, Inputs, Rationales
from promptkit.stages.library.extractors import EXTRACTORS
from promptkit.tasks import shipped_names


def _engine_args(p: argparse.ArgumentParser, defaults: bool) -> None:
    g = p.add_argument_group("engine")
    g.add_argument("--engine", default="hf" if defaults else None, help=", ".join(ENGINE_KINDS.names()))
    g.add_argument(
        "--model",
        help=f"local folder, GGUF file (hf) or hub id; default: {BUILTIN_MODEL}, embedded (openai: the served name)",
    )
    g.add_argument("--replay", help="JSONL recording, for --engine replay")
    g.add_argument("--dtype", help="hf, vllm: auto, float32, float16 or bfloat16")
    g.add_argument("--device", help="hf: auto, cpu, cuda, cuda:1, ...")
    g.add_argument(
        "--max-batch-tokens", type=_count, help="hf: rows x padded length per batch (default: a 4 GiB KV cache)"
    )
    g.add_argument(
        "--soft-prompt", help="a learned prompt, the file `promptkit tune` writes: soft (hf) or text (bdpl, any engine)"
    )
    g.add_argument(
        "--adapter", help="a LoRA adapter folder (what `promptkit tune --method lora` writes): hf merges it, vllm "
        "sends it with each request",
    )  # fmt: skip
    g.add_argument("--tensor-parallel-size", type=_count, help="vllm: GPUs per model")
    g.add_argument(
        "--base-url",
        action="append",
        help="openai: the server's root, e.g. http://127.0.0.1:8000/v1; repeat it for a fleet of servers of one model",
    )
    g.add_argument("--concurrency", type=_count, help="openai: requests in flight at once, per server")
    g.add_argument("--max-retries", type=_count, help="openai: retries (with backoff) on rate limits, timeouts, 5xx")
    g.add_argument("--api-key-env", help="openai: the environment variable holding the API key")
    g.add_argument("--replicas", type=_count, help="ray: copies of the inner engine, one Ray actor each")
    g.add_argument("--inner", choices=INNER_KINDS, help="ray: the engine each replica holds (default: hf)")
    g.add_argument("--ray-address", help="ray: the cluster to join (e.g. auto); default: start a local one")


def _engine_flag_dests() -> tuple[str, ...]:
    """The engine group's flags, as argparse names them (what `engine_data` checks against the engine's fields)."""
    parser = argparse.ArgumentParser(add_help=False)
    _engine_args(parser, defaults=False)
    return tuple(a.dest for a in parser._actions if a.dest != "engine")


TASK_HELP = (
    f"a shipped task ({', '.join(shipped_names())}), a task file (.yaml), or lm-eval:NAME (a task of "
    "lm-evaluation-harness)"
)
WHOLE_SET_HELP = "all the records, where the task's standard set is a subsample (Zhao et al.'s 300)"


def _run_args(p: argparse.ArgumentParser, limit: int | None = None) -> None:
    p.add_argument(
        "--data", help="the task's data: a JSONL, JSON or CSV file, or a dataset folder (default: the task's own)"
    )
    p.add_argument(
        "--limit", type=_count, default=limit, help="first N examples only" + (f" (default: {limit})" if limit else "")
    )
    p.add_argument("--whole-set", action="store_true", help=WHOLE_SET_HELP)
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


def _repeat_args(p: argparse.ArgumentParser) -> None:
    r = p.add_argument_group("spread over repeats (mean, std, min and max in spread.json)")
    r.add_argument(
        "--seeds", type=_count, help="N runs, demonstrations drawn with seeds 0..N-1 (or samples, with none) (N >= 2)"
    )
    r.add_argument(
        "--orders", type=_count, help="order sensitivity: K runs, the same demonstrations in K seeded orders (K >= 2)"
    )


def _method_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--extractor",
        help=f"{', '.join(EXTRACTORS.names())}, or lm-eval:FILTER (an lm-eval task's filter) (default: the method's)",
    )
    p.add_argument(
        "--samples",
        type=_count,
        help="samples per question, joined by a majority vote (default: 5 for self_consistency, else 1)",
    )
    p.add_argument("--temperature", type=float, help="sampling temperature (default: 0.7 with --samples > 1, else 0)")
    p.add_argument("--seed", type=_seed, help="sampling seed")
    p.add_argument(
        "--template", action="append", default=[], metavar="[STAGE=]FILE", help="swap a stage's template for a file"
    )
    d = p.add_argument_group("demonstrations (few_shot, few_shot_cot, self_consistency)")
    d.add_argument("--shots", type=_count, help="demonstrations per prompt (default: all exemplars, or 8 from a pool)")
    d.add_argument("--selector", help=f"{_choices(Strategy)} (default: fixed)")
    d.add_argument("--order", help=f"{_choices(Order)} (default: given)")
    d.add_argument("--selection-seed", type=_seed, help="seed of per-example draws (default: 0)")
    d.add_argument(
        "--demo-answers",
        help=f"ablation: {_choices(Answers)}: another demonstration's, one drawn uniformly from the pool's answers, "
        "or none (default: gold)",
    )
    d.add_argument("--demo-rationales", help=f"ablation: {_choices(Rationales)} (default: gold)")
    d.add_argument(
        "--demo-inputs",
        help=f"ablation: {_choices(Inputs)}: another pool question, or a sentence of --demo-ood-pool (default: gold)",
    )
    d.add_argument("--demo-ood-pool", help="--demo-inputs ood: a text file of sentences, one per line")
    d.add_argument("--pool", help="demonstration pool: an exemplars JSON file or a data file of the task")
    d.add_argument(
        "--chat", action="store_true", default=None, help="demonstrations as chat turns through the chat template"
    )
    c = p.add_argument_group("classification (classify)")
    c.add_argument("--calibrate", help=f"{_choices(Calibration)}: contextual calibration (default: none)")
    c.add_argument(
        "--label-words", help=f"{_choices(LabelWords)}: the classes named by random English words (default: task)"
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

    demo = sub.add_parser(
        "demo", help="the first run to try: SST-2 zero-shot and few-shot, before and after calibration, in one table"
    )
    demo.add_argument(
        "--shots", type=_count, default=DEMO_SHOTS, help=f"demonstrations per prompt (default: {DEMO_SHOTS})"
    )
    demo.add_argument(
        "--seeds", type=_count, default=DEMO_SEEDS, help=f"demonstration draws, >= 2 (default: {DEMO_SEEDS})"
    )
    _run_args(demo, limit=DEMO_LIMIT)
    _engine_args(demo, defaults=False)

    ev = sub.add_parser("eval", help="run a method over a task and score it")
    ev.add_argument("--task", required=True, help=f"{TASK_HELP}; lm-eval:NAME runs each task of a group or tag")
    ev.add_argument("--method", required=True, help=f"one of: {', '.join(METHODS.names())}")
    _method_args(ev)
    _run_args(ev)
    _repeat_args(ev)
    _engine_args(ev, defaults=True)

    run = sub.add_parser("run", help="run a YAML spec")
    run.add_argument("spec", help="YAML spec file")
    run.add_argument("--set", action="append", default=[], metavar="dotted.key=value", help="override a spec field")
    _run_args(run)
    _repeat_args(run)
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
    _repeat_args(sw)
    _engine_args(sw, defaults=False)

    render = sub.add_parser("render", help="print the exact prompts for chosen examples, calling no model")
    render.add_argument("spec", nargs="?", help="YAML spec file (or use --task and --method)")
    render.add_argument("--task")
    render.add_argument("--method")
    render.add_argument("--set", action="append", default=[], metavar="dotted.key=value")
    render.add_argument("--data")
    render.add_argument("--limit", type=_count, help="the first N examples (default: 1, unless --example)")
    render.add_argument("--whole-set", action="store_true", help=WHOLE_SET_HELP)
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
    ac.add_argument(
        "--task", required=True, help=f"a shipped task ({', '.join(shipped_names())}) or a task file (.yaml)"
    )
    ac.add_argument("--pool", help="questions to cluster: a data file of the task (default: the task's own data)")
    ac.add_argument("--clusters", type=_count, help="demonstrations, one per cluster (default: 8; 4 for last letters)")
    ac.add_argument("--max-steps", type=_count, help="most reasoning lines kept (default: 5; 7 for last letters)")
    ac.add_argument("--max-question-words", type=_count, default=60, help="longest question kept (default: 60)")
    ac.add_argument("--tries", type=_count, default=5, help="questions tried per cluster, nearest first (default: 5)")
    ac.add_argument("--seed", type=_seed, default=0, help="k-means seed (default: 0)")
    ac.add_argument("--embedder", default="tfidf", help="tfidf or embedding (default: tfidf)")
    ac.add_argument("--max-tokens", type=_count, default=256, help="zero-shot-CoT reasoning budget (default: 256)")
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

    record = sub.add_parser(
        "record",
        help="a run folder as a replay recording: rescore or share the run without the model (--engine replay)",
    )
    record.add_argument("runs", nargs=1, metavar="RUN", help="the run folder")
    record.add_argument("--out", required=True, help="the JSONL recording to write")

    add_tune_parser(sub, lambda p: _engine_args(p, defaults=True))

    schema = sub.add_parser("schema", help="print the JSON schema of run specs (or of summary.json, or task files)")
    which = schema.add_mutually_exclusive_group()
    which.add_argument("--summary", action="store_true", help="the schema of a run's summary.json instead")
    which.add_argument("--task", action="store_true", help="the schema of task files instead")

    tasks = sub.add_parser("tasks", help="list the shipped tasks: answer type, size, where their data comes from")
    tasks.add_argument(
        "--lm-eval",
        nargs="?",
        const="",
        metavar="PATTERN",
        help="list the installed lm-eval's tasks, groups and tags instead (matching a shell pattern, e.g. 'arc*')",
    )

    ll = sub.add_parser("make-last-letters", help="generate a last-letter concatenation set")
    ll.add_argument("--words", type=_count, default=4)
    ll.add_argument("--count", type=_count, default=500)
    ll.add_argument("--seed", type=_seed, default=0)
    ll.add_argument("--out", required=True, help="JSON file to write")
    return parser


ENGINE_FLAGS: tuple[str, ...] = _engine_flag_dests()
"""Every engine flag's destination (model, dtype, device, ...): each engine takes those its spec has fields for."""
