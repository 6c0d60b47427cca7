"""The format stage: a template rendered into a field, no model call; later stages read the field."""

from __future__ import annotations

import json

import pytest

from promptkit.cli import main
from promptkit.errors import PromptkitError
from promptkit.runs.build import build
from promptkit.runspec.files import validate
from promptkit.runspec.models import PipelineSpec
from promptkit.tasks import load_task


def _pipeline(tmp_path, data):
    (tmp_path / "shout.j2").write_text("{{ question | upper }}")
    (tmp_path / "ask.j2").write_text("Q: {{ loud }}\nA:")
    return {
        "task": {"name": "gsm8k", "data": str(data)},
        "pipeline": [
            {"kind": "format", "template": str(tmp_path / "shout.j2"), "output": "loud"},
            {"kind": "generate", "template": str(tmp_path / "ask.j2")},
            {"kind": "extract"},
        ],
    }


@pytest.fixture
def data(tmp_path):
    path = tmp_path / "g.jsonl"
    path.write_text(json.dumps({"question": "how many?", "answer": "#### 3"}) + "\n")
    return path


def test_a_formatted_field_feeds_the_next_prompt(tmp_path, data):
    from promptkit import ScriptedEngine

    spec = validate(_pipeline(tmp_path, data), "test", PipelineSpec)
    built = build(spec, load_task("gsm8k", str(data)))
    asked = []
    states = built.pipeline.run(built.task.examples, ScriptedEngine(lambda p: asked.append(p) or " 3"))
    assert asked == ["Q: HOW MANY?\nA:"]
    assert states[0].fields["loud"] == "HOW MANY?" and states[0].fields["prediction"] == "3"
    assert [r.stage for r in states[0].trace] == ["answer"], "formatting calls no model"


def test_a_later_stage_reading_an_unwritten_field_is_refused(tmp_path, data):
    pipeline = _pipeline(tmp_path, data)
    pipeline["pipeline"][0]["output"] = "quiet"
    with pytest.raises(PromptkitError, match="reads 'loud'"):
        build(validate(pipeline, "test", PipelineSpec), load_task("gsm8k", str(data)))


def test_its_template_path_obeys_the_spec_read_policy(tmp_path, data, capsys):
    """A spec's format template outside its folder is refused, as any stage's template is."""
    folder = tmp_path / "spec"
    folder.mkdir()
    (folder / "r.jsonl").write_text(json.dumps({"prompt": "x", "completions": [" 3"]}) + "\n")
    (folder / "g.jsonl").write_text(data.read_text())
    (tmp_path / "x.j2").write_text("{{ question }}")
    spec = folder / "s.yaml"
    spec.write_text("task: {name: gsm8k, data: g.jsonl}\nengine: {kind: replay, path: r.jsonl}\n"
                    "pipeline:\n  - {kind: format, template: ../x.j2, output: loud}\n"
                    "  - {kind: generate, template: direct}\n  - {kind: extract}\n")  # fmt: skip
    assert main(["run", str(spec), "--quiet"]) == 2
    assert "pipeline.0.template" in capsys.readouterr().err
