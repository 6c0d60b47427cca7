"""render, compare, report, schema, --set and --template."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from promptkit.cli import main
from promptkit.testing.tiny_model import build_tiny_model


@pytest.fixture(scope="module")
def wide_model(tmp_path_factory):
    """A tiny model with a window wide enough for all 8 GSM8K CoT demonstrations."""
    return build_tiny_model(tmp_path_factory.mktemp("wide") / "m", context=4096)


@pytest.fixture
def gsm8k_file(tmp_path):
    path = tmp_path / "gsm8k.jsonl"
    rows = [
        {"question": "Janet has 3 apples and buys 4 more. How many apples does she have?", "answer": "#### 7"},
        {"question": "A box holds 12 eggs. How many eggs are in 2 boxes?", "answer": "#### 24"},
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_render_prints_the_prompt_that_eval_sends(wide_model, gsm8k_file, tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["eval", "--task", "gsm8k", "--method", "few_shot_cot", "--model", str(wide_model), "--data", str(gsm8k_file),
                 "--no-cache", "--out", str(out), "--quiet", "--max-batch-tokens", "100000"]) == 0  # fmt: skip
    sent = [json.loads(x)["trace"][0]["prompt"] for x in (out / "predictions.jsonl").open()]
    capsys.readouterr()
    assert (
        main(
            [
                "render",
                "--task",
                "gsm8k",
                "--method",
                "few_shot_cot",
                "--data",
                str(gsm8k_file),
                "--limit",
                "2",
                "--json",
            ]
        )
        == 0
    )
    rendered = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["prompt"] for r in rendered] == sent
    assert sent[0].count("The answer is") == 8


def test_render_shows_later_stages_with_a_placeholder(gsm8k_file, capsys):
    assert (
        main(["render", "--task", "gsm8k", "--method", "zero_shot_cot", "--data", str(gsm8k_file), "--example", "1"])
        == 0
    )
    text = capsys.readouterr().out
    assert "===== example 1 · stage reason =====\nQ: A box holds 12 eggs." in text
    assert "Let's think step by step.<<model output>> \nTherefore, the answer (arabic numerals) is" in text


def test_render_from_a_spec_calls_no_model(tmp_path, capsys):
    spec = tmp_path / "s.yaml"
    spec.write_text(
        "task: {name: last_letters}\nengine: {kind: hf, model: /nonexistent/model}\nmethod: {name: direct}\n"
    )
    assert main(["render", str(spec)]) == 0
    assert capsys.readouterr().out.strip().endswith("and concatenate them.\nA: The answer is")


def test_unknown_example_id_is_an_error(gsm8k_file, capsys):
    assert main(["render", "--task", "gsm8k", "--method", "direct", "--data", str(gsm8k_file), "--example", "9"]) == 2
    assert "no example with id 9" in capsys.readouterr().err


def test_compare_prints_one_table_and_shares_the_cache(tiny_model, tmp_path, capsys):
    args = ["compare", "--task", "last_letters", "--methods", "direct,zero_shot_cot,few_shot", "--model", str(tiny_model),
            "--limit", "3", "--cache", str(tmp_path / "c.sqlite"), "--quiet"]  # fmt: skip
    assert main([*args, "--out", str(tmp_path / "a")]) == 0
    table = [line for line in capsys.readouterr().out.splitlines() if line.startswith("| last_letters")]
    assert [row.split("|")[2].strip() for row in table] == ["direct", "zero_shot_cot", "few_shot"]
    assert [row.split("|")[8].strip() for row in table] == ["1", "2", "1"]
    assert (tmp_path / "a" / "compare.md").is_file()
    view = (tmp_path / "a" / "view.html").read_text()
    assert "00-direct vs 01-zero_shot_cot vs 02-few_shot" in view, "the three runs, side by side"
    assert main([*args, "--out", str(tmp_path / "b")]) == 0
    summaries = [json.loads(p.read_text()) for p in sorted((tmp_path / "b").glob("*/summary.json"))]
    assert [s["cache_misses"] for s in summaries] == [0, 0, 0]
    assert sum(s["cache_hits"] for s in summaries) == 3 + 6 + 3


def test_report_from_real_runs_with_plots(tiny_model, tmp_path):
    runs = tmp_path / "runs"
    for words in (2, 3):
        data = tmp_path / f"ll{words}.json"
        main(["make-last-letters", "--words", str(words), "--count", "3", "--out", str(data)])
        for method in ("zero_shot_cot", "least_to_most"):
            assert main(["eval", "--task", "last_letters", "--method", method, "--model", str(tiny_model), "--data", str(data),
                         "--cache", str(tmp_path / "c.sqlite"), "--out", str(runs / f"{method}-{words}"), "--quiet"]) == 0  # fmt: skip
    for shots in (1, 3):
        assert main(["eval", "--task", "last_letters", "--method", "few_shot_cot", "--shots", str(shots), "--limit", "3",
                     "--model", str(tiny_model), "--cache", str(tmp_path / "c.sqlite"), "--out", str(runs / f"fs-{shots}"), "--quiet"]) == 0  # fmt: skip
    assert main(["report", str(runs), "--out", str(tmp_path / "report")]) == 0
    report = (tmp_path / "report" / "report.md").read_text()
    assert report.count("| last_letters |") == 6
    for png in ("accuracy_by_method.png", "accuracy_by_length.png", "accuracy_by_shots.png"):
        data = (tmp_path / "report" / png).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5000
        assert f"]({png})" in report


def test_report_without_runs_is_an_error(tmp_path, capsys):
    assert main(["report", str(tmp_path)]) == 2
    assert "no summary.json under" in capsys.readouterr().err


def test_schema_is_the_run_spec_json_schema(capsys):
    assert main(["schema"]) == 0
    schema = json.loads(capsys.readouterr().out)
    assert schema["title"] == "RunSpec"
    assert {"task", "engine", "method", "pipeline"} <= set(schema["properties"])


def test_set_overrides_dotted_keys(tiny_model, tmp_path):
    spec = tmp_path / "s.yaml"
    spec.write_text(
        f"task: {{name: last_letters}}\nengine: {{kind: hf, model: {tiny_model}}}\nmethod: {{name: few_shot, shots: 1}}\n"
    )
    out = tmp_path / "run"
    assert (
        main(
            [
                "run",
                str(spec),
                "--set",
                "method.shots=3",
                "--set",
                "task.limit=2",
                "--no-cache",
                "--out",
                str(out),
                "--quiet",
            ]
        )
        == 0
    )
    row = json.loads((out / "predictions.jsonl").open().readline())
    assert len(row["demos"]) == 3
    assert json.loads((out / "summary.json").read_text())["n"] == 2


def test_eval_template_swaps_a_stage_template(tiny_model, tmp_path):
    template = tmp_path / "mine.j2"
    template.write_text("Question: {{ question }}\nShort answer:")
    out = tmp_path / "run"
    assert main(["eval", "--task", "last_letters", "--method", "direct", "--model", str(tiny_model), "--limit", "1",
                 "--template", str(template), "--no-cache", "--out", str(out), "--quiet"]) == 0  # fmt: skip
    prompt = json.loads((out / "predictions.jsonl").open().readline())["trace"][0]["prompt"]
    assert prompt.startswith("Question: Take the last letters") and prompt.endswith("\nShort answer:")
    assert main(["eval", "--task", "last_letters", "--method", "zero_shot_cot", "--model", str(tiny_model),
                 "--template", str(template), "--no-cache", "--out", str(out)]) == 2  # fmt: skip


def test_quiet_hides_progress_bars_on_a_terminal_free_run(tiny_model, tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "promptkit", "eval", "--task", "last_letters", "--method", "direct", "--model", str(tiny_model),
         "--limit", "2", "--no-cache", "--out", str(tmp_path / "r"), "--quiet"],
        capture_output=True, text=True,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "stages" not in result.stderr and "generate" not in result.stderr


def test_compare_specs_keeps_each_specs_engine_and_opens_each_once(shared_data, tmp_path, monkeypatch, capsys):
    import promptkit.runs.pool as pool

    replay = shared_data / "replay" / "kojima"
    data = shared_data / "gsm8k" / "test.jsonl"
    specs = []
    for name, method, recording, extractor in [
        ("direct", "direct", "gsm8k_zero_shot", "kojima"),
        ("cot", "zero_shot_cot", "gsm8k_zero_shot_cot", "kojima"),
        ("cot-default", "zero_shot_cot", "gsm8k_zero_shot_cot", "default"),
    ]:
        spec = tmp_path / f"{name}.yaml"
        spec.write_text(
            f"task: {{name: gsm8k, data: {data}}}\nengine: {{kind: replay, path: {replay / recording}.replay.jsonl}}\n"
            f"name: {name}\nmethod: {{name: {method}}}\nextractor: {extractor}\n"
        )
        specs.append(str(spec))
    opened = []
    real_make = pool.make_engine
    monkeypatch.setattr(pool, "make_engine", lambda spec, *a, **k: opened.append(spec.path) or real_make(spec, *a, **k))
    allow = ["--allow-path", str(shared_data)]  # the specs name data outside their own folder
    assert (
        main(["compare", "--specs", *specs, "--set", "task.limit=40", "--out", str(tmp_path / "c"), "--quiet", *allow])
        == 0
    )
    assert len(opened) == 2, "the two specs on one recording share its engine"
    summaries = [json.loads(p.read_text()) for p in sorted((tmp_path / "c").glob("*/summary.json"))]
    assert [s["method"] for s in summaries] == ["direct", "cot", "cot-default"]
    assert [s["model"] for s in summaries] == ["gsm8k_zero_shot.replay.jsonl"] + [
        "gsm8k_zero_shot_cot.replay.jsonl"
    ] * 2
    assert all(s["n"] == 40 and s["unparsed"] < 40 for s in summaries)
    for summary, spec in zip(summaries, specs):  # the same figures as running each spec alone
        out = tmp_path / f"alone-{summary['method']}"
        assert main(["run", spec, "--limit", "40", "--out", str(out), "--quiet", *allow]) == 0
        assert json.loads((out / "summary.json").read_text())["correct"] == summary["correct"]


def test_a_reader_that_goes_away_is_not_an_internal_error(tmp_path):
    """`promptkit schema | head -1`: the pipe closes early; no 'internal error', no crash file."""
    import subprocess
    import sys

    env = {**__import__("os").environ, "PROMPTKIT_HOME": str(tmp_path)}
    run = subprocess.run(f"{sys.executable} -m promptkit schema | head -1", shell=True, capture_output=True,
                         text=True, env=env, timeout=120)  # fmt: skip
    assert run.stdout.strip() == "{" and "internal error" not in run.stderr
    assert not (tmp_path / "crashes").exists()
