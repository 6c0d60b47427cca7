"""Are promptkit's classification prompts Zhao et al.'s, byte for byte?

    python evals/zhao_prompts.py --data ../shared/data/zhao

`reference_prompts.jsonl` holds 600 prompts made by running Zhao et al.'s own code (Calibrate Before Use,
2021) on their data: for SST-2, AGNews, TREC, CB and RTE, at 0, 1, 4 and 8 shots and seeds 0-4, three test
prompts and the three content-free prompts (inputs "N/A", "" and "[MASK]") of contextual calibration. Each
is rendered here through promptkit (`classify` with `calibrate: content_free`, calling no model) and
compared as bytes. Prints `N/600 prompts identical`, and the first differences.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from promptkit.runs.render import render
from promptkit.runspec.models import PipelineSpec

REFERENCE = "reference_prompts.jsonl"


def compare(data: Path) -> tuple[int, int, list[str]]:
    """(identical, compared, a line per difference)."""
    rows = [json.loads(line) for line in (data / REFERENCE).read_text(encoding="utf-8").splitlines() if line.strip()]
    groups: dict[tuple[str, int, int], list[dict]] = defaultdict(list)
    for row in rows:
        if row["kind"] in ("test", "content_free"):
            groups[(row["dataset"], row["shots"], row["seed"])].append(row)
    same, total, differences = 0, 0, []
    for (dataset, shots, seed), group in sorted(groups.items()):
        ids = sorted({str(r["test_index"]) for r in group if r["kind"] == "test"})
        method = {"name": "classify", "shots": shots, "selection_seed": seed, "calibrate": "content_free"}
        spec = PipelineSpec.model_validate({"task": {"name": dataset, "data": str(data / dataset)}, "method": method})
        rendered = render(spec, ids)
        tests = {p.example: p.prompt for p in rendered if p.stage == "score"}
        free = [p.prompt for p in rendered if p.stage == "score:content_free" and p.example == ids[0]]
        free_by_input = dict(zip(("N/A", "", "[MASK]"), free))
        for row in group:
            ours = tests.get(str(row["test_index"])) if row["kind"] == "test" else free_by_input.get(row["input"])
            total += 1
            if ours == row["prompt"]:
                same += 1
            else:
                what = f"test {row['test_index']}" if row["kind"] == "test" else f"content-free {row['input']!r}"
                differences.append(
                    f"{dataset} {shots}-shot seed {seed} {what}: {_first_difference(ours, row['prompt'])}"
                )
    return same, total, differences


def _first_difference(ours: object, theirs: str) -> str:
    if not isinstance(ours, str):
        return "not rendered"
    at = next((i for i, (a, b) in enumerate(zip(ours, theirs)) if a != b), min(len(ours), len(theirs)))
    return f"at character {at}: ours {ours[at : at + 40]!r}, theirs {theirs[at : at + 40]!r}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data", required=True, type=Path, help="Zhao et al.'s data folder, with reference_prompts.jsonl"
    )
    args = parser.parse_args(argv)
    same, total, differences = compare(args.data)
    print(f"{same}/{total} prompts identical")
    for line in differences[:10]:
        print(line)
    return 0 if same == total else 1


if __name__ == "__main__":
    sys.exit(main())
