"""How far do replicas scale? 1 to 64 replicas simulated over real completion lengths.

Each replica is a continuous-batching engine (as in pipelining_sim.py): a decoding step costs the same
for up to `--slots` running sequences, a finished one's slot is refilled at the next step. The ray
engine's schedule: a call's requests split into one batch per replica (its default), each replica
runs its batch as one engine call, each request streams back as it ends. The driver handles results
one at a time (Ray's hand-over, the cache's SQLite write, the pipeline's callback): a fixed cost per
request, measured here on this machine unless given.

The limits that show up: replicas (the work divided), replicas not full (too few sequences each to
fill their slots), the longest completion (a sequence runs on one replica, start to end), the
slowest replica (a static split waits for it), and the driver (every result passes through one
process). Lengths: Kojima et al.'s 1,319 GSM8K
zero-shot-CoT rationales, counted with SmolLM2's tokenizer; `--samples K` asks K samples of each
(self-consistency).

    python evals/scale_sim.py --kojima ../shared/data/replay/kojima/gsm8k_zero_shot_cot.records.jsonl
    python evals/scale_sim.py --kojima ... --samples 40 --slots 256 --step-ms 30
"""

from __future__ import annotations

import argparse
import heapq
import json
import math
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path


def finish_steps(lengths: Sequence[int], slots: int) -> list[int]:
    """When each sequence ends (in steps), run in order on `slots` slots of one engine."""
    running: list[int] = []  # finish steps
    ends = []
    for length in lengths:
        start = heapq.heappop(running) if len(running) >= slots else 0
        end = start + max(1, length)
        heapq.heappush(running, end)
        ends.append(end)
    return ends


@dataclass(frozen=True)
class Outcome:
    replicas_done: float
    """When the last result left a replica (steps)."""
    driver_done: float
    """When the driver had handled the last result (steps)."""

    @property
    def total(self) -> float:
        return max(self.replicas_done, self.driver_done)


def simulate(lengths: Sequence[int], speeds: Sequence[float], slots: int, driver_steps: float) -> Outcome:
    """One batch per replica (replica r takes every r-th request, as a contiguous share); results reach the
    driver as they end; the driver takes `driver_steps` per result."""
    replicas = len(speeds)
    share = math.ceil(len(lengths) / replicas)
    arrivals = []
    for r, speed in enumerate(speeds):
        batch = lengths[r * share : (r + 1) * share]
        arrivals += [end / speed for end in finish_steps(batch, slots)]
    arrivals.sort()
    driver = 0.0
    for arrival in arrivals:
        driver = max(driver, arrival) + driver_steps
    return Outcome(max(arrivals, default=0.0), driver)


def table(lengths: Sequence[int], counts: Sequence[int], slots: int, driver_steps: float, slowest: float) -> list[str]:
    single = simulate(lengths, [1.0], slots, 0.0).total
    lines = [
        f"| replicas | speed-up | one replica at {slowest:g}x speed | driver busy | the limit |",
        "|---:|---:|---:|---:|---|",
    ]
    for n in counts:
        even = simulate(lengths, [1.0] * n, slots, driver_steps)
        uneven = simulate(lengths, [slowest] + [1.0] * (n - 1), slots, driver_steps)
        busy = len(lengths) * driver_steps / even.total
        if even.driver_done > even.replicas_done * 1.02:
            limit = "the driver (its per-result work)"
        elif even.replicas_done <= max(lengths) * 1.05:
            limit = f"the longest completion ({max(lengths)} steps: one sequence is not split)"
        elif len(lengths) / n < slots:
            limit = f"replicas not full ({len(lengths) / n:.0f} sequences each, {slots} slots)"
        else:
            limit = "replicas (the work divides)"
        lines.append(f"| {n} | {single / even.total:.2f}x | {single / uneven.total:.2f}x | {busy:.0%} | {limit} |")
    return lines


