"""Under PROMPTKIT_REQUIRE_REAL=1 (CI) a test that cannot run fails, naming what is missing, and a reproduction
that did not run fails the session; without it the same tests skip, saying why."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _pytest(tmp_path, *args: str, require_real: bool):
    env = {**os.environ, "PROMPTKIT_SHARED_DATA": str(tmp_path / "nowhere")}
    env["PROMPTKIT_REQUIRE_REAL"] = "1" if require_real else "0"
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rs", *args],
        capture_output=True, text=True, cwd=ROOT, env=env, timeout=600,
    )  # fmt: skip


def test_missing_shared_data_fails_the_reproductions_naming_it(tmp_path):
    run = _pytest(tmp_path, "tests/test_least_to_most_zhou.py", require_real=True)
    assert run.returncode != 0
    assert (
        f"../shared/data (GSM8K, last letters, Kojima et al.'s recordings) is not at {tmp_path / 'nowhere'}"
        in run.stdout
    )
    assert "PROMPTKIT_REQUIRE_REAL=1: this test must run here" in run.stdout
    assert "reproductions: 0 of 5 ran and passed" in run.stdout


def test_without_the_flag_they_skip_saying_why(tmp_path):
    run = _pytest(tmp_path, "tests/test_least_to_most_zhou.py", require_real=False)
    assert run.returncode == 0, run.stdout[-2000:]
    assert "5 skipped" in run.stdout and "is not at" in run.stdout
