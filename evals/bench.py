"""Side-by-side benchmark: the bare engine and promptkit on identical requests.

    python evals/bench.py --engine hf --model smollm2 --data GSM8K_TEST.jsonl
    python evals/bench.py --engine vllm --model smollm2 --data GSM8K_TEST.jsonl --scenarios zero_shot_cot
    python evals/bench.py --scoring --data CSQA_DEV.jsonl --examples 100 --shots 8   (evals/bench_scoring.py)

Each scenario first runs promptkit once (untimed) and records every engine call it makes; every other
side then runs once untimed too (--warmup: more), so that no side's one-time costs land in its timed
rounds. Then, in alternating order for --rounds rounds, it times
- bare: the recorded calls, in order, through the engine library alone: a plain transformers
  `generate` per batch (the same batches as the hf engine forms, same stop strings, n samples as
  num_return_sequences), or one `vllm.LLM.generate` per call;
- promptkit: the whole method (render, generate, extract, vote, score) through promptkit's engine.
Both sides use the same loaded weights. Medians are printed, with generated tokens per second,
promptkit's speed-up over bare (above 1: promptkit is faster), and on hf each side's host time per
decoding step (time outside the model's forward passes, per pass: ForwardClock in bench_sides.py). The header names
the machine (CPU and its vector extensions, or the GPU): CPU figures depend on them.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from evals.bench_sides import (
    bare_generate_batch,
    bare_hf,
    bare_vllm,
    engine_alone,
    forward_clock,
    without_stops,
)
from promptkit import build_method
from promptkit.engines.implementing import CountingEngine
from promptkit.runs.evaluate import evaluate
from promptkit.stages import SolveInOrder
from promptkit.stages.framework.pipeline import Pipeline
from promptkit.tasks import load_task
from promptkit.types import GenRequest

# scenario -> (method, MethodSpec options, the stage whose budget --max-tokens sets)
SCENARIOS: dict[str, tuple[str, dict, str]] = {
    "few_shot_cot": ("few_shot_cot", {"shots": 8}, "answer"),
    "self_consistency": ("self_consistency", {"shots": 8, "samples": 5}, "answer"),
    "zero_shot_cot": ("zero_shot_cot", {}, "reason"),
    "least_to_most": ("least_to_most", {}, "solve"),
    # The same solving in rounds (one call per step, each waiting for its slowest example): what
    # pipelined chains save on a streaming engine. Its bare side replays the rounds' calls.
    "least_to_most_rounds": ("least_to_most", {}, "solve"),
}


class Recorder(CountingEngine):
    """Counts calls and keeps every request list, to replay them on the bare engine."""

    def __init__(self, inner) -> None:
        super().__init__(inner)
        self.streams = False  # recorded in rounds: the calls a plain engine script makes
        self.calls_made: list[list[GenRequest]] = []

    def generate(self, requests, on_complete=None):
        self.calls_made.append(list(requests))
        return super().generate(requests, on_complete)


# -- engines and models ---------------------------------------------------------------------------
def load_engine(kind: str, model: str, tmp: Path, vllm_args: dict):
    if model == "tiny":
        from promptkit.testing.tiny_model import build_tiny_model

        model = str(build_tiny_model(tmp / "tiny", context=4096))
    elif model == "smollm2":
        from promptkit.engines.model_files import BUILTIN_MODEL

        model = BUILTIN_MODEL
    if kind == "hf":
        from promptkit.engines.hf import HFEngine

        return HFEngine(model, device="auto", progress=False)
    from promptkit.engines.vllm import VLLMEngine

    return VLLMEngine(model, engine_args=vllm_args, progress=False)


def reset_engine_caches(engine) -> None:
    """vLLM keeps prompt prefixes between calls; each timed run starts without them."""
    llm = getattr(engine, "_llm", None)
    if llm is not None:
        llm.reset_prefix_cache()


# -- one scenario ---------------------------------------------------------------------------------
def run_scenario(name: str, task, engine, bare, args) -> dict:
    method, options, stage = SCENARIOS[name]
    built = build_method(task, method, max_tokens={stage: args.max_tokens}, **options)
    if name.endswith("_rounds"):
        stages = [replace(s, pipelined=False) if isinstance(s, SolveInOrder) else s for s in built.pipeline.stages]
        built = replace(built, pipeline=Pipeline(tuple(stages)))

    def promptkit_run() -> int:
        counting = CountingEngine(engine)
        evaluate(task, built.pipeline, counting, built.extractor, method=method)
        return counting.completion_tokens

    recorder = Recorder(engine)
    evaluate(task, built.pipeline, recorder, built.extractor, method=method)  # warm-up, and the calls to replay
    sides = {"bare": lambda: bare(recorder.calls_made), "promptkit": promptkit_run}
    if args.generate_batch:
        unstopped = without_stops(recorder.calls_made)
        sides["generate_batch"] = lambda: bare_generate_batch(engine)(unstopped)
        sides["engine_nostop"] = lambda: engine_alone(engine)(unstopped)
    times: dict[str, list[float]] = {side: [] for side in sides}
    tokens: dict[str, list[int]] = {side: [] for side in sides}
    host_ms: dict[str, list[float]] = {side: [] for side in sides}
    clock = forward_clock(engine)
    order = list(sides)
    # Untimed first runs, on every side alike: a side's first run pays one-time costs (the first kernel launches
    # on a GPU, allocator growth and lazy imports on a CPU). promptkit's side has had one: the recorder's run.
    warmup = args.warmup if args.warmup is not None else 1
    untimed = max(warmup, 1)
    for side in order:
        for _ in range(untimed - (side == "promptkit")):
            sides[side]()
    for round_ in range(args.rounds):
        for side in order if round_ % 2 == 0 else order[::-1]:
            reset_engine_caches(engine)
            with clock or contextlib.nullcontext():
                start = time.perf_counter()
                tokens[side].append(sides[side]())
                times[side].append(time.perf_counter() - start)
            if clock:
                host_ms[side].append(clock.host_ms_per_step(times[side][-1]))  # type: ignore[arg-type]
    row = {
        "scenario": name,
        "requests": recorder.requests,
        "calls": recorder.calls,
        "prompt_tokens": recorder.prompt_tokens,
        "untimed_runs_per_side": untimed,
    }
    for side in sides:
        median = statistics.median(times[side])
        row[side] = {
            "seconds": times[side],
            "median_s": median,
            "tokens": int(statistics.median(tokens[side])),
            "tok_per_s": statistics.median(tokens[side]) / median,
            "host_ms_per_step": statistics.median(host_ms[side]) if host_ms[side] else None,
        }
    row["speedup"] = row["bare"]["median_s"] / row["promptkit"]["median_s"]
    if args.generate_batch:
        row["speedup_vs_generate_batch"] = row["generate_batch"]["median_s"] / row["engine_nostop"]["median_s"]
    return row


def print_table(rows: Sequence[dict], header: str) -> None:
    print(header)
    print(
        f"{'scenario':<18}{'requests':>9}{'calls':>6}{'bare s':>9}{'promptkit s':>13}"
        f"{'bare tok/s':>12}{'pk tok/s':>10}{'speed-up':>10}{'pk/bare':>9}{'host ms/step bare':>19}{'pk':>7}"
    )
    for r in rows:
        b, p = r["bare"], r["promptkit"]
        print(
            f"{r['scenario']:<18}{r['requests']:>9}{r['calls']:>6}{b['median_s']:>9.2f}{p['median_s']:>13.2f}"
            f"{b['tok_per_s']:>12.1f}{p['tok_per_s']:>10.1f}{r['speedup']:>9.2f}x{1 / r['speedup']:>8.2f}x"
            f"{_ms(b['host_ms_per_step']):>19}{_ms(p['host_ms_per_step']):>7}"
        )
    extra = [r for r in rows if "generate_batch" in r]
    if extra:
        print("without stop strings: transformers generate_batch vs the hf engine alone")
        print(f"{'scenario':<18}{'gen_batch s':>12}{'engine s':>10}{'gb tok/s':>10}{'eng tok/s':>11}{'speed-up':>10}")
        for r in extra:
            g, e = r["generate_batch"], r["engine_nostop"]
            print(
                f"{r['scenario']:<18}{g['median_s']:>12.2f}{e['median_s']:>10.2f}{g['tok_per_s']:>10.1f}"
                f"{e['tok_per_s']:>11.1f}{r['speedup_vs_generate_batch']:>9.2f}x"
            )


def machine() -> str:
    """The processor the figures come from: the GPU's name, or the CPU's with its AVX-512 / AMX support."""
    import torch

    if torch.cuda.is_available():
        return torch.cuda.get_device_name()
    cpuinfo = Path("/proc/cpuinfo")
    text = cpuinfo.read_text() if cpuinfo.exists() else ""
    name = next((line.split(":", 1)[1].strip() for line in text.splitlines() if line.startswith("model name")), "CPU")
    flags = set(next((line.split(":", 1)[1].split() for line in text.splitlines() if line.startswith("flags")), []))
    extensions = [label for label, flag in (("AVX-512", "avx512f"), ("AMX", "amx_tile")) if flag in flags] or [
        "no AVX-512"
    ]
    return f"{name} ({', '.join(extensions)}), {torch.get_num_threads()} threads"


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--engine", choices=("hf", "vllm"), default="hf")
    parser.add_argument(
        "--model", default="tiny", help="tiny (random, built here), smollm2 (shipped), or a path/hub id"
    )
    parser.add_argument("--task", help="gsm8k (default) or last_letters; with --scoring, commonsensqa (default) or a "
                        "classification task such as sst2")  # fmt: skip
    parser.add_argument("--data", help="the task's data file (default: the task's standard source)")
    parser.add_argument("--scenarios", nargs="+", choices=list(SCENARIOS), default=list(SCENARIOS))
    parser.add_argument("--examples", type=int, default=16, help="questions per scenario")
    parser.add_argument("--max-tokens", type=int, default=128, help="budget of each scenario's main stage")
    parser.add_argument("--rounds", type=int, default=3, help="timed runs per side, alternating")
    parser.add_argument("--vllm-args", type=json.loads, default={"max_model_len": 4096, "kv_cache_memory_bytes": 1 << 30},
                        help="vLLM engine_args as JSON")  # fmt: skip
    parser.add_argument("--warmup", type=int,
                        help="untimed runs of each side before the timed ones (default and least: 1)")  # fmt: skip
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--generate-batch", action="store_true",
                        help="hf only: also time transformers' continuous batching (generate_batch) against the hf "
                        "engine alone, both without stop strings")  # fmt: skip
    parser.add_argument("--scoring", action="store_true",
                        help="the scoring scenario instead: few_shot_choice on CommonsenseQA (--task commonsensqa) or "
                        "classify on a classification task (--task sst2), --data its data, against lm-eval's hf "
                        "backend on the same requests (evals/bench_scoring.py)")  # fmt: skip
    parser.add_argument("--shots", type=int, default=8, help="--scoring: demonstrations per question")
    args = parser.parse_args(argv)
    if args.scoring:
        from evals.bench_scoring import print_report, run

        report = run(Path(args.data), args.examples, args.shots, args.task or "commonsensqa")
        print_report(report)
        if args.json:
            args.json.write_text(json.dumps(report, indent=2))
        return 0
    args.task = args.task or "gsm8k"
    if args.task not in ("gsm8k", "last_letters"):
        parser.error(f"--task {args.task}: the generation scenarios run gsm8k or last_letters")
    if args.generate_batch and args.engine != "hf":
        parser.error("--generate-batch times transformers' generate_batch: it needs --engine hf")

    task = load_task(args.task, args.data).limit(args.examples)
    with tempfile.TemporaryDirectory() as tmp:
        engine = load_engine(args.engine, args.model, Path(tmp), args.vllm_args)
        try:
            bare = bare_hf(engine) if args.engine == "hf" else bare_vllm(engine)
            rows = []
            for name in args.scenarios:
                rows.append(run_scenario(name, task, engine, bare, args))
                print(f"{name}: bare {rows[-1]['bare']['median_s']:.2f} s, promptkit {rows[-1]['promptkit']['median_s']:.2f} s",
                      file=sys.stderr, flush=True)  # fmt: skip
        finally:
            if hasattr(engine, "close"):  # vLLM's engine processes would keep this one alive
                engine.close()
    header = (
        f"engine {args.engine}, model {args.model}, {args.task} x {len(task.examples)}, "
        f"max_tokens {args.max_tokens}, medians of {args.rounds} rounds, on {machine()}"
    )
    print_table(rows, header)
    if args.json:
        args.json.write_text(json.dumps({"setup": vars(args) | {"json": str(args.json)}, "rows": rows}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
