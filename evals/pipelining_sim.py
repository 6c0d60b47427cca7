"""What do stage barriers cost? A continuous-batching engine simulated over real token lengths.

The model of the engine: every decoding step costs the same for up to `--slots` running sequences
(as on a GPU, where one step for 1 sequence costs about what it costs for 200); a finished
sequence's slot is filled from the queue at the next step. Two schedules of a multi-stage method:

- stage by stage: every example's stage k is queued only when all examples finished stage k-1;
- pipelined: an example's stage k is queued the moment its own stage k-1 finishes.

Lengths come from recordings: Kojima et al.'s 1,319 GSM8K zero-shot-CoT rationales and answers
(text-davinci-002), counted with SmolLM2's tokenizer (where the embedded model is missing, estimated
as characters / 4, and the output says so); or any run folder's traces (`--run DIR`),
e.g. a least-to-most run, whose per-example chains have different numbers of steps.

    python evals/pipelining_sim.py --kojima ../shared/data/replay/kojima/gsm8k_zero_shot_cot.records.jsonl
    python evals/pipelining_sim.py --run runs/gsm8k-least_to_most-...
"""

from __future__ import annotations

import argparse
import heapq
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

Chains = list[list[int]]
"""Per example, the token lengths of its calls in order (one per stage or step)."""


def simulate(chains: Chains, slots: int, pipelined: bool) -> int:
    """Decoding steps until every chain is done."""
    if pipelined:
        return _run_queue([(0, i) for i in range(len(chains))], chains, slots, follow=True)
    steps = 0
    depth = max((len(c) for c in chains), default=0)
    for stage in range(depth):
        work = [(stage, i) for i, c in enumerate(chains) if stage < len(c)]
        steps += _run_queue(work, chains, slots, follow=False)
    return steps


def _run_queue(work: list[tuple[int, int]], chains: Chains, slots: int, follow: bool) -> int:
    """Steps to finish `work` (stage, example) on `slots` slots; with `follow`, a finished call queues the next."""
    queue = list(work)
    running: list[tuple[int, int, int]] = []  # (finish step, stage, example)
    now = 0
    while queue or running:
        while queue and len(running) < slots:
            stage, i = queue.pop(0)
            heapq.heappush(running, (now + max(1, chains[i][stage]), stage, i))
        finish, stage, i = heapq.heappop(running)
        now = finish
        if follow and stage + 1 < len(chains[i]):
            queue.append((stage + 1, i))
        while running and running[0][0] == now:  # everything finishing at the same step
            _, s2, j = heapq.heappop(running)
            if follow and s2 + 1 < len(chains[j]):
                queue.append((s2 + 1, j))
    return now


def kojima_chains(path: Path, count: Callable[[str], int]) -> Chains:
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [[count(r["outputs"]["rationale"]), count(r["outputs"]["answer"])] for r in rows]


def run_chains(folder: Path, count: Callable[[str], int]) -> Chains:
    chains = []
    for line in (folder / "predictions.jsonl").read_text(encoding="utf-8").splitlines():
        trace = json.loads(line)["trace"]
        chains.append(
            [count(t["completion"] if isinstance(t["completion"], str) else t["completion"][0]) for t in trace]
        )
    return chains


@dataclass(frozen=True)
class Counter:
    count: Callable[[str], int]
    how: str
    """What the counts are, printed beside every figure made from them."""


def token_counter(model_folder: Callable[[], Path] | None = None) -> Counter:
    """SmolLM2's tokenizer where the embedded model is here; else an estimate, which says so."""
    try:
        from transformers import AutoTokenizer

        from promptkit.engines.model_files import builtin_model_folder

        tokenizer = AutoTokenizer.from_pretrained(str((model_folder or builtin_model_folder)()))
        return Counter(lambda text: len(tokenizer.encode(text, add_special_tokens=False)), "SmolLM2's tokenizer")
    except Exception as exc:  # no embedded model here
        why = str(exc).splitlines()[0] if str(exc) else exc.__class__.__name__
        return Counter(
            lambda text: max(1, len(text) // 4),
            f"ESTIMATED as characters / 4 (SmolLM2's tokenizer is not available: {why})",
        )


def report(name: str, chains: Chains, slot_counts: Sequence[int]) -> list[str]:
    lines = [f"{name}: {len(chains)} examples, {sum(map(len, chains))} calls, {sum(map(sum, chains))} tokens"]
    lines.append("| slots | stage by stage (steps) | pipelined (steps) | saving |")
    lines.append("|---|---|---|---|")
    for slots in slot_counts:
        staged, piped = simulate(chains, slots, False), simulate(chains, slots, True)
        lines.append(f"| {slots} | {staged} | {piped} | {1 - piped / staged:.1%} |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kojima", type=Path, help="a Kojima et al. records file (*.records.jsonl)")
    parser.add_argument("--run", type=Path, action="append", default=[], help="a run folder (predictions.jsonl)")
    parser.add_argument(
        "--slots", default="64,256,1024", help="running sequences the engine holds (default: 64,256,1024)"
    )
    args = parser.parse_args()
    counter = token_counter()
    count = counter.count
    print(f"token counts: {counter.how}")
    slots = [int(s) for s in args.slots.split(",")]
    if args.kojima:
        print("\n".join(report(f"zero-shot CoT ({args.kojima.name})", kojima_chains(args.kojima, count), slots)))
    for folder in args.run:
        print("\n".join(report(f"run {folder.name}", run_chains(folder, count), slots)))


if __name__ == "__main__":
    main()
