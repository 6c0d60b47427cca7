from __future__ import annotations

import json
import subprocess
import sys

import pytest

from promptkit.cli import main

KOJIMA = [
    # task, method, recording, data, correct, n
    ("gsm8k", "direct", "gsm8k_zero_shot", "gsm8k/test.jsonl", 137, 1319),
    ("gsm8k", "zero_shot_cot", "gsm8k_zero_shot_cot", "gsm8k/test.jsonl", 537, 1319),
    ("last_letters", "direct", "last_letters_zero_shot", "last_letters/last_letters.json", 1, 500),
    ("last_letters", "zero_shot_cot", "last_letters_zero_shot_cot", "last_letters/last_letters.json", 288, 500),
]


@pytest.mark.parametrize("task, method, recording, data, correct, n", KOJIMA)
def test_replay_reproduces_published_text_davinci_002_accuracy(
    shared_data, tmp_path, task, method, recording, data, correct, n
):
    out = tmp_path / "run"
    code = main(
        ["eval", "--task", task, "--method", method, "--engine", "replay", "--quiet",
         "--replay", str(shared_data / "replay" / "kojima" / f"{recording}.replay.jsonl"),
         "--data", str(shared_data / data), "--extractor", "kojima", "--out", str(out)]
    )  # fmt: skip
    assert code == 0
    summary = json.loads((out / "summary.json").read_text())
    assert (summary["correct"], summary["n"]) == (correct, n)
    assert summary["engine_calls"] == (2 if method == "zero_shot_cot" else 1)
    rows = [json.loads(line) for line in (out / "predictions.jsonl").open()]
    assert len(rows) == n
    assert [s["stage"] for s in rows[0]["trace"]] == (["reason", "answer"] if method == "zero_shot_cot" else ["answer"])


def test_zero_shot_cot_on_the_tiny_model_makes_two_engine_calls(tiny_model, tmp_path):
    data = tmp_path / "ll.json"
    main(["make-last-letters", "--words", "3", "--count", "7", "--out", str(data)])
    out = tmp_path / "run"
    args = ["eval", "--task", "last_letters", "--method", "zero_shot_cot", "--engine", "hf", "--model", str(tiny_model),
            "--data", str(data), "--cache", str(tmp_path / "c.sqlite"), "--out", str(out), "--quiet"]  # fmt: skip
    assert main(args) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["n"] == 7 and summary["engine_calls"] == 2 and summary["requests"] == 14
    assert summary["cache_hits"] == 0 and summary["completion_tokens"] > 0
    for key in ("task", "method", "engine", "model", "correct", "accuracy", "prompt_tokens", "wall_seconds", "ci95"):
        assert key in summary
    row = json.loads((out / "predictions.jsonl").open().readline())
    assert set(row) >= {"id", "question", "gold", "prediction", "correct", "trace"}
    reason, answer = row["trace"]
    assert reason["prompt"] == f"Q: {row['question']}\nA: Let's think step by step."
    assert answer["prompt"] == reason["prompt"] + reason["completion"] + " \nTherefore, the answer is"
    first = [json.loads(x)["prediction"] for x in (out / "predictions.jsonl").open()]
    # The same run again is served from the cache, with the same predictions.
    assert main(args) == 0
    again = json.loads((out / "summary.json").read_text())
    assert again["cache_hits"] == 14 and again["cache_misses"] == 0
    assert [json.loads(x)["prediction"] for x in (out / "predictions.jsonl").open()] == first


def _run_cli(*args):
    return subprocess.run([sys.executable, "-m", "promptkit", *args], capture_output=True, text=True)


@pytest.mark.parametrize(
    "args, message",
    [
        (["--task", "gsm8", "--method", "direct"], "unknown task 'gsm8'; did you mean 'gsm8k'"),
        (["--task", "gsm8k", "--method", "zero_shot_cto"], "unknown method 'zero_shot_cto'; did you mean 'zero_shot_cot'"),
        (["--task", "gsm8k", "--method", "direct", "--engine", "vlm", "--data", "{data}"], "unknown engine 'vlm'; did you mean 'vllm'"),
        (["--task", "gsm8k", "--method", "direct", "--model", "m", "--data", "{missing}"], "--data {missing}: not found"),
        (["--task", "gsm8k", "--method", "direct", "--model", "m", "--data", "{bad}"], "{bad}:2: malformed JSON"),
        (["--task", "gsm8k", "--method", "direct", "--engine", "openai", "--data", "{data}"], "the openai engine needs --model"),
        (["--task", "gsm8k", "--method", "direct", "--engine", "replay", "--replay", "{rec}", "--data", "{data}"],
         "no recording for prompt 'Q: Janet has 3 apples.\\nA: The answer (arabic numerals) is'"),
    ],
)  # fmt: skip
def test_bad_input_is_one_line_exit_2_no_traceback(tmp_path, args, message):
    paths = {
        "data": tmp_path / "d.jsonl",
        "bad": tmp_path / "bad.jsonl",
        "missing": tmp_path / "missing.jsonl",
        "rec": tmp_path / "rec.jsonl",
    }
    paths["data"].write_text(json.dumps({"question": "Janet has 3 apples.", "answer": "#### 3"}) + "\n")
    paths["bad"].write_text(paths["data"].read_text() + "{nope\n")
    paths["rec"].write_text(
        json.dumps({"prompt": "Q: Janet has 4 apples.\nA: The answer is", "completions": [" 4"]}) + "\n"
    )
    fmt = {k: str(v) for k, v in paths.items()}
    result = _run_cli("eval", *[a.format(**fmt) for a in args], "--out", str(tmp_path / "out"), "--no-cache")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("promptkit: error: ")
    assert message.format(**fmt) in lines[0]
