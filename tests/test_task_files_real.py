"""A shipped multiple-choice task on the real small model, through hf (the command line) and vLLM."""

from __future__ import annotations

import json

from helpers import run_method

from promptkit.cli import main
from promptkit.tasks import load_task

LABELS = {"A", "B", "C", "D", "E"}


def _aqua(shared_data):
    return shared_data / "kojima" / "dataset" / "AQuA" / "test.json"


def test_aqua_zero_shot_cot_on_smollm2_through_hf(smollm2, shared_data, tmp_path):
    out = tmp_path / "run"
    code = main(["eval", "--task", "aqua", "--method", "zero_shot_cot", "--data", str(_aqua(shared_data)),
                 "--limit", "10", "--out", str(out), "--cache", str(tmp_path / "c.sqlite"), "--quiet"])  # fmt: skip
    assert code == 0
    rows = [json.loads(line) for line in (out / "predictions.jsonl").open()]
    assert len(rows) == 10
    assert rows[0]["trace"][1]["prompt"].endswith(" \nTherefore, among A through E, the answer is")
    parsed = [r["prediction"] for r in rows if r["prediction"] is not None]
    assert set(parsed) <= LABELS and len(parsed) >= 5  # SmolLM2 mostly answers with a letter: '(D).'
    summary = json.loads((out / "summary.json").read_text())
    assert summary["correct"] == sum(r["prediction"] == r["gold"] for r in rows)


def test_aqua_zero_shot_cot_on_smollm2_through_vllm(vllm_engine, shared_data):
    task = load_task("aqua", _aqua(shared_data)).limit(10)
    result = run_method(task, "zero_shot_cot", vllm_engine)
    predictions = [s.fields.get("prediction") for s in result.states]
    parsed = [p for p in predictions if p is not None]
    assert len(predictions) == 10 and set(parsed) <= LABELS and len(parsed) >= 5
    assert result.summary.correct == sum(p == s.example.target for p, s in zip(predictions, result.states))
