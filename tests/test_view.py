"""The run viewer, opened in headless Chromium: rows, filters, search, exact prompts, comparisons."""

from __future__ import annotations

import html
import json
import re
import shutil

import pytest
from helpers import dom, rows

from promptkit.cli import main
from promptkit.engines import ScriptedEngine
from promptkit.runs.build import run_spec
from promptkit.runspec.files import validate

QUESTIONS = {"Tom has 1 apple and finds 2.": "3", "Ann has 2 pears and buys 3.": "5",
             "Bo has 3 figs and gets 4.": "7", "Cy has 4 plums and picks 5.": "9"}  # fmt: skip
# Run A (zero-shot CoT): right, wrong, unparsed, right. Run B (direct): wrong, right, right, right.
COT_ANSWER = {"3": " 3.", "5": " 4.", "7": " none.", "9": " 9."}
DIRECT_ANSWER = {"3": " 8", "5": " 5", "7": " 7", "9": " 9"}


def _gold(prompt: str) -> str:
    return next(g for q, g in QUESTIONS.items() if q in prompt)


def _script(prompt: str) -> str:
    if prompt.endswith("step by step."):
        return " Count them. \nThen add."  # a trailing space the viewer must keep
    if "Therefore" in prompt:
        return COT_ANSWER[_gold(prompt)]
    return DIRECT_ANSWER[_gold(prompt)]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    data = root / "data.jsonl"
    data.write_text("".join(json.dumps({"question": q, "answer": f"#### {g}"}) + "\n" for q, g in QUESTIONS.items()))
    for name, method in (("cot", "zero_shot_cot"), ("direct", "direct")):
        spec = validate({"task": {"name": "gsm8k", "data": str(data)}, "engine": {"kind": "replay", "path": "-"},
                         "method": {"name": method}}, "test")  # fmt: skip
        run_spec(spec, ScriptedEngine(_script), root / name, progress=False)
    return root


def texts(page_dom: str, cls: str) -> list[str]:
    return [
        html.unescape(re.sub(r"<[^>]+>", "", m)) for m in re.findall(rf'<pre class="{cls}">(.*?)</pre>', page_dom, re.S)
    ]


def test_run_writes_a_page_beside_its_results(runs):
    page = (runs / "cot" / "index.html").read_text()
    assert "<script src" not in page and "<link" not in page and "http" not in page.split("<script>")[0]


def test_the_table_has_a_row_per_example(runs, chromium, tmp_path):
    page = dom(chromium, runs / "cot" / "index.html", "", tmp_path)
    assert rows(page) == ["0", "1", "2", "3"]
    assert "4 of 4 examples" in page and "50.0%" in page


def test_filters_and_search_narrow_the_table(runs, chromium, tmp_path):
    page = runs / "cot" / "index.html"
    assert rows(dom(chromium, page, "filter=wrong", tmp_path)) == ["1"]
    assert rows(dom(chromium, page, "filter=unparsed", tmp_path)) == ["2"]
    assert rows(dom(chromium, page, "filter=correct", tmp_path)) == ["0", "3"]
    assert rows(dom(chromium, page, "q=pears", tmp_path)) == ["1"]


def test_an_opened_example_shows_every_stage_exactly(runs, chromium, tmp_path):
    trace = [json.loads(line) for line in (runs / "cot" / "predictions.jsonl").open()][1]["trace"]
    page = dom(chromium, runs / "cot" / "index.html", "example=1", tmp_path)
    assert texts(page, "prompt") == [t["prompt"] for t in trace]
    assert " \nThen add. \nTherefore" in texts(page, "prompt")[1], "trailing spaces kept"
    assert texts(page, "completion") == [t["completion"] for t in trace]
    assert 'class="ws"' in page, "trailing whitespace is marked"


def test_the_comparison_shows_both_runs_side_by_side(runs, chromium, tmp_path):
    out = tmp_path / "cmp.html"
    assert main(["view", str(runs / "cot"), str(runs / "direct"), "--out", str(out)]) == 0
    page = dom(chromium, out, "", tmp_path)
    assert "A: cot" in page and "B: direct" in page and "prediction B" in page
    assert rows(dom(chromium, out, "filter=right-A-wrong-B", tmp_path)) == ["0"]
    assert rows(dom(chromium, out, "filter=right-B-wrong-A", tmp_path)) == ["1", "2"]
    both = dom(chromium, out, "example=0", tmp_path)
    assert len(re.findall(r'class="trace-run" data-run="[AB]"', both)) == 2


def test_view_errors_are_one_line(runs, tmp_path, capsys):
    assert main(["view", str(tmp_path)]) == 2
    assert "not a run folder" in capsys.readouterr().err
    other = tmp_path / "other"
    shutil.copytree(runs / "direct", other)
    summary = json.loads((other / "summary.json").read_text())
    (other / "summary.json").write_text(json.dumps({**summary, "task": "last_letters"}))
    assert main(["view", str(runs / "cot"), str(other), "--out", str(tmp_path / "x.html")]) == 2
    assert "different tasks" in capsys.readouterr().err


def test_an_example_scored_by_likelihood_shows_each_choice(chromium, tmp_path):
    data = tmp_path / "quiz.jsonl"
    data.write_text(
        json.dumps({"question": "Which is cold? Answer Choices: (A) fire (B) ice (C) sun", "answer": "B"}) + "\n"
    )
    spec = validate({"task": {"name": "shuffled_objects", "data": str(data)}, "engine": {"kind": "replay", "path": "-"},
                     "method": {"name": "choice"}}, "test")  # fmt: skip
    scores = {" A": -2.5, " B": -0.25, " C": -4.0}
    run_spec(spec, ScriptedEngine(scorer=lambda c, k: scores[k]), tmp_path / "run", progress=False)
    page = dom(chromium, tmp_path / "run" / "index.html", "example=0", tmp_path)
    assert (
        "choice log-likelihoods: A -2.500 (1 tok) · B -0.250 (1 tok) ← acc ← acc_norm · C -4.000 (1 tok)"
        in html.unescape(page)
    )


def test_repeats_show_their_spread_above_the_runs(runs, chromium, tmp_path):
    from promptkit.runs.view import write_view

    spread = {"seeds": 2, "orders": None, "runs": ["cot", "direct"], "accuracy": [0.5, 0.75], "mean": 0.625,
              "std": 0.1768, "min": 0.5, "max": 0.75, "metrics": {}, "flipped": 3}  # fmt: skip
    out = write_view([runs / "cot", runs / "direct"], tmp_path / "spread.html", spread=spread)
    page = dom(chromium, out, "", tmp_path)
    box = re.search(r'<div class="run spread" id="spread">(.*?)</div>', page, re.S)
    assert box is not None, "the spread box comes first"
    text = html.unescape(re.sub(r"<[^>]+>", " ", box.group(1)))
    assert "2 seeds" in text and "62.5% ± 17.7% (std), min 50.0%, max 75.0%" in text
    assert "A: cot" in page and "B: direct" in page, "the runs side by side below it"
