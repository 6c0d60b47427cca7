"""The first run a newcomer sees: `promptkit demo` as the README writes it, on the embedded model, run for real.

Its data is the sample of sst2 that ships inside the package: the run has a fresh promptkit folder, no download in
it, and a proxy that refuses every connection, so a fetch would fail it. The converted model is linked in, so the
run does not convert it again.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from promptkit.runs.demo import CALIBRATED, FEW_SHOT_CALIBRATED, LIMIT, ZERO_SHOT
from promptkit.tasks import read_definition
from promptkit.tasks.download import download_folder
from promptkit.tasks.samples import sample_folder

ROOT = Path(__file__).resolve().parents[1]
NO_NETWORK = {name: "http://127.0.0.1:9" for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy")}
"""Every web request the run might make goes to a closed loopback port and fails."""
README = ROOT / "README.md"


def _readme_demo() -> tuple[list[str], str]:
    """The command of the README's "First run" section, and the output it shows."""
    section = README.read_text(encoding="utf-8").split("## First run\n", 1)[1].split("\n## ", 1)[0]
    command = re.search(r"```bash\n(.*?)\n```", section, re.DOTALL).group(1).strip()
    shown = re.search(r"```text\n(.*?)```", section, re.DOTALL).group(1)
    return shlex.split(command), shown


def _accuracies(text: str) -> dict[str, float]:
    return {m[1]: float(m[2]) for m in re.finditer(r"^\| ([^|]+?) \| ([0-9.]+)% \|", text, re.MULTILINE)}


def test_make_demo_runs_the_readmes_first_run():
    argv, _ = _readme_demo()
    demo = (ROOT / "Makefile").read_text().split("\ndemo:", 1)[1].split("\n\n", 1)[0]
    assert demo.rstrip().endswith(" " + shlex.join(argv)), demo


def test_the_demo_as_the_readme_writes_it_shows_calibration_working_with_no_network(tmp_path, smollm2, monkeypatch):
    argv, shown = _readme_demo()
    assert argv[:2] == ["promptkit", "demo"]
    home = tmp_path / "home"
    monkeypatch.setenv("PROMPTKIT_HOME", str(home))
    definition = read_definition("sst2")
    (home / "models").mkdir(parents=True)
    (home / "models" / smollm2.name).symlink_to(smollm2)
    env = dict(os.environ, PROMPTKIT_HOME=str(home), PROMPTKIT_CACHE=str(tmp_path / "cache.sqlite"), **NO_NETWORK)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)
    done = subprocess.run([sys.executable, "-m", "promptkit", *argv[1:], "--quiet"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=900)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    out = done.stdout
    printed, readme = _accuracies(out), _accuracies(shown)
    assert list(printed) == ["zero-shot", "zero-shot, calibrated", "4-shot", "4-shot, calibrated"]
    # The README shows what this run prints (one example either way: float sums differ between CPUs).
    assert readme.keys() == printed.keys()
    reviews = int(re.search(r"accuracy \((\d+) test reviews\)", out).group(1))
    assert reviews == LIMIT and f"({reviews} test reviews)" in shown
    assert all(abs(printed[k] - readme[k]) <= 100 / reviews + 0.05 for k in printed), (printed, readme)
    # A real effect: calibration lifts the embedded model zero-shot by more than the interval's width.
    assert printed["zero-shot, calibrated"] - printed["zero-shot"] > 10
    assert printed["4-shot, calibrated"] > printed["4-shot"]
    for meaning in (ZERO_SHOT, CALIBRATED, FEW_SHOT_CALIBRATED):
        assert meaning in out
    page = Path(re.search(r"open (\S+) to read", out).group(1))
    assert (tmp_path / page).is_file() and "seed-2" in (tmp_path / page).read_text(encoding="utf-8")
    assert not download_folder("sst2", definition.download).exists(), "nothing is fetched"
    resolved = (tmp_path / page).parent / "zero-shot" / "spec.resolved.yaml"
    assert str(sample_folder("sst2")) in resolved.read_text(encoding="utf-8"), "the run names the data it read"


def test_more_reviews_than_the_sample_holds_is_one_line_naming_the_ways_to_more(tmp_path):
    env = dict(os.environ, PROMPTKIT_HOME=str(tmp_path / "home"), **NO_NETWORK)
    done = subprocess.run([sys.executable, "-m", "promptkit", "demo", "--limit", str(LIMIT + 1)], cwd=tmp_path,
                          env=env, capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode == 2 and done.stderr.strip().count("\n") == 0, done.stderr
    assert f"--limit {LIMIT + 1}" in done.stderr and "--data" in done.stderr and "--whole-set" in done.stderr
    assert not (tmp_path / "home" / "models").exists()


@pytest.mark.parametrize("argv, fault", [(["--shots", "0"], "--shots must be >= 1"),
                                         (["--seeds", "1"], "--seeds must be >= 2")])  # fmt: skip
def test_a_bad_demo_flag_is_one_line_before_the_model_loads(argv, fault, tmp_path):
    env = dict(os.environ, PROMPTKIT_HOME=str(tmp_path / "home"))
    done = subprocess.run([sys.executable, "-m", "promptkit", "demo", *argv], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode == 2 and done.stderr.strip().count("\n") == 0 and fault in done.stderr, done.stderr
    assert not (tmp_path / "home" / "models").exists()
