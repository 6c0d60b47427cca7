"""Spec mistakes: one clear message naming the culprit, exit 2, no traceback."""

from __future__ import annotations

import subprocess
import sys

import pytest

BASE = "task: {name: last_letters, limit: 1}\nengine: {kind: hf, model: MODEL}\n"


def _run(tmp_path, text, *extra):
    spec = tmp_path / "spec.yaml"
    spec.write_text(text)
    return spec, subprocess.run(
        [
            sys.executable,
            "-m",
            "promptkit",
            "run",
            str(spec),
            "--no-cache",
            "--out",
            str(tmp_path / "out"),
            "--quiet",
            *extra,
        ],
        capture_output=True,
        text=True,
    )


def _error_line(result) -> str:
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("promptkit: error: ")
    return lines[0]


def test_unknown_field_names_its_dotted_path(tmp_path):
    text = (
        BASE
        + "pipeline:\n  - {kind: generate, template: few_shot}\n  - {kind: generate, template: few_shot, max_tokns: 5}\n"
    )
    spec, result = _run(tmp_path, text)
    line = _error_line(result)
    assert f"{spec}: pipeline.1.max_tokns: unknown field" in line


def test_unknown_method_field_names_its_path(tmp_path):
    _, result = _run(tmp_path, BASE + "method: {name: few_shot, shotz: 3}\n")
    assert "method.shotz: unknown field" in _error_line(result)


def test_yaml_syntax_error_names_file_and_line(tmp_path):
    spec, result = _run(tmp_path, BASE + "method:\n  name: [direct\n")
    line = _error_line(result)
    assert f"{spec}:" in line and "YAML syntax error" in line
    assert line.split(f"{spec}:")[1].split(":")[0] in ("4", "5")


def test_unknown_stage_kind_lists_the_known_ones(tmp_path):
    _, result = _run(tmp_path, BASE + "pipeline:\n  - {kind: generat}\n")
    line = _error_line(result)
    assert "pipeline.0: unknown kind 'generat'" in line
    for kind in ("select_demos", "pack", "generate", "extract", "decompose", "solve", "vote"):
        assert kind in line


def test_undefined_template_variable_names_variable_and_template(tmp_path, tiny_model):
    template = tmp_path / "t.j2"
    template.write_text("Q: {{ questoin }}\nA:")
    text = BASE.replace("MODEL", str(tiny_model)) + f"pipeline:\n  - {{kind: generate, template: {template}}}\n"
    _, result = _run(tmp_path, text + "  - {kind: extract}\n")
    line = _error_line(result)
    assert "reads 'questoin'" in line and str(template) in line and "pipeline.0" in line


def test_templates_cannot_reach_python_internals(tmp_path, tiny_model):
    template = tmp_path / "evil.j2"
    template.write_text("{{ question.__class__.__mro__[1].__subclasses__() }}")
    text = BASE.replace("MODEL", str(tiny_model)) + f"pipeline:\n  - {{kind: generate, template: {template}}}\n"
    _, result = _run(tmp_path, text + "  - {kind: extract}\n")
    line = _error_line(result)
    assert str(template) in line


def test_method_and_pipeline_together_is_an_error(tmp_path):
    _, result = _run(tmp_path, BASE + "method: {name: direct}\npipeline: []\n")
    assert "give exactly one of 'method' or 'pipeline'" in _error_line(result)


def test_bad_set_value_names_the_key(tmp_path):
    _, result = _run(tmp_path, BASE + "method: {name: direct}\n", "--set", "method.samples=many")
    assert "method.samples" in _error_line(result)


@pytest.mark.parametrize("missing", ["nope.yaml"])
def test_missing_spec_file(tmp_path, missing):
    result = subprocess.run(
        [sys.executable, "-m", "promptkit", "run", str(tmp_path / missing)], capture_output=True, text=True
    )
    assert f"spec file {tmp_path / missing}: not found" in _error_line(result)


def test_paths_in_a_spec_are_taken_from_its_folder(tmp_path, monkeypatch):
    from promptkit.runspec.load import load_spec

    folder = tmp_path / "specs"
    folder.mkdir()
    (folder / "mine.j2").write_text("Q: {{ question }}\nA:")
    (folder / "spec.yaml").write_text(
        "task: {name: gsm8k, data: data/g.jsonl}\nengine: {kind: replay, path: r.jsonl}\n"
        "pipeline:\n  - {kind: generate, template: mine.j2}\n  - {kind: generate, template: few_shot_cot.j2, name: b}\n"
        "  - {kind: extract}\n"
    )
    monkeypatch.chdir(tmp_path)  # elsewhere: the paths still mean the spec's neighbours
    spec = load_spec(folder / "spec.yaml")
    assert spec.task.data == str(folder / "data" / "g.jsonl") and spec.engine.path == str(folder / "r.jsonl")
    assert spec.pipeline[0].template == str(folder / "mine.j2")
    assert spec.pipeline[1].template == "few_shot_cot.j2", "a shipped template's name stays a name"
