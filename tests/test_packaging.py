"""Templates ship inside the wheel and are found from it, not only from a checkout."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

from conftest import require

ROOT = Path(__file__).resolve().parents[1]


def test_templates_are_found_from_a_built_wheel(tmp_path):
    require("hatchling", "building the wheel needs hatchling (the dev extra brings it)")
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "--no-build-isolation", "-w", str(tmp_path)],
        capture_output=True,
        text=True,
    )
    assert build.returncode == 0, build.stderr[-2000:]
    wheel = next(tmp_path.glob("promptkit-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    assert "promptkit/templates/direct.j2" in names
    assert "promptkit/tasks/names.txt" in names
    assert "promptkit/tasks/shipped/svamp.yaml" in names
    assert {"promptkit/tasks/samples/sst2/stsa.binary.test", "promptkit/tasks/samples/sst2/SOURCE.json"} <= set(names)
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    code = (
        "import promptkit.stages.framework.templating as t; from promptkit.tasks import read_definition; "
        "print(t.templates_dir()); words = read_definition('gsm8k').prompts.words(); "
        "print(repr(t.Templates(words=words).render('direct', {'question': 'q'})))"
    )
    run = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, env={"PYTHONPATH": str(site)}
    )
    assert run.returncode == 0, run.stderr
    where, rendered = run.stdout.splitlines()
    assert Path(where) == site / "promptkit" / "templates"
    assert rendered == repr("Q: q\nA: The answer (arabic numerals) is")
