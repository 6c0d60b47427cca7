"""The first run a newcomer sees: `promptkit demo` as the README writes it, on the embedded model, run for real.

Its data is the sample of sst2 that ships inside the package: the run has a fresh promptkit folder, no download in
it, and a proxy that refuses every connection, so a fetch would fail it. The converted model is linked in, so the
run does not convert it again.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import dom, screenshot

from promptkit.runs.demo import CALIBRATED, FEW_SHOT_CALIBRATED, LIMIT, SHOTS, ZERO_SHOT
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


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory, smollm2) -> tuple[Path, str, Path]:
    """The README's first run, once: (its working folder, what it printed, its page)."""
    argv, _ = _readme_demo()
    assert argv[:2] == ["promptkit", "demo"]
    tmp_path = tmp_path_factory.mktemp("demo")
    home = tmp_path / "home"
    (home / "models").mkdir(parents=True)
    (home / "models" / smollm2.name).symlink_to(smollm2)
    env = dict(os.environ, PROMPTKIT_HOME=str(home), PROMPTKIT_CACHE=str(tmp_path / "cache.sqlite"), **NO_NETWORK)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)
    done = subprocess.run([sys.executable, "-m", "promptkit", *argv[1:], "--quiet"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=900)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    page = tmp_path / re.search(r"open (\S+) to read", done.stdout).group(1)
    return tmp_path, done.stdout, page


def test_the_demo_as_the_readme_writes_it_shows_calibration_working_with_no_network(demo_run):
    tmp_path, out, page = demo_run
    _, shown = _readme_demo()
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
    assert page.is_file() and "seed-2" in page.read_text(encoding="utf-8")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PROMPTKIT_HOME", str(tmp_path / "home"))
        assert not download_folder("sst2", read_definition("sst2").download).exists(), "nothing is fetched"
    resolved = page.parent / "zero-shot" / "spec.resolved.yaml"
    assert str(sample_folder("sst2")) in resolved.read_text(encoding="utf-8"), "the run names the data it read"


def test_the_demos_page_shows_tokens_the_chart_and_what_calibration_changed(demo_run, chromium, tmp_path):
    """The page as a newcomer opens it, in headless Chromium: every figure it shows is the run's own."""
    _, _, page = demo_run
    folders = [page.parent / "zero-shot", *sorted((page.parent / f"{SHOTS}-shot").glob("seed-*"))]
    summaries = [json.loads((f / "summary.json").read_text()) for f in folders]
    shown = dom(chromium, page, "", tmp_path)
    for s in summaries:  # 1: the scored tokens, as summary.json counts them
        assert s["prompt_tokens"] > 0 and s["completion_tokens"] > 0
        assert f"{s['prompt_tokens']} prompt, {s['completion_tokens']} completion" in shown
    # 2: one format per kind: the accuracy before calibration as a percentage with its interval
    before = summaries[0]["metrics"]["acc_uncalibrated"]
    assert re.search(rf"{100 * before:.1f}% \(95% CI [0-9.]+%–[0-9.]+%\)", shown)
    # 4: the chart: zero-shot's two points, and 4-shot's means over its draws with a dot per draw
    points = dict(re.findall(r'<g class="series" data-series="([^"]+)" data-value="([0-9.]+)"', shown)[:2])
    assert float(points["calibrated"]) == pytest.approx(summaries[0]["accuracy"], abs=1e-4)
    assert float(points["before calibration"]) == pytest.approx(before, abs=1e-4)
    draws = [s["accuracy"] for s in summaries[1:]]
    assert f'data-value="{sum(draws) / len(draws):.4f}"' in shown
    assert shown.count('class="dot"') == 2 * len(draws), "each draw a dot, before and after calibration"
    # 3: before calibration as its own column, and the filter of what calibration changed in the zero-shot run
    assert "before calibration" in shown and 'value="changed-A"' in shown
    predictions = [json.loads(line) for line in (folders[0] / "predictions.jsonl").read_text().splitlines()]
    changed = [p["id"] for p in predictions if p["prediction_uncalibrated"] != p["prediction"]]
    assert 0 < len(changed) < len(predictions)
    assert f'data-shown="{len(changed)}"' in dom(chromium, page, "filter=changed-A", tmp_path)
    opened = dom(chromium, page, f"example={changed[0]}", tmp_path)
    assert opened.count('class="probs"') == len(folders), "each run's class probabilities before and after, as bars"
    picture = screenshot(chromium, page, tmp_path / "demo-view.png", tmp_path)
    if os.environ.get("PROMPTKIT_SCREENSHOTS"):  # where a person wants to look at it
        shutil.copy(picture, Path(os.environ["PROMPTKIT_SCREENSHOTS"]) / "demo-view.png")


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


def test_the_report_of_the_demo_draws_the_same_chart_as_a_png(demo_run, tmp_path):
    from promptkit.runs.comparison import chart_rows
    from promptkit.runs.report import find_runs, write_report

    _, _, page = demo_run
    report = write_report([page.parent], tmp_path / "report")
    assert "![Accuracy per configuration, repeats grouped](comparison.png)" in report.read_text()
    assert (tmp_path / "report" / "comparison.png").stat().st_size > 10_000
    named = [(f"{folder.parent.name}/{folder.name}", s) for folder, s in find_runs([page.parent])]
    rows = {row.label: row for row in chart_rows(named)}
    assert sorted(row.runs for row in rows.values()) == [1, 3], "zero-shot alone; the draws one configuration"
    assert [s.name for s in rows[f"{SHOTS}-shot"].series] == ["before calibration", "calibrated"]
    assert len(rows[f"{SHOTS}-shot"].series[1].dots) == 3
