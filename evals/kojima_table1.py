"""Kojima et al. (2022), Table 1, all 24 cells: text-davinci-002's recorded outputs through promptkit.

    python evals/kojima_table1.py --data ../shared/data/kojima

Each of the 24 logs (12 datasets x zero-shot, zero-shot-CoT) becomes a replay recording whose
prompts are rebuilt as the reference code built them: "Q: {question}\\nA: {trigger}"; zero-shot-CoT's
second prompt is the first + rationale + " \\n" + "Therefore, ..." (the answer trigger). promptkit then
runs `direct` and `zero_shot_cot` on each shipped task file over the dataset's original file, so a
recorded output is only found when promptkit asks exactly the question the reference code asked
(date understanding excepted: the reference shuffled its choices at random, so its questions as asked
are read from the log). Scored with `--extractor kojima`, every cell must equal the paper's count;
beside it, the same outputs scored by promptkit's default extractor.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from promptkit import ReplayEngine, build_method, evaluate, load_task
from promptkit.tasks import read_definition
from promptkit.tasks.definition import Prompts

# dataset -> (log name, the original file under dataset/; None: the questions come from the log)
DATASETS: dict[str, tuple[str, str | None]] = {
    "singleeq": ("singleeq", "SingleEq/questions.json"),
    "addsub": ("addsub", "AddSub/AddSub.json"),
    "multiarith": ("multiarith", "MultiArith/MultiArith.json"),
    "gsm8k": ("gsm8k", "../../gsm8k/test.jsonl"),
    "aqua": ("aqua", "AQuA/test.json"),
    "svamp": ("svamp", "SVAMP/SVAMP.json"),
    "commonsensqa": ("commonsensqa", "CommonsenseQA/dev_rand_split.jsonl"),
    "strategyqa": ("strategyqa", "StrategyQA/task.json"),
    "date_understanding": ("date_understanding", None),
    "shuffled_objects": ("shuffled_objects", "Bigbench_object_tracking/task.json"),
    "last_letters": ("last_letters", "../../last_letters/last_letters.json"),
    "coin_flip": ("coin_flip", "coin_flip/coin_flip.json"),
}
# The correct counts the logs' accuracies imply (PROVENANCE.txt): (zero-shot, zero-shot-CoT).
PAPER: dict[str, tuple[int, int]] = {
    "singleeq": (379, 396), "addsub": (285, 275), "multiarith": (106, 472), "gsm8k": (137, 537),
    "aqua": (57, 85), "svamp": (588, 621), "commonsensqa": (840, 789), "strategyqa": (290, 1254),
    "date_understanding": (182, 249), "shuffled_objects": (235, 393), "last_letters": (1, 288),
    "coin_flip": (64, 457),
}  # fmt: skip
METHODS = {"direct": "zero_shot", "zero_shot_cot": "zero_shot_cot"}
REASON = "Let's think step by step."


@dataclass(frozen=True)
class Logged:
    """One example of a log: the question as asked, the outputs, the reference parser's answer, the gold."""

    question: str
    outputs: tuple[str, ...]
    """zero-shot: (answer,); zero-shot-CoT: (rationale, answer)."""
    prediction: str
    gold: str


def read_log(path: Path, prompts: Prompts) -> list[Logged]:
    """Every example block of a log, read with the task's answer prefix and trigger."""
    text = path.read_text(encoding="utf-8")
    cot = path.stem.endswith("_zero_shot_cot")
    trigger, second = prompts.answer_prefix, prompts.trigger
    out = []
    for block in _blocks(text):
        shown, _, rest = block.partition("\npred_before : ")
        fields = dict(re.findall(r"^(pred_after|GT) : (.*)$", rest, flags=re.M))
        shown = shown[shown.index("Q: ") :]  # after the 'Nth data' and '1_th_sampling' lines
        if cot:
            question, _, tail = shown[3:].partition(f"\nA: {REASON}")
            rationale, _, answer = tail.rpartition(f" \n{second}")
            outputs: tuple[str, ...] = (rationale, answer)
        else:
            question, _, answer = shown[3:].partition(f"\nA: {trigger}")
            outputs = (answer,)
        out.append(Logged(question, outputs, fields.get("pred_after", ""), fields.get("GT", "")))
    return out


def _blocks(text: str) -> Iterator[str]:
    for block in re.split(r"\n\*{5,}\n", text):
        if "\npred_before : " in block and "Q: " in block:
            yield block


