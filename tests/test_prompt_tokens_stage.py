"""A stage that records a field and a metric: the field reaches predictions.jsonl and the viewer, the metric
summary.json, the viewer and the report, with nothing else changed to carry them."""

from __future__ import annotations

import json

import pytest

from promptkit import ScriptedEngine, evaluate
from promptkit.runs.build import build
from promptkit.runs.records import read_summary
from promptkit.runs.report import write_report
from promptkit.runs.view import load_run
from promptkit.runspec.files import validate
from promptkit.runspec.models import PipelineSpec
from promptkit.tasks import load_task


class _Words:
    """A tokenizer whose tokens are the prompt's words."""

    context_window = 1000

    def encode(self, prompt):
        return list(range(len(str(prompt).split())))


class _CountingScript(ScriptedEngine):
    tokens = _Words()


@pytest.fixture
def run_folder(tmp_path):
    data = tmp_path / "g.jsonl"
    data.write_text(
        json.dumps({"question": "how many?", "answer": "#### 3"}) + "\n"
        + json.dumps({"question": "how many apples are left?", "answer": "#### 4"}) + "\n"
    )  # fmt: skip
    (tmp_path / "ask.j2").write_text("Q: {{ question }}\nA:")
    spec = validate(
        {
            "task": {"name": "gsm8k", "data": str(data)},
            "pipeline": [
                {"kind": "prompt_tokens", "template": str(tmp_path / "ask.j2")},
                {"kind": "generate", "template": str(tmp_path / "ask.j2")},
                {"kind": "extract"},
            ],
        },
        "test",
        PipelineSpec,
    )
    built = build(spec, load_task("gsm8k", str(data)))
    out = tmp_path / "run"
    evaluate(built.task, built.pipeline, _CountingScript(lambda p: " 3"), built.extractor, method="t", out_dir=out)
    return out


def test_the_count_is_in_each_prediction_row_and_its_mean_in_the_summary(run_folder):
    rows = [json.loads(line) for line in (run_folder / "predictions.jsonl").read_text().splitlines()]
    assert [r["prompt_token_count"] for r in rows] == [4, 7]  # "Q: how many?\nA:" is 4 words, the other 7
    assert read_summary(run_folder / "summary.json").metrics.get("prompt_tokens_mean") == 5.5


def test_the_viewer_and_the_report_show_them(run_folder, tmp_path):
    run = load_run(run_folder)
    assert ["prompt_tokens_mean", "5.5"] in run["metrics"]
    assert run["examples"][1]["facts"] == ["prompt tokens: 7"]
    report = write_report([run_folder], tmp_path / "report").read_text()
    assert "| prompt tokens |" in report and "| 5.5 |" in report


def test_an_engine_that_cannot_count_records_nothing(tmp_path):
    data = tmp_path / "g.jsonl"
    data.write_text(json.dumps({"question": "how many?", "answer": "#### 3"}) + "\n")
    spec = validate(
        {"task": {"name": "gsm8k", "data": str(data)},
         "pipeline": [{"kind": "prompt_tokens", "template": "direct"}, {"kind": "generate", "template": "direct"},
                      {"kind": "extract"}]},
        "test", PipelineSpec,
    )  # fmt: skip
    built = build(spec, load_task("gsm8k", str(data)))
    result = evaluate(built.task, built.pipeline, ScriptedEngine(lambda p: " 3"), built.extractor, method="t")
    assert "prompt_token_count" not in result.rows[0] and "prompt_tokens_mean" not in result.summary.metrics
