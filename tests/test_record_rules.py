"""Records a task does not take: a task file's `keep` test and `on_bad_answer: skip`, never silent.

A user's benchmark as it comes (ASDiv-like: answers with units, some of them times or ordinals), read by a task
file of their own: by default the first bad record stops the run, named once by file and line; with `skip` the
run goes on and says how many records it left out, and which, on screen, in summary.json and in the viewer.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from promptkit import ScriptedEngine
from promptkit.cli import main
from promptkit.errors import PromptkitError
from promptkit.runs.view import load_run
from promptkit.tasks import load_task

ROWS = [
    {"Body": "Tom has 3 apples and buys 6 more.", "Question": "How many apples?", "Answer": "9 (apples)",
     "Solution-Type": "Addition"},
    {"Body": "The film starts at 2:00 and lasts 90 minutes.", "Question": "When does it end?", "Answer": "3:30 p.m.",
     "Solution-Type": "TVQ-Final"},
    {"Body": "Ann is taller than Bo.", "Question": "Who is shorter?", "Answer": "Bo", "Solution-Type": "Comparison"},
    {"Body": "A box holds 12 pens; 5 are sold.", "Question": "How many are left?", "Answer": "7 (pens)",
     "Solution-Type": "Subtraction"},
    {"Body": "Sam came after the fifth runner.", "Question": "In what place did Sam finish?", "Answer": "6th",
     "Solution-Type": "Ordinal"},
]  # fmt: skip

TASK = """\
name: asdiv_mine
data:
  file: asdiv.csv
{rules}example:
  question: "{{{{ Body }}}} {{{{ Question }}}}"
  answer: "{{{{ Answer.split(' (')[0] }}}}"
answer:
  type: number
prompts:
  answer_prefix: "The answer (arabic numerals) is"
"""


def _task(tmp_path: Path, rules: str = "") -> Path:
    with (tmp_path / "asdiv.csv").open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(ROWS[0]))
        writer.writeheader()
        writer.writerows(ROWS)
    path = tmp_path / "asdiv_mine.yaml"
    path.write_text(TASK.format(rules="".join(f"  {line}\n" for line in rules.splitlines())), encoding="utf-8")
    return path


def test_by_default_the_first_bad_record_stops_the_run_named_once(tmp_path, capsys):
    path = _task(tmp_path)
    code = main(["eval", "--task", str(path), "--method", "direct", "--model", "/no/such/model", "--no-cache"])
    err = capsys.readouterr().err
    assert code == 2 and len(err.splitlines()) == 1, err
    assert "asdiv.csv:3: the gold answer '3:30 p.m.' is not a number" in err and err.count("asdiv.csv:3") == 1


def test_skip_leaves_the_bad_records_out_and_counts_them(tmp_path):
    task = load_task(str(_task(tmp_path, "on_bad_answer: skip")))
    assert [e.id for e in task.examples] == ["0", "3"]  # ids stay positions in the file
    assert [e.target for e in task.examples] == ["9", "7"]
    assert task.left_out.filtered == 0 and len(task.left_out.skipped) == 3
    assert task.left_out.skipped[0] == f"{tmp_path / 'asdiv.csv'}:3: the gold answer '3:30 p.m.' is not a number " \
                                       "(the task's answers are numbers)"  # fmt: skip
    assert "asdiv.csv:6: the gold answer '6th'" in task.left_out.skipped[2]


def test_keep_is_a_jinja_test_over_the_records_fields(tmp_path):
    rules = "keep: \"record['Solution-Type'] not in ('TVQ-Final', 'Comparison', 'Ordinal')\""
    task = load_task(str(_task(tmp_path, rules)))
    assert [e.id for e in task.examples] == ["0", "3"]
    assert task.left_out.filtered == 3 and task.left_out.skipped == ()
    # keep first, then the answers: a record the test refuses is never checked
    both = load_task(str(_task(tmp_path, "keep: \"Body.startswith('Tom') or Body.startswith('The film')\"\n"
                                          "on_bad_answer: skip")))  # fmt: skip
    assert [e.id for e in both.examples] == ["0"] and both.left_out.filtered == 3 and len(both.left_out.skipped) == 1


def test_skipped_records_reach_the_screen_the_summary_and_the_viewer(tmp_path, capsys):
    path = _task(tmp_path, "on_bad_answer: skip")
    replay = tmp_path / "replay.jsonl"
    with replay.open("w", encoding="utf-8") as f:
        for row, answer in ((ROWS[0], " 9."), (ROWS[3], " 8.")):  # the second one wrong
            prompt = f"Q: {row['Body']} {row['Question']}\nA: The answer (arabic numerals) is"
            f.write(json.dumps({"prompt": prompt, "completions": [answer]}) + "\n")
    out = tmp_path / "run"
    code = main(["eval", "--task", str(path), "--method", "direct", "--engine", "replay", "--replay", str(replay),
                 "--out", str(out), "--quiet"])  # fmt: skip
    printed = capsys.readouterr()
    assert code == 0, printed.err
    assert "accuracy 50.0% (1/2" in printed.out
    assert "; 3 records skipped, their gold answer does not fit: " in printed.out
    assert "asdiv.csv:3: the gold answer '3:30 p.m.'" in printed.out and len(printed.out.splitlines()) == 1
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert summary["left_out"]["skipped"] == 3 and summary["left_out"]["filtered"] == 0
    assert len(summary["left_out"]["first_skipped"]) == 3 and summary["n"] == 2
    assert load_run(out)["left_out"].startswith("3 records skipped")


def test_a_scripted_run_of_a_filtered_task_records_the_count(tmp_path):
    from helpers import run_method

    task = load_task(str(_task(tmp_path, "keep: \"Answer.endswith(')')\"")))
    result = run_method(task, "direct", ScriptedEngine(lambda prompt: " 9."))
    assert result.summary.n == 2 and result.summary.left_out == {"filtered": 3, "skipped": 0, "first_skipped": []}


@pytest.mark.parametrize(
    "rules, fault",
    [
        ('keep: "Body.startswith("', "asdiv_mine.yaml: data.keep"),
        ("on_bad_answer: ignore", "on_bad_answer"),
        ('keep: "NoSuchField > 1"', "asdiv.csv:2: task asdiv_mine: data.keep"),
        ("keep: 'false'", "no examples (5 records left out by the task's keep test)"),
    ],
)
def test_a_bad_rule_is_one_line_naming_it(tmp_path, rules, fault):
    with pytest.raises(PromptkitError) as error:
        load_task(str(_task(tmp_path, rules)))
    assert "\n" not in str(error.value) and fault in str(error.value), str(error.value)
