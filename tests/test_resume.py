"""A run killed with SIGKILL part-way resumes from the cache: same predictions, only the missing requests."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

from helpers import cache_rows

from promptkit.cli import main


def test_sigkill_then_resume(tiny_model, tmp_path):
    spec = tmp_path / "spec.yaml"
    spec.write_text(
        "task: {name: last_letters, limit: 24}\n"
        f"engine: {{kind: hf, model: {tiny_model}, max_batch_size: 1, device: cpu}}\n"
        "method: {name: zero_shot_cot, max_tokens: {reason: 200, answer: 16}}\n"
    )
    cache = tmp_path / "cache.sqlite"
    cmd = [
        sys.executable,
        "-m",
        "promptkit",
        "run",
        str(spec),
        "--cache",
        str(cache),
        "--out",
        str(tmp_path / "killed"),
        "--quiet",
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 120
    while cache_rows(cache) < 5 and time.time() < deadline and proc.poll() is None:
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    stored = cache_rows(cache)
    assert proc.returncode == -signal.SIGKILL, "the run must be killed part-way, not finish"
    assert 5 <= stored < 48, stored

    assert main(["run", str(spec), "--cache", str(cache), "--out", str(tmp_path / "resumed"), "--quiet"]) == 0
    resumed = json.loads((tmp_path / "resumed" / "summary.json").read_text())
    assert resumed["cache_hits"] == stored
    assert resumed["cache_misses"] == 48 - stored, "the engine is asked only for what is missing"

    assert (
        main(
            [
                "run",
                str(spec),
                "--cache",
                str(tmp_path / "fresh.sqlite"),
                "--out",
                str(tmp_path / "straight"),
                "--quiet",
            ]
        )
        == 0
    )

    def predictions(run):
        return [
            (r["id"], r["prediction"], [t["completion"] for t in r["trace"]])
            for r in map(json.loads, (tmp_path / run / "predictions.jsonl").open())
        ]

    assert predictions("resumed") == predictions("straight")
