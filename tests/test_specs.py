"""Every spec under evals/ runs on a tiny local model; the resolved spec alone reproduces the run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from promptkit.cli import main
from promptkit.runspec.load import load_spec

SPECS = sorted((Path(__file__).resolve().parents[1] / "evals" / "specs").glob("*.yaml"))
GSM8K_ROWS = [
    {"question": "Janet has 3 apples and buys 4 more. How many apples does she have?", "answer": "3 + 4 = 7\n#### 7"},
    {"question": "A box holds 12 eggs. How many eggs are in 2 boxes?", "answer": "12 * 2 = 24\n#### 24"},
]


@pytest.fixture(scope="module")
def gsm8k_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("data") / "gsm8k.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in GSM8K_ROWS))
    return path


def test_specs_cover_every_method_and_task():
    from promptkit.runspec.methods import METHODS

    names = {p.stem for p in SPECS}
    for task in ("gsm8k", "last_letters"):
        for method in METHODS.names():
            named = METHODS.get(method)
            if named.lm_eval_only:  # lm-eval's own gsm8k task (it has no last-letter task)
                assert task != "gsm8k" or f"{task}_{method}" in names
            elif not named.scores:  # scoring methods need a choice task (test_choice_scoring.py)
                assert f"{task}_{method}" in names


@pytest.mark.parametrize("spec", SPECS, ids=[p.stem for p in SPECS])
def test_spec_runs_on_the_tiny_model(spec, tiny_model, gsm8k_file, tmp_path, request):
    load_spec(spec)  # valid as shipped
    out = tmp_path / "run"
    args = ["run", str(spec), "--model", str(tiny_model), "--limit", "2", "--no-cache", "--out", str(out), "--quiet",
            "--set", "engine.dtype=float32"]  # fmt: skip
    data_path = gsm8k_file
    if "gsm8k" in spec.stem:
        args += ["--data", str(gsm8k_file)]
    if spec.stem.endswith("_classify"):  # Zhao et al.'s data is not on the hub in their format: the shared copy
        data_path = request.getfixturevalue("shared_data") / "zhao" / spec.stem.removesuffix("_classify")
        args += ["--data", str(data_path)]
    if spec.stem.endswith("lm_eval"):  # lm-eval's gsm8k draws 5 shots, from the other questions of the small file here
        args += ["--set", "method.shots=1"]
    if spec.stem.endswith("auto_cot"):  # questions to cluster: the small data file, two clusters
        pool = gsm8k_file if "gsm8k" in spec.stem else None
        args += ["--set", "method.shots=2"] + (["--set", f"method.pool={pool}"] if pool else [])
    assert main(args) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["n"] == 2 and summary["engine_calls"] >= 1
    resolved = out / "spec.resolved.yaml"
    data = yaml.safe_load(resolved.read_text())
    assert data["engine"]["model"] == str(tiny_model) and data["task"]["limit"] == 2
    assert data["engine"]["max_batch_size"] == 64, "defaults are written out"
    # The resolved spec alone gives the same predictions.
    again = tmp_path / "again"
    allow = ["--allow-path", str(data_path)]  # it names data outside its folder: the command line must allow it
    assert main(["run", str(resolved), "--no-cache", "--out", str(again), "--quiet", *allow]) == 0
    first = [json.loads(x)["prediction"] for x in (out / "predictions.jsonl").open()]
    assert [json.loads(x)["prediction"] for x in (again / "predictions.jsonl").open()] == first
