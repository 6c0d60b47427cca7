"""`promptkit record`: a run folder as a replay recording, which serves the run again without the model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from promptkit.cli import main
from promptkit.errors import PromptkitError
from promptkit.runs.recording import recording_of


def _run(tmp_path: Path, out: str, *argv: str) -> Path:
    folder = tmp_path / out
    assert main(["eval", "--task", "last_letters", "--limit", "6", "--out", str(folder), "--no-cache", "--quiet",
                 *argv]) == 0  # fmt: skip
    return folder


def _rows(folder: Path) -> list[tuple[str, str, bool]]:
    return [(r["id"], r["prediction"], r["correct"]) for r in map(json.loads, (folder / "predictions.jsonl").open())]


@pytest.mark.parametrize(
    "method",
    [["--method", "zero_shot_cot"], ["--method", "self_consistency", "--samples", "3"], ["--method", "least_to_most"]],
    ids=["two_stages", "samples", "chains"],
)
def test_a_recorded_run_replays_to_the_same_predictions(tiny_model, tmp_path, method):
    original = _run(tmp_path, "original", "--model", str(tiny_model), *method)
    recording = tmp_path / "run.replay.jsonl"
    assert main(["record", str(original), "--out", str(recording)]) == 0
    lines = [json.loads(line) for line in recording.open()]
    assert all(set(line) == {"prompt", "completions"} for line in lines)
    replayed = _run(tmp_path, "replayed", "--engine", "replay", "--replay", str(recording), *method)
    assert _rows(replayed) == _rows(original)
    summary = json.loads((replayed / "summary.json").read_text())
    assert (
        summary["engine"] == "replay"
        and summary["accuracy"] == json.loads((original / "summary.json").read_text())["accuracy"]
    )


def test_a_recording_without_one_of_the_prompts_names_it(tiny_model, tmp_path, capsys):
    original = _run(tmp_path, "original", "--model", str(tiny_model), "--method", "zero_shot_cot")
    lines = recording_of(original)
    dropped = lines.pop(3)
    recording = tmp_path / "partial.jsonl"
    recording.write_text("".join(json.dumps(line) + "\n" for line in lines))
    code = main(["eval", "--task", "last_letters", "--limit", "6", "--method", "zero_shot_cot", "--engine", "replay",
                 "--replay", str(recording), "--out", str(tmp_path / "again"), "--no-cache", "--quiet"])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1
    assert f"no recording for prompt {dropped['prompt'][:80]!r}" in err


def test_a_run_scored_by_likelihood_is_refused_in_one_line(tmp_path):
    run = tmp_path / "scored"
    run.mkdir()
    (run / "spec.resolved.yaml").write_text(
        "task: {name: sst2}\nname: classify\npipeline:\n- {kind: select_demos, k: 0}\n"
        "- {kind: score_classes, name: score, template: classification/zhao}\n"
    )
    (run / "predictions.jsonl").write_text(json.dumps({"id": "0", "trace": [{"stage": "score", "prompt": "p", "completion": " Positive"}]}) + "\n")  # fmt: skip
    with pytest.raises(PromptkitError, match=r"pipeline\.1 \(score_classes\) makes calls its trace does not keep"):
        recording_of(run)
    assert main(["record", str(run), "--out", str(tmp_path / "r.jsonl")]) == 2
    assert not (tmp_path / "r.jsonl").exists()


def test_a_folder_that_is_not_a_run_is_one_line(tmp_path, capsys):
    assert main(["record", str(tmp_path / "nope"), "--out", str(tmp_path / "r.jsonl")]) == 2
    assert "nope" in capsys.readouterr().err
