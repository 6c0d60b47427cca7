"""Engine flags the chosen engine does not take are refused by name, never dropped; the replay engine's
model name reaches the summary."""

from __future__ import annotations

import json

import pytest

from promptkit.cli import main
from promptkit.runs.render import render
from promptkit.runspec.files import validate
from promptkit.runspec.models import PipelineSpec


@pytest.fixture
def data(tmp_path):
    path = tmp_path / "g.jsonl"
    path.write_text(json.dumps({"question": "how many?", "answer": "#### 3"}) + "\n")
    return path


@pytest.fixture
def recording(tmp_path, data):
    spec = validate({"task": {"name": "gsm8k", "data": str(data)}, "method": {"name": "direct"}}, "t", PipelineSpec)
    (prompt,) = render(spec)
    path = tmp_path / "rec.jsonl"
    path.write_text(json.dumps({"prompt": prompt.prompt, "completions": [" 3"]}) + "\n")
    return path


@pytest.mark.parametrize(
    ("engine", "flags", "named"),
    [
        (["--engine", "vllm"], ["--device", "cpu", "--max-batch-tokens", "64"], "--device: the vllm engine"),
        (["--engine", "openai", "--model", "m"], ["--dtype", "float16"], "--dtype: the openai engine"),
        (["--engine", "openai", "--model", "m"], ["--device", "cuda"], "--device: the openai engine"),
        (["--engine", "hf"], ["--concurrency", "4"], "--concurrency: the hf engine"),
        (["--engine", "replay"], ["--max-retries", "2"], "--max-retries: the replay engine"),
    ],
)
def test_a_flag_the_engine_does_not_take_is_one_line_exit_2_nothing_written(
    tmp_path, data, recording, capsys, engine, flags, named
):
    replay = ["--replay", str(recording)] if "replay" in engine else []
    out = tmp_path / "out"
    argv = ["eval", "--task", "gsm8k", "--data", str(data), "--method", "direct", *engine, *replay, *flags]
    assert main([*argv, "--out", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert named in err and "does not take it" in err and "\n" not in err
    assert not out.exists()


def test_the_replay_engines_model_reaches_the_summary(tmp_path, data, recording):
    out = tmp_path / "out"
    argv = ["eval", "--task", "gsm8k", "--data", str(data), "--method", "direct", "--engine", "replay"]
    assert main([*argv, "--replay", str(recording), "--model", "text-davinci-002", "--out", str(out), "--quiet"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert (summary["engine"], summary["model"], summary["accuracy"]) == ("replay", "text-davinci-002", 1.0)
