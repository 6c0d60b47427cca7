"""A run's files appear together or not at all: SIGKILL at random moments never leaves a mixed folder."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time

import yaml

from promptkit.files.atomic import check_out_dir, staged
from promptkit.runs.report import find_runs


def _command(shared_data, out, limit):
    replay = shared_data / "replay" / "kojima" / "gsm8k_zero_shot.replay.jsonl"
    return [sys.executable, "-m", "promptkit", "eval", "--task", "gsm8k", "--method", "direct", "--engine", "replay",
            "--replay", str(replay), "--data", str(shared_data / "gsm8k" / "test.jsonl"), "--limit", str(limit),
            "--out", str(out), "--quiet"]  # fmt: skip


def _check(out):
    """The folder is absent, or one whole run: every file, all of the same run."""
    if not out.exists():
        return None
    names = {p.name for p in out.iterdir()}
    assert names == {"summary.json", "predictions.jsonl", "spec.resolved.yaml", "index.html"}, names
    summary = json.loads((out / "summary.json").read_text())
    rows = (out / "predictions.jsonl").read_text().splitlines()
    limit = yaml.safe_load((out / "spec.resolved.yaml").read_text())["task"]["limit"]
    assert summary["n"] == len(rows) == limit, (summary["n"], len(rows), limit)
    return limit


def test_sigkill_at_random_moments_leaves_a_whole_run(shared_data, tmp_path):
    out = tmp_path / "run"
    durations = []
    for _ in range(3):  # the first run is cold (imports from disk); kill times follow the warm ones
        start = time.perf_counter()
        assert subprocess.run(_command(shared_data, out, 1319), capture_output=True).returncode == 0
        durations.append(time.perf_counter() - start)
    whole = sorted(durations)[1]
    assert _check(out) == 1319
    rng = random.Random(0)
    seen, killed = set(), 0
    for i in range(40):
        limit = 1000 if i % 2 == 0 else 1319  # a mixed folder would show two limits
        proc = subprocess.Popen(_command(shared_data, out, limit), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.3, 1.05) * whole)
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            killed += 1
        proc.wait()
        seen.add(_check(out))
    assert seen <= {1000, 1319} and killed >= 15, (seen, killed)
    assert len(find_runs([tmp_path])) == 1, "staging folders a kill left behind are not read as runs"


def test_a_new_run_replaces_the_previous_one_as_a_whole(tmp_path):
    out = tmp_path / "run"
    with staged(out) as stage:
        (stage / "summary.json").write_text("{}")
        (stage / "predictions.jsonl").write_text("")
        (stage / "extra.txt").write_text("old")
    with staged(out) as stage:
        (stage / "summary.json").write_text('{"n": 0}')
        (stage / "predictions.jsonl").write_text("")
    assert sorted(p.name for p in out.iterdir()) == ["predictions.jsonl", "summary.json"]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")], "nothing left beside it"


def test_a_failure_while_writing_keeps_the_previous_run(tmp_path):
    out = tmp_path / "run"
    with staged(out) as stage:
        (stage / "summary.json").write_text("previous")
    try:
        with staged(out) as stage:
            (stage / "summary.json").write_text("new")
            raise RuntimeError("disk full")
    except RuntimeError:
        pass
    assert (out / "summary.json").read_text() == "previous"
    check_out_dir(out)  # a previous run's folder may be written over