def measure_driver_ms(requests: int = 2000) -> tuple[float, float]:
    """Per-result driver cost on this machine: the cache's write of a real-sized completion, and Ray's
    hand-over of one streamed item (0 where Ray is not installed)."""
    from promptkit.engines import CachedEngine, ScriptedEngine
    from promptkit.types import GenRequest, Sampling

    text = "Let's think step by step. " * 16  # about 100 tokens of rationale
    with tempfile.TemporaryDirectory() as folder:
        engine = CachedEngine(ScriptedEngine(lambda prompt: text), Path(folder) / "cache.sqlite")
        batch = [GenRequest(f"Q: question {i}?\nA:", Sampling(max_tokens=256)) for i in range(requests)]
        start = time.perf_counter()
        engine.generate(batch)
        cache_ms = (time.perf_counter() - start) * 1000 / requests
        engine.close()
    return cache_ms, ray_item_ms(requests)


def ray_item_ms(items: int) -> float:
    try:
        import ray
    except ImportError:
        return 0.0
    from promptkit.types import Completion

    @ray.remote(num_cpus=0)
    class Streamer:
        def run(self, n: int):
            completion = Completion(
                texts=("x" * 400,), finish_reasons=("stop",), prompt_tokens=900, sample_tokens=(100,)
            )
            for i in range(n):
                yield i, completion

    started = not ray.is_initialized()
    if started:
        ray.init(num_cpus=1, include_dashboard=False, log_to_driver=False, configure_logging=False)
    try:
        actor = Streamer.remote()
        ray.get(actor.__ray_ready__.remote())
        start = time.perf_counter()
        stream = actor.run.options(num_returns="streaming").remote(items)
        for ref in stream:
            ray.get(ref)
        return (time.perf_counter() - start) * 1000 / items
    finally:
        if started:
            ray.shutdown()


def kojima_lengths(path: Path) -> tuple[list[int], str]:
    """The rationales' token lengths, and how they were counted (tokenizer, or estimated)."""
    from evals.pipelining_sim import token_counter

    counter = token_counter()
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [counter.count(r["outputs"]["rationale"]) for r in rows], counter.how


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kojima", type=Path, required=True, help="a Kojima et al. records file (*.records.jsonl)")
    parser.add_argument("--samples", type=int, default=1, help="samples per question (each its own sequence)")
    parser.add_argument("--slots", type=int, default=256, help="running sequences one replica holds")
    parser.add_argument("--step-ms", type=float, default=30.0, help="one decoding step of a replica, in ms")
    parser.add_argument("--driver-ms", type=float, help="the driver's cost per result (default: measured here)")
    parser.add_argument("--slowest", type=float, default=0.8, help="the slow replica's speed, for the uneven column")
    parser.add_argument("--replicas", default="1,2,4,8,16,32,64")
    args = parser.parse_args()

    counted, how = kojima_lengths(args.kojima)
    print(f"token counts: {how}")
    lengths = [n for n in counted for _ in range(args.samples)]
    if args.driver_ms is None:
        cache_ms, ray_ms = measure_driver_ms()
        driver_ms = cache_ms + ray_ms
        print(f"driver per result, measured: cache write {cache_ms:.3f} ms + Ray hand-over {ray_ms:.3f} ms")
    else:
        driver_ms = args.driver_ms
    counts = [int(n) for n in args.replicas.split(",")]
    print(
        f"{len(lengths)} sequences ({len(lengths) // args.samples} questions x {args.samples}), {sum(lengths)} tokens; "
        f"{args.slots} slots a replica, a step {args.step_ms:g} ms, the driver {driver_ms:.3f} ms a result"
    )
    print(f"one engine: {simulate(lengths, [1.0], args.slots, 0.0).total * args.step_ms / 1000:.0f} s")
    print("\n".join(table(lengths, counts, args.slots, driver_ms / args.step_ms, args.slowest)))


if __name__ == "__main__":
    main()
