"""Small helpers shared by tests."""

from __future__ import annotations

import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

# A two-class task whose Tech class has two label words, for classification tests.
TOPICS = """name: topics
example: {question: "{{ text }}", answer: "{{ label }}"}
answer: {type: choice, labels: [World, Tech], words: {Tech: [Tech, Science]}}
prompts:
  answer_prefix: "A:"
  classification: {q_prefix: "Article: ", a_prefix: "Answer: "}
"""


def cache_rows(path: Path) -> int:
    """Samples stored in a generation cache file so far (0 while it does not exist yet)."""
    try:
        with sqlite3.connect(path, timeout=1) as db:
            return db.execute("SELECT COUNT(*) FROM generations").fetchone()[0]
    except sqlite3.OperationalError:
        return 0


def run_method(task, method: str, engine, extractor: str | None = None, **options):
    """evaluate() over a named method's pipeline, as the library user writes it."""
    from promptkit import build_method, evaluate

    built = build_method(task, method, extractor=extractor, **options)
    return evaluate(task, built.pipeline, engine, built.extractor, method=method)


def start_run(spec: Path, cache: Path, out: Path) -> subprocess.Popen:
    """`promptkit run SPEC` in a session of its own (so its whole process group can be killed)."""
    cmd = [sys.executable, "-m", "promptkit", "run", str(spec), "--cache", str(cache), "--out", str(out), "--quiet"]
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)


def kill_once_stored(proc: subprocess.Popen, cache: Path, rows: int, wait: float = 300) -> int:
    """SIGKILL the run's whole process group once the cache holds `rows` samples; the samples stored then."""
    deadline = time.time() + wait
    while cache_rows(cache) < rows and time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, proc.stderr.read().decode()[-2000:]
    return cache_rows(cache)


def chromium_flags(profile: Path) -> list[str]:
    """Headless Chromium with nothing reaching for the network (the machine's network is closed)."""
    return ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", f"--user-data-dir={profile}"]  # fmt: skip


def dom(chromium: str, page: Path, fragment: str, tmp_path: Path) -> str:
    """The page's DOM after its script has run, as headless Chromium sees it from file://."""
    cmd = [chromium, *chromium_flags(tmp_path / "profile"), "--virtual-time-budget=10000", "--dump-dom",
           f"{page.resolve().as_uri()}#{fragment}"]  # fmt: skip
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=120).stdout
    assert 'data-ready="1"' in out, "the page's script did not finish"
    return out


def screenshot(chromium: str, page: Path, out: Path, tmp_path: Path, size: str = "1400,1300") -> Path:
    """A PNG of the page as a person would see it on opening it."""
    cmd = [chromium, *chromium_flags(tmp_path / "profile"), "--virtual-time-budget=10000", f"--window-size={size}",
           f"--screenshot={out}", page.resolve().as_uri()]  # fmt: skip
    subprocess.run(cmd, capture_output=True, timeout=120)
    assert out.is_file() and out.stat().st_size > 10_000, "Chromium wrote no screenshot"
    return out


def rows(page_dom: str) -> list[str]:
    return re.findall(r'class="row[^"]*" data-id="([^"]*)"', page_dom)
