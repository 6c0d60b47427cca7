"""The prompts every shipped spec and every CLI method sends, for two real examples, stay as reviewed.

Regenerate with PROMPTKIT_UPDATE_GOLDEN=1 after a deliberate change, and say why in the commit.
"""

from __future__ import annotations

import contextlib
import io
import os
from pathlib import Path

import pytest

from evals.kojima_table1 import DATASETS
from promptkit.cli import main
from promptkit.runspec.methods import METHODS
from promptkit.tasks import shipped_names

pytestmark = pytest.mark.reproduction

ROOT = Path(__file__).resolve().parents[1]
GOLDEN = Path(__file__).parent / "golden" / "renders"
SPECS = sorted((ROOT / "evals" / "specs").glob("*.yaml"))
ZHAO_TASKS = ("sst2", "agnews", "trec", "cb", "rte")
ZHAO_FLAGS = ["--shots", "4", "--selection-seed", "1", "--calibrate", "content_free"]
CASES = (
    [(p.stem, [str(p)]) for p in SPECS]
    + [
        (f"cli_{task}_{method}", ["--task", task, "--method", method])
        for task in ("gsm8k", "last_letters")
        for method in METHODS
        # those score a choice task's labels: aqua's below; lm_eval runs lm-eval's tasks: its gsm8k below
        if not (METHODS.get(method).scores or METHODS.get(method).lm_eval_only)
    ]
    + [("cli_lm_eval_gsm8k_lm_eval", ["--task", "lm-eval:gsm8k", "--method", "lm_eval"])]
    + [
        (f"cli_aqua_{m}", ["--task", "aqua", "--method", m])
        for m in METHODS
        if METHODS.get(m).scores and m != "classify"
    ]
    + [  # every other shipped task: Kojima et al.'s two formats, over the first two records of its file
        (f"cli_{task}_{method}", ["--task", task, "--method", method])
        for task in shipped_names()
        if task not in ("gsm8k", "last_letters", *ZHAO_TASKS)
        for method in ("direct", "zero_shot_cot")
    ]
    + [  # Zhao et al.'s five: 4 shots drawn with seed 1, calibrated (the content-free prompts too)
        (f"cli_{task}_classify", ["--task", task, "--method", "classify", *ZHAO_FLAGS]) for task in ZHAO_TASKS
    ]
)
# The original files of the other ten tasks (date understanding's, not the log's: our own shuffle).
KOJIMA_FILES = {
    **{name: file for name, (_, file) in DATASETS.items() if file},
    "date_understanding": "Bigbench_Date/task.json",
}


def _data(shared_data: Path, name: str) -> Path:
    if name.endswith("_lm_eval"):  # lm-eval's gsm8k: its test split, demonstrations from its train split
        return shared_data / "gsm8k"
    zhao = next((t for t in ZHAO_TASKS if name in (f"cli_{t}_classify", f"{t}_classify")), None)  # flags, spec
    if zhao:
        return shared_data / "zhao" / zhao
    task = next((t for t in KOJIMA_FILES if name.startswith(f"cli_{t}_") and t not in ("gsm8k", "last_letters")), None)
    if task:
        return shared_data / "kojima" / "dataset" / KOJIMA_FILES[task]
    gsm8k = "gsm8k" in name
    return shared_data / ("gsm8k/test.jsonl" if gsm8k else "last_letters/last_letters.json")


@pytest.mark.parametrize("name, args", CASES, ids=[c[0] for c in CASES])
def test_render_matches_golden(name, args, shared_data):
    out = io.StringIO()
    train = str(shared_data / "gsm8k" / "train.jsonl")
    aqua = str(shared_data / "kojima" / "dataset" / "AQuA" / "test.json")
    pool = {
        "cli_gsm8k_auto_cot": ["--pool", train],
        "gsm8k_auto_cot": ["--set", f"method.pool={train}"],
        "cli_aqua_few_shot_choice": ["--pool", aqua, "--shots", "2"],
    }.get(name, [])
    with contextlib.redirect_stdout(out):
        assert main(["render", *args, *pool, "--data", str(_data(shared_data, name)), "--limit", "2", "--json"]) == 0
    path = GOLDEN / f"{name}.jsonl"
    if os.environ.get("PROMPTKIT_UPDATE_GOLDEN"):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(out.getvalue(), encoding="utf-8")
    assert out.getvalue() == path.read_text(encoding="utf-8")
