"""Spread over repeats: --seeds N demonstration draws and --orders K orders, mean/std/min/max per configuration
in spread.json, the sweep table, the viewer and the report."""

from __future__ import annotations

import base64
import gzip
import json
import re
from pathlib import Path

import pytest
from helpers import run_method

from promptkit import ScriptedEngine, load_task
from promptkit.cli import main
from promptkit.engines.model_files import BUILTIN_MODEL
from promptkit.errors import PromptkitError
from promptkit.runs import report
from promptkit.runs.records import SweepRecord, read_record
from promptkit.runs.spread import repeat_specs
from promptkit.runspec.files import validate

TOPICS = """name: topics
example: {question: "{{ text }}", answer: "{{ label }}"}
answer: {type: choice, labels: [World, Tech]}
prompts:
  answer_prefix: "A:"
  classification: {q_prefix: "Article: ", a_prefix: "Answer: "}
"""


def _spec(method: dict) -> object:
    return validate({"task": {"name": "gsm8k"}, "engine": {"kind": "hf", "model": "m"}, "method": method}, "test")


def test_each_repeat_changes_its_seeds_and_nothing_else():
    spec = _spec({"name": "classify", "shots": 4, "calibrate": "content_free"})
    named = repeat_specs(spec, 2, 3)
    assert [name for name, _ in named] == [f"seed-{s}-order-{o}" for s in range(2) for o in range(3)]
    methods = [s.method for _, s in named]
    assert [(m.selection_seed, m.order_seed, m.order) for m in methods[:3]] == [(0, o, "random") for o in range(3)]
    assert {(m.shots, m.calibrate) for m in methods} == {(4, "content_free")}
    assert [s.method.selection_seed for _, s in repeat_specs(spec, 3, None)] == [0, 1, 2]
    sampled = repeat_specs(_spec({"name": "zero_shot_cot", "temperature": 0.7}), 2, None)
    assert [s.method.seed for _, s in sampled] == [0, 1], "no demonstrations: the sampling seed"


@pytest.mark.parametrize(
    ("method", "seeds", "orders", "message"),
    [
        ({"name": "few_shot", "shots": 2}, 3, None, "takes a fixed set|neither draws demonstrations"),
        ({"name": "direct"}, 2, None, "every seed would give the same run"),
        ({"name": "direct"}, None, 2, "--orders needs demonstrations to order"),
        ({"name": "classify"}, 1, None, "--seeds must be >= 2, got 1"),
        ({"name": "classify"}, None, 0, "--orders must be >= 2, got 0"),
    ],
)
def test_repeats_that_would_change_nothing_are_refused(method, seeds, orders, message):
    with pytest.raises(PromptkitError, match=message):
        repeat_specs(_spec(method), seeds, orders)


def test_a_shared_draw_is_permuted_once_for_every_question(tmp_path):
    (tmp_path / "topics.yaml").write_text(TOPICS)
    rows = [{"text": f"item {i}", "label": "World" if i % 2 else "Tech"} for i in range(12)]
    (tmp_path / "topics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    task = load_task(str(tmp_path / "topics.yaml"), tmp_path / "topics.jsonl").limit(5)
    pool = str(tmp_path / "topics.jsonl")
    orders = []
    for k in range(4):
        result = run_method(task, "classify", ScriptedEngine(scorer=lambda c, w: -1.0), shots=4, pool=pool,
                            order="random", order_seed=k)  # fmt: skip
        ids = [[d["id"] for d in s.fields["demos"]] for s in result.states]
        assert ids == [ids[0]] * 5, "one order, shared by every question"
        orders.append(ids[0])
    assert len({tuple(sorted(o)) for o in orders}) == 1, "the same four demonstrations"
    assert len({tuple(o) for o in orders}) > 1, "in different orders"


def _view_data(path: Path) -> dict:
    blob = re.search(r'<script id="data" type="application/octet-stream">([^<]+)</script>', path.read_text())
    assert blob is not None
    return json.loads(gzip.decompress(base64.b64decode(blob.group(1))))


def test_sweep_over_shots_with_seeds_on_the_real_model(smollm2, shared_data, tmp_path, capsys, monkeypatch):
    """SST-2, 8 sentences, 0 and 2 shots x 2 seeds, calibrated: the table gives mean ± std over the seeds of
    both accuracies, each point's folder its spread and a page, and the report a box per shot count."""
    spec = tmp_path / "sst2.yaml"
    spec.write_text(json.dumps({
        "task": {"name": "sst2", "data": str(shared_data / "zhao" / "sst2")},
        "engine": {"kind": "hf", "model": BUILTIN_MODEL, "device": "cpu"},
        "method": {"name": "classify", "calibrate": "content_free"},
    }))  # fmt: skip
    out, cache = tmp_path / "shots", str(tmp_path / "c.sqlite")
    args = ["sweep", str(spec), "--set", "method.shots=0,2", "--seeds", "2", "--limit", "8", "--quiet"]
    assert main([*args, "--out", str(out), "--cache", cache, "--allow-path", str(shared_data)]) == 0
    table = capsys.readouterr().out
    assert "| method.shots | accuracy mean ± std | min | max | runs | n | acc_uncalibrated |" in table
    points = json.loads((out / "sweep.json").read_text())["points"]
    assert [p["values"]["method.shots"] for p in points] == [0, 2]
    zero, two = (p["spread"] for p in points)
    assert zero["std"] == 0 and zero["metrics"]["acc_uncalibrated"]["std"] == 0, "zero shots draw nothing"
    assert two["runs"] == ["seed-0", "seed-1"] and two["seeds"] == 2 and len(two["accuracy"]) == 2
    assert two["mean"] == pytest.approx(sum(two["accuracy"]) / 2)
    for point in points:
        folder = out / point["run"]
        assert json.loads((folder / "spread.json").read_text()) == point["spread"]
        facts = dict(_view_data(folder / "view.html")["spread"])
        assert facts["runs"] == "2 seeds" and facts["accuracy"].startswith(f"{100 * point['spread']['mean']:.1f}% ±")
        assert "acc_uncalibrated" in facts
    prompts = [json.loads((out / "method.shots=2" / s / "predictions.jsonl").read_text().splitlines()[0])
               for s in ("seed-0", "seed-1")]  # fmt: skip
    assert prompts[0]["demos"] != prompts[1]["demos"], "each seed its own draw"
    assert main(["report", str(out), "--out", str(tmp_path / "report")]) == 0
    text = (tmp_path / "report" / "report.md").read_text()
    assert "![sweep](sweep_0.png)" in text and (tmp_path / "report" / "sweep_0.png").read_bytes()[:4] == b"\x89PNG"
    assert "## Spread over seeds and orders" not in text, "a sweep's points are drawn with their sweep, once"
    import matplotlib.pyplot as plt

    drawn: list[list[str]] = []

    def legend(fig, path):
        drawn.append(fig.axes[0].get_legend_handles_labels()[1])
        plt.close(fig)

    monkeypatch.setattr(report, "save_figure", legend)
    report.plot_sweep(read_record(out / "sweep.json", SweepRecord), "sst2", tmp_path / "sweep.png")
    assert drawn == [["accuracy", "acc_uncalibrated"]], "the accuracy before calibration drawn beside it"
