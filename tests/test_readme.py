"""The README's library example runs as written, and CI runs the README's commands."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"


def _block(heading: str, lang: str) -> str:
    return re.search(rf"## {heading}\n\n```{lang}\n(.*?)```", README.read_text(), re.DOTALL).group(1)


def test_readme_library_example_runs():
    block = _block("Library", "python")
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(block, "README.md", "exec"), {})
    expected = re.search(r"# (.*)$", block.strip().splitlines()[-1]).group(1)
    assert out.getvalue().strip() == expected


def test_ci_runs_the_readme_install_and_test_commands():
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    install = _block("Install", "bash").strip().splitlines()
    test = _block("Test", "bash").strip().splitlines()
    commands = [line for line in ci if line and not line.startswith(("#", "set ", "cd ", "export "))]
    assert commands == install + test
