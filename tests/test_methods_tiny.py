"""Every method runs end to end on both tasks on a tiny local model through the hf engine."""

from __future__ import annotations

import json

import pytest

from promptkit.cli import main
from promptkit.runspec.methods import METHODS


@pytest.fixture(scope="module")
def data_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("data")
    gsm8k = folder / "gsm8k.jsonl"
    rows = [
        {
            "question": "Janet has 3 apples and buys 4 more. How many apples does she have?",
            "answer": "3 + 4 = 7\n#### 7",
        },
        {"question": "A box holds 12 eggs. How many eggs are in 2 boxes?", "answer": "12 * 2 = 24\n#### 24"},
    ]
    gsm8k.write_text("".join(json.dumps(r) + "\n" for r in rows))
    letters = folder / "ll.json"
    main(["make-last-letters", "--words", "3", "--count", "2", "--out", str(letters)])
    return {"gsm8k": gsm8k, "last_letters": letters}


@pytest.mark.parametrize("task", ["gsm8k", "last_letters"])
# lm_eval runs lm-eval's tasks alone: tests/test_lm_eval_tasks.py, and its spec in tests/test_specs.py.
@pytest.mark.parametrize(
    "method", [m for m in METHODS.names() if not (METHODS.get(m).scores or METHODS.get(m).lm_eval_only)]
)
def test_method_runs_end_to_end(tiny_model, data_files, tmp_path, task, method):
    out = tmp_path / "run"
    args = ["eval", "--task", task, "--method", method, "--engine", "hf", "--model", str(tiny_model),
            "--data", str(data_files[task]), "--out", str(out), "--no-cache", "--quiet", "--samples", "3"]  # fmt: skip
    if "shots" in METHODS.get(method).takes:  # methods with demonstrations (a method refuses what it does not take)
        args += ["--shots", "2"]
    if method == "auto_cot":  # the questions it clusters: the data file itself
        args += ["--pool", str(data_files[task])]
    assert main(args) == 0
    summary = json.loads((out / "summary.json").read_text())
    rows = [json.loads(x) for x in (out / "predictions.jsonl").open()]
    assert summary["n"] == 2 and len(rows) == 2
    for row in rows:
        stages = [t["stage"] for t in row["trace"]]
        assert stages, "the trace shows each call"
        assert all(t["prompt"] and "completion" in t for t in row["trace"])
        if method in ("few_shot", "few_shot_cot", "self_consistency"):
            assert len(row["demos"]) == row["demos_packed"] == 2
        if method == "self_consistency":
            assert len(row["trace"][0]["completion"]) == 3 and "agreement" in row
        if method == "least_to_most":
            assert stages[0] == "decompose" and set(stages[1:]) == {"solve"}
    expected_calls = {"direct": 1, "zero_shot_cot": 2, "few_shot": 1, "few_shot_cot": 1, "self_consistency": 1,
                      "plan_and_solve": 2, "plan_and_solve_plus": 2}  # fmt: skip
    if method in expected_calls:
        assert summary["engine_calls"] == expected_calls[method]
    elif method == "auto_cot":
        assert summary["engine_calls"] >= 1 + 2, "a zero-shot-CoT round (two calls), then the few-shot call"
    else:
        longest = max(len(r["subquestions"]) for r in rows)
        assert summary["engine_calls"] == 1 + longest
