"""Two promptkit processes at once, for real: one cache shared (both finish, the cache stays whole, the later
one serves what the earlier stored), and one output folder given twice (the second stops before any work)."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers import cache_rows

from promptkit.cli import main
from promptkit.errors import PromptkitError
from promptkit.files.claim import claimed


def _spec(tmp_path: Path, tiny_model: Path, limit: int, reason: int) -> Path:
    spec = tmp_path / f"spec-{limit}.yaml"
    spec.write_text(
        f"task: {{name: last_letters, limit: {limit}}}\n"
        f"engine: {{kind: hf, model: {tiny_model}, max_batch_size: 1, device: cpu}}\n"  # rows stored one by one
        f"method: {{name: zero_shot_cot, max_tokens: {{reason: {reason}, answer: 8}}}}\n"
    )
    return spec


def _start(spec: Path, cache: Path, out: Path) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "promptkit", "run", str(spec), "--cache", str(cache), "--out", str(out), "--quiet"]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_for_rows(cache: Path, rows: int, proc: subprocess.Popen) -> None:
    deadline = time.time() + 120
    while cache_rows(cache) < rows and proc.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    assert cache_rows(cache) >= rows, "the first run stored nothing in time"


def _predictions(out: Path) -> list[tuple[str, str]]:
    return [(r["id"], r["prediction"]) for r in map(json.loads, (out / "predictions.jsonl").open())]


def test_two_runs_on_one_cache_both_finish_and_the_later_serves_what_the_earlier_stored(tiny_model, tmp_path):
    spec, cache = _spec(tmp_path, tiny_model, limit=12, reason=60), tmp_path / "cache.sqlite"
    first = _start(spec, cache, tmp_path / "first")
    _wait_for_rows(cache, 3, first)
    stored = cache_rows(cache)
    second = _start(spec, cache, tmp_path / "second")
    for proc in (first, second):
        _, err = proc.communicate(timeout=600)
        assert proc.returncode == 0, err[-2000:]
    with sqlite3.connect(cache) as db:
        assert db.execute("PRAGMA quick_check").fetchone()[0] == "ok"
        assert db.execute("SELECT COUNT(*) FROM generations").fetchone()[0] == 24, "one row per request, no twins"
    later = json.loads((tmp_path / "second" / "summary.json").read_text())
    assert later["cache_hits"] >= stored
    assert _predictions(tmp_path / "first") == _predictions(tmp_path / "second")
    # A third run finds every generation of the two.
    assert main(["run", str(spec), "--cache", str(cache), "--out", str(tmp_path / "third"), "--quiet"]) == 0
    third = json.loads((tmp_path / "third" / "summary.json").read_text())
    assert (third["cache_hits"], third["model_calls"]) == (24, 0)


def test_a_second_run_into_the_same_folder_stops_before_any_work(tiny_model, tmp_path):
    spec, cache, out = _spec(tmp_path, tiny_model, limit=16, reason=120), tmp_path / "cache.sqlite", tmp_path / "out"
    first = _start(spec, cache, out)
    _wait_for_rows(cache, 1, first)
    other_cache = tmp_path / "other.sqlite"
    second = _start(_spec(tmp_path, tiny_model, limit=4, reason=8), other_cache, out)
    _, err = second.communicate(timeout=300)
    assert second.returncode == 2
    assert err.strip().count("\n") == 0 and "another promptkit run (pid" in err and str(first.pid) in err, err
    assert not other_cache.exists(), "no work was done"
    assert first.poll() is None, "the first run was still going when the second stopped"
    _, err = first.communicate(timeout=600)
    assert first.returncode == 0, err[-2000:]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["n"] == 16 and len(_predictions(out)) == 16
    # Its claim ends with it: the folder can be written again.
    assert main(["run", str(spec), "--cache", str(cache), "--out", str(out), "--quiet"]) == 0


def test_a_claim_names_its_holder_and_ends_with_it(tmp_path):
    folder = tmp_path / "runs" / "x"
    with claimed(folder):
        with pytest.raises(PromptkitError, match=rf"^--out {folder}: another promptkit run \(pid {os.getpid()}\)"):
            with claimed(folder):
                pass
    with claimed(folder):  # released on exit
        pass
    assert not folder.exists(), "claiming makes no run folder"
