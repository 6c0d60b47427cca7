"""Benchmark scripts stay runnable (their figures are printed, not asserted)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_bench_engine_runs_on_the_tiny_model():
    run = subprocess.run(
        [
            sys.executable,
            str(ROOT / "evals" / "bench_engine.py"),
            "--n",
            "6",
            "--repeats",
            "1",
            "--max-tokens",
            "4",
            "--device",
            "cpu",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    assert "speed-up from batching" in run.stdout
    assert "2 engine calls, 12 requests" in run.stdout