def recording(logged: list[Logged], prompts: Prompts, cot: bool) -> list[dict]:
    """The replay lines: each prompt as the reference code built it, with its recorded output."""
    trigger, second = prompts.answer_prefix, prompts.trigger
    lines = []
    for item in logged:
        if cot:
            first = f"Q: {item.question}\nA: {REASON}"
            lines.append({"prompt": first, "completions": [item.outputs[0]]})
            lines.append({"prompt": f"{first}{item.outputs[0]} \n{second}", "completions": [item.outputs[1]]})
        else:
            lines.append({"prompt": f"Q: {item.question}\nA: {trigger}", "completions": [item.outputs[0]]})
    return lines


@dataclass(frozen=True)
class Cell:
    dataset: str
    method: str
    n: int
    kojima: int
    default: int
    paper: int
    only_kojima: tuple[tuple[str, str | None, str | None, str], ...]
    """(answer output, kojima's, default's, gold) where Kojima's parser scores and the default does not."""


def run_cell(root: Path, dataset: str, method: str, work: Path) -> Cell:
    log_name, data_file = DATASETS[dataset]
    prompts = read_definition(dataset).prompts
    cot = method == "zero_shot_cot"
    logged = read_log(root / "log" / f"{log_name}_{METHODS[method]}.log", prompts)
    replay = work / f"{dataset}_{method}.replay.jsonl"
    replay.write_text("".join(json.dumps(r) + "\n" for r in recording(logged, prompts, cot)), encoding="utf-8")
    if data_file is None:
        data = work / f"{dataset}_{method}.asked.jsonl"
        data.write_text("".join(json.dumps({"question": x.question, "answer": x.gold}) + "\n" for x in logged))
    else:
        data = root / "dataset" / data_file
    task = load_task(dataset, data)
    scored = {}
    for extractor in ("kojima", "default"):
        built = build_method(task, method, extractor=extractor)
        with ReplayEngine(replay) as engine:
            result = evaluate(task, built.pipeline, engine, built.extractor, method=method)
        right = [built.extractor.score(s.fields.get("prediction"), s.example.target) for s in result.states]
        scored[extractor] = (result, right)
    (kojima, k_right), (default, d_right) = scored["kojima"], scored["default"]
    only = tuple(
        (str(a.fields.get("answer")), a.fields.get("prediction"), b.fields.get("prediction"), a.example.target or "")
        for a, b, ka, da in zip(kojima.states, default.states, k_right, d_right)
        if ka and not da
    )
    paper = PAPER[dataset][0 if method == "direct" else 1]
    return Cell(dataset, method, len(task.examples), kojima.summary.correct, default.summary.correct, paper, only)


def table(cells: list[Cell]) -> str:
    by = {(c.dataset, c.method): c for c in cells}
    lines = [
        "| dataset | n | zero-shot | zero-shot-CoT | paper (zero-shot / CoT) | equal | default extractor (zero-shot / CoT) |",
        "|---|---|---|---|---|---|---|",
    ]
    for dataset in DATASETS:
        d, c = by[(dataset, "direct")], by[(dataset, "zero_shot_cot")]
        equal = "yes" if (d.kojima, c.kojima) == (d.paper, c.paper) else "NO"
        lines.append(
            f"| {dataset} | {d.n} | {d.kojima} ({d.kojima / d.n:.1%}) | {c.kojima} ({c.kojima / c.n:.1%}) | "
            f"{d.paper} / {c.paper} | {equal} | {d.default} / {c.default} |"
        )
    equal_cells = sum(c.kojima == c.paper for c in cells)
    lines.append(f"\n{equal_cells} of {len(cells)} cells equal the paper's counts")
    return "\n".join(lines)


def differences(cells: list[Cell], show: int = 3) -> str:
    """Where Kojima's parser scores an example and the default extractor does not: a few of each cell."""
    out = []
    for c in cells:
        if not c.only_kojima:
            continue
        out.append(f"{c.dataset} {c.method}: {len(c.only_kojima)} scored by Kojima's parser only")
        for answer, k, d, gold in c.only_kojima[:show]:
            out.append(f"    output {answer[:90]!r} -> kojima {k!r}, default {d!r}, gold {gold!r}")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="Kojima et al.'s folder: dataset/ and log/")
    parser.add_argument("--show", type=int, default=3, help="examples shown per cell where the extractors differ")
    args = parser.parse_args(argv)
    root = Path(args.data)
    with tempfile.TemporaryDirectory() as tmp:
        cells = [run_cell(root, d, m, Path(tmp)) for d in DATASETS for m in METHODS]
    print(table(cells))
    print()
    print(differences(cells, args.show))
    return 0 if all(c.kojima == c.paper for c in cells) else 1


if __name__ == "__main__":
    sys.exit(main())
