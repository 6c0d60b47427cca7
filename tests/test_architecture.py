"""The shape the layers promise: a spec is expanded once and checked whole by one call; the run record reads
what stages declare (and older records); moved names keep working, with a warning; no import circle."""

from __future__ import annotations

import json
import warnings

import pytest

import promptkit.runspec.load as load
from promptkit.cli import main
from promptkit.errors import PromptkitError
from promptkit.runs.build import build
from promptkit.runs.records import RunSummary
from promptkit.runspec.load import CheckedSpec, load_spec


@pytest.fixture
def expansions(monkeypatch):
    calls = []
    real = load.expand

    def counted(spec, task=None):
        calls.append(spec.label)
        return real(spec, task)

    monkeypatch.setattr(load, "expand", counted)
    return calls


def _spec_folder(tmp_path, data_line: str = "data: g.jsonl"):
    (tmp_path / "g.jsonl").write_text(json.dumps({"question": "how many?", "answer": "#### 3"}) + "\n")
    spec = tmp_path / "s.yaml"
    spec.write_text(f"task: {{name: gsm8k, {data_line}}}\nengine: {{kind: replay, path: r.jsonl}}\n"
                    "method: {name: few_shot_cot, shots: 2}\n")  # fmt: skip
    return spec


def test_a_loaded_spec_is_expanded_once_and_built_from_that_expansion(tmp_path, expansions):
    checked = load_spec(_spec_folder(tmp_path))
    assert isinstance(checked, CheckedSpec) and expansions == ["few_shot_cot"]
    built = build(checked)
    assert expansions == ["few_shot_cot"], "building a checked spec does not expand it again"
    kinds = [s.kind for s in built.spec.pipeline]
    assert built.spec == checked.resolved and kinds[0] == "select_demos" and kinds[-1] == "extract"
    assert "resolved" not in checked.model_dump(), "the expansion is no part of the spec as written"


def test_the_command_line_expands_a_spec_once(tmp_path, expansions, capsys):
    data = tmp_path / "g.jsonl"
    data.write_text(json.dumps({"question": "how many?", "answer": "#### 3"}) + "\n")
    assert main(["render", "--task", "gsm8k", "--data", str(data), "--method", "few_shot_cot", "--stages"]) == 0
    assert expansions == ["few_shot_cot"] and "kind: select_demos" in capsys.readouterr().out


def test_the_one_call_checks_what_a_spec_may_read(tmp_path):
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "x.jsonl").write_text(json.dumps({"question": "q", "answer": "#### 1"}) + "\n")
    folder = tmp_path / "spec"
    folder.mkdir()
    spec = _spec_folder(folder, "data: ../elsewhere/x.jsonl")
    with pytest.raises(PromptkitError, match=r"task\.data: .* is outside the spec.s folder"):
        load_spec(spec)
    assert load_spec(spec, allow=[outside]).task.data.endswith("elsewhere/x.jsonl")


def test_an_older_summary_with_its_metrics_at_the_top_reads_into_metrics():
    old = {"task": "t", "method": "m", "n": 2, "accuracy": 0.5, "ci95": [0.1, 0.9], "engine_calls": 1,
           "prompt_tokens": 3, "completion_tokens": 4, "wall_seconds": 1.0, "acc_norm": 0.25,
           "maj_at_k": {"1": 0.5, "2": 0.5}, "demos_used_mean": 2.0}  # fmt: skip
    summary = RunSummary.model_validate(old)
    assert summary.metrics.present() == {"acc_norm": 0.25, "maj_at_k": {"1": 0.5, "2": 0.5}, "demos_used_mean": 2.0}
    assert "acc_norm" not in json.loads(summary.to_json()) and json.loads(summary.to_json())["metrics"]["acc_norm"]
    with pytest.warns(DeprecationWarning, match="RunSummary.acc_norm is deprecated"):
        assert summary.acc_norm == 0.25


def test_a_metric_out_of_range_is_refused_by_name():
    bad = {"task": "t", "method": "m", "n": 1, "accuracy": 0.5, "ci95": [0, 1], "engine_calls": 1,
           "prompt_tokens": 1, "completion_tokens": 1, "wall_seconds": 1.0, "metrics": {"maj_at_k": {"1": 2.0}}}  # fmt: skip
    with pytest.raises(ValueError, match=r"metrics\.maj_at_k"):
        RunSummary.model_validate(bad)


def test_moved_names_warn_and_still_work():
    import promptkit
    from promptkit.runspec.methods import METHODS

    with pytest.warns(DeprecationWarning, match="promptkit.PRESETS is deprecated"):
        assert promptkit.PRESETS is METHODS
    import sys

    sys.modules.pop("promptkit.spec", None)
    sys.modules.pop("promptkit.spec.presets", None)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        from promptkit.spec import RunSpec
        from promptkit.spec.presets import PRESETS
    assert RunSpec is promptkit.RunSpec and PRESETS is METHODS
    assert any("promptkit.spec is deprecated" in str(w.message) for w in caught)


def test_the_package_has_no_import_circle():
    import grimp

    graph = grimp.build_graph("promptkit")
    modules = sorted(m for m in graph.modules if m != "promptkit" and not m.startswith("promptkit.spec."))
    circles = []
    for module in modules:
        for imported in graph.find_modules_directly_imported_by(module):
            if imported != module and graph.chain_exists(importer=imported, imported=module):
                circles.append((module, imported))
    assert not circles, f"modules importing each other, directly or through others: {circles[:5]}"


def test_an_order_study_orders_a_written_out_pipeline_by_what_its_stages_declare():
    """The runs layer names no stage kind: which stages take an order is their kind's declaration."""
    from promptkit.runs.spread import repeat_specs
    from promptkit.runspec.files import validate

    spec = validate(
        {"task": {"name": "gsm8k"}, "engine": {"kind": "replay", "path": "r.jsonl"},
         "pipeline": [{"kind": "select_demos", "k": 4}, {"kind": "generate", "template": "direct"}, {"kind": "extract"}]},
        "test",
    )  # fmt: skip
    ordered = repeat_specs(spec, None, 4)[3][1]
    assert (ordered.pipeline[0].order, ordered.pipeline[0].order_seed) == ("random", 3)
    with pytest.raises(PromptkitError, match="takes a fixed set"):
        repeat_specs(spec, 2, None)
    with pytest.raises(PromptkitError, match="pipeline has 4 demonstrations, which have only 24 orders"):
        repeat_specs(spec, None, 25)
    no_demos = spec.model_dump(exclude_none=True)
    no_demos["pipeline"] = no_demos["pipeline"][1:]
    with pytest.raises(PromptkitError, match="no stage that selects them"):
        repeat_specs(validate(no_demos, "test"), None, 2)
