"""Task files: a user's own benchmark as the README writes it, every answer type through every method,
and every mistake in a task file or its data as one line, exit 2, before any model loads."""

from __future__ import annotations

import csv
import json
import re
from collections import Counter
from pathlib import Path

import pytest
from helpers import run_method

from promptkit import ScriptedEngine
from promptkit.cli import main
from promptkit.errors import PromptkitError
from promptkit.tasks import load_task, read_definition, shipped_names

ROOT = Path(__file__).resolve().parents[1]
TASKS_DOC = (ROOT / "docs" / "tasks.md").read_text()  # where the README sends a reader for task files


def _readme_task_file(name: str) -> str:
    """The YAML block of docs/tasks.md whose first line is '# NAME'."""
    return next(b for b in re.findall(r"```yaml\n(.*?)```", TASKS_DOC, re.DOTALL) if b.startswith(f"# {name}\n"))


ARITH = [("Tom has 3 apples and buys 4. How many?", 7), ("A box holds 1,200 pens; 200 are sold. How many left?", 1000)]
QUIZ = [
    {"question": "Which is a fruit?", "A": "stone", "B": "apple", "C": "chair", "D": "cloud", "label": "B"},
    {"question": "Which one flies?", "A": "bird", "B": "fish", "C": "rock", "D": "tree", "label": "A"},
    {"question": "Which is cold?", "A": "fire", "B": "sun", "C": "ice", "D": "lava", "label": "C"},
]


@pytest.fixture
def arith(tmp_path) -> Path:
    (tmp_path / "my_arith.yaml").write_text(_readme_task_file("my_arith.yaml"))
    with (tmp_path / "my_arith.jsonl").open("w") as f:
        for q, a in ARITH:
            f.write(json.dumps({"question": f"  {q} ", "answer": a}) + "\n")
    return tmp_path / "my_arith.yaml"


@pytest.fixture
def quiz(tmp_path) -> Path:
    (tmp_path / "my_quiz.yaml").write_text(_readme_task_file("my_quiz.yaml"))
    with (tmp_path / "my_quiz.csv").open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(QUIZ[0]))
        writer.writeheader()
        writer.writerows(QUIZ)
    return tmp_path / "my_quiz.yaml"


def _answers(script: dict[str, str]):
    """A scripted model: the completion for the first key found in the prompt."""

    def reply(prompt: str) -> str:
        return next((v for k, v in script.items() if k in prompt), " nothing")

    return reply


def test_the_readme_jsonl_task_reads_numbers_and_scores_zero_shot_cot(arith):
    task = load_task(str(arith))
    assert [e.inputs["question"] for e in task.examples] == [q for q, _ in ARITH]
    assert [e.target for e in task.examples] == ["7", "1000"]
    engine = ScriptedEngine(_answers({
        "3 + 4 = 7. \nTherefore, the answer (arabic numerals) is": " 7.",
        "1,000. \nTherefore, the answer (arabic numerals) is": " 1,000.",
        "Tom has 3 apples and buys 4. How many?\nA: Let's think step by step.": " 3 + 4 = 7.",
        "left?\nA: Let's think step by step.": " 1,200 - 200 = 1,000.",
    }))  # fmt: skip
    result = run_method(task, "zero_shot_cot", engine)
    assert (result.summary.correct, result.summary.n) == (2, 2)


def test_the_readme_commands_run_on_a_real_model(arith, quiz, tiny_model, tmp_path):
    for task_file, method in ((arith, "zero_shot_cot"), (quiz, "direct")):
        out = tmp_path / f"run-{method}"
        code = main(["eval", "--task", str(task_file), "--method", method, "--model", str(tiny_model),
                     "--out", str(out), "--no-cache", "--quiet"])  # fmt: skip
        assert code == 0
        summary = json.loads((out / "summary.json").read_text())
        assert summary["task"] == task_file.stem and summary["n"] == len(ARITH if task_file == arith else QUIZ)


def test_the_readme_csv_task_is_a_choice_task_scored_by_letter(quiz):
    task = load_task(str(quiz))
    assert task.answer_kind == "choice" and task.labels == ("A", "B", "C", "D")
    assert task.examples[0].inputs["question"] == (
        "Which is a fruit? Answer Choices: (A) stone (B) apple (C) chair (D) cloud"
    )
    engine = ScriptedEngine(_answers({"fruit": " (B) apple.", "flies": " A pond bird, B.", "cold": " C: ice."}))
    result = run_method(task, "direct", engine)
    assert [s.fields["prediction"] for s in result.states] == ["B", "B", "C"]
    assert (result.summary.correct, result.summary.n) == (2, 3)


@pytest.fixture
def exemplars(tmp_path) -> Path:
    path = tmp_path / "quiz_exemplars.json"
    path.write_text(json.dumps({"exemplars": [
        {"question": "Which is wet? Answer Choices: (A) water (B) sand (C) salt (D) dust", "rationale": "Water is wet.", "answer": "A"},
        {"question": "Which is hot? Answer Choices: (A) snow (B) ice (C) fire (D) frost", "rationale": "Fire is hot.", "answer": "C"},
    ]}))  # fmt: skip
    return path


@pytest.mark.parametrize("method", ["few_shot", "few_shot_cot"])
def test_few_shot_methods_on_a_choice_task_with_a_pool(quiz, exemplars, method):
    task = load_task(str(quiz))
    prompts = []

    def reply(prompt: str) -> str:
        prompts.append(prompt)
        return " The answer is B." if "fruit" in prompt.rsplit("Q: ", 1)[1] else " The answer is D."

    result = run_method(task, method, ScriptedEngine(reply), pool=str(exemplars))
    assert prompts[0].startswith("Q: Which is wet? Answer Choices: (A) water")
    assert ("A: Water is wet. The answer is A.\n\n" in prompts[0]) == (method == "few_shot_cot")
    assert [s.fields["prediction"] for s in result.states] == ["B", "D", "D"]
    assert result.summary.correct == 1


def test_few_shot_without_exemplars_or_a_pool_names_the_task(quiz):
    with pytest.raises(PromptkitError, match=r"task 'my_quiz' names no exemplars .*--pool"):
        run_method(load_task(str(quiz)), "few_shot", ScriptedEngine(lambda p: " A"))


@pytest.mark.parametrize(
    "task, data, replies, votes",
    [
        # choice: three samples per question, a majority of letters
        ("aqua", "AQuA/test.json", [" (C)", " B.", " (C) 12"], "C"),
        # yes/no: a majority of yes and no, whatever the case and punctuation
        ("strategyqa", "StrategyQA/task.json", [" No.", " Yes, because", " no"], "no"),
        # numbers: 1,000 and 1000 are one answer
        ("singleeq", "SingleEq/questions.json", [" 1,000", " 7", " 1000."], "1000"),
    ],
)
def test_samples_vote_over_every_answer_type(shared_data, task, data, replies, votes):
    full = load_task(task, shared_data / "kojima" / "dataset" / data).limit(2)
    counter = Counter()

    def reply(prompt: str) -> str:
        counter[prompt] += 1
        return replies[(counter[prompt] - 1) % len(replies)]

    result = run_method(full, "direct", ScriptedEngine(reply), samples=3)
    assert [s.fields["prediction"] for s in result.states] == [votes, votes]


@pytest.mark.parametrize("method", ["plan_and_solve_plus", "zero_shot_cot"])
def test_the_second_prompt_ends_with_the_tasks_trigger(shared_data, method):
    task = load_task("shuffled_objects", shared_data / "kojima" / "dataset" / "Bigbench_object_tracking" / "task.json")
    prompts = []

    def reply(prompt: str) -> str:
        prompts.append(prompt)
        return " Bob has it." if prompt.endswith((".", "step.")) else " (B)."

    run_method(task.limit(1), method, ScriptedEngine(reply))
    assert prompts[1].endswith(" Bob has it. \nTherefore, among A through C, the answer is")


def test_least_to_most_needs_prompts_the_task_gives(shared_data):
    task = load_task("aqua", shared_data / "kojima" / "dataset" / "AQuA" / "test.json")
    with pytest.raises(PromptkitError, match=r"least_to_most needs prompts written for the task, and task 'aqua'"):
        run_method(task, "least_to_most", ScriptedEngine(lambda p: ""))


def test_the_demonstration_ablations_run_on_yes_no(shared_data, tmp_path):
    path = tmp_path / "yes_no.json"
    path.write_text(json.dumps({"exemplars": [
        {"question": "Is ice cold?", "rationale": "Ice is frozen.", "answer": "yes"},
        {"question": "Is fire cold?", "rationale": "Fire burns.", "answer": "no"},
    ]}))  # fmt: skip
    task = load_task("coin_flip", shared_data / "kojima" / "dataset" / "coin_flip" / "coin_flip.json").limit(3)
    prompts = []
    result = run_method(task, "few_shot", ScriptedEngine(lambda p: prompts.append(p) or " The answer is yes."),
                        pool=str(path), demo_answers="random")  # fmt: skip
    assert result.summary.n == 3
    shown = re.findall(r"A: The answer is (\w+)\.", prompts[0])
    assert set(shown) <= {"yes", "no"} and len(shown) == 2


# --- every shipped task ----------------------------------------------------------------------------


def test_promptkit_tasks_lists_kojimas_twelve_and_zhaos_five(capsys):
    assert main(["tasks"]) == 0
    out = capsys.readouterr().out
    for name in shipped_names():
        assert f"| {name} |" in out
    assert len(shipped_names()) == 12 + 5
    assert {"sst2", "agnews", "trec", "cb", "rte"} <= set(shipped_names())
    assert "| aqua | arithmetic | choice (A, B, C, D, E) | 254 | deepmind/aqua_rat |" in out


def test_every_shipped_task_reads_the_generic_form(tmp_path):
    path = tmp_path / "generic.jsonl"
    for name in shipped_names():
        d = read_definition(name)
        gold = {"number": "12", "choice": (d.answer.labels or ["A"])[0], "yes_no": "Yes", "text": "ab"}[d.answer.type]
        path.write_text(json.dumps({"question": "What is asked?", "answer": gold}) + "\n")
        example = load_task(name, path).examples[0]
        assert example.inputs["question"] == "What is asked?", name
        assert example.target == (gold.lower() if d.answer.type == "yes_no" else gold), name


# --- bad task files and data: one line, exit 2, before any model loads -------------------------------


def _eval(capsys, task: str, data: Path | None = None) -> tuple[int, str]:
    argv = ["eval", "--task", task, "--method", "direct", "--model", "/no/such/model", "--no-cache", "--quiet"]
    code = main(argv + (["--data", str(data)] if data else []))
    err = capsys.readouterr().err.strip()
    return code, err


def _task_file(tmp_path: Path, **changes: str) -> Path:
    text = _readme_task_file("my_quiz.yaml")
    for old, new in changes.items():
        assert old in text
        text = text.replace(old, new)
    path = tmp_path / "my_quiz.yaml"
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    "change, rows, words",
    [
        ({}, [{k: v for k, v in QUIZ[0].items() if k != "question"}], ["my_quiz.csv:2", "'question' is missing"]),
        ({}, [QUIZ[0], {**QUIZ[1], "label": "E"}], ["my_quiz.csv:3", "'E' is not one of the labels A, B, C, D"]),
        ({"type: choice": "type: multiple"}, QUIZ, ["my_quiz.yaml", "answer.type", "'number', 'choice'"]),
        ({"{{ question }} Answer": "{{ question }} {% if %}Answer"}, QUIZ, ["my_quiz.yaml", "example.question", "Jinja syntax error"]),
        ({"{{ question }} Answer": "{{ question | nosuchfilter }} Answer"}, QUIZ, ["my_quiz.yaml", "nosuchfilter"]),
        ({"{{ D }}": "{{ E }}"}, QUIZ, ["my_quiz.csv:2", "'E' is missing"]),
        ({"file: my_quiz.csv": "file: ../elsewhere.csv"}, QUIZ, ["my_quiz.yaml", "data.file", "outside the task file's folder"]),
        ({"labels: [A, B, C, D]": "labels: [A, A]"}, QUIZ, ["my_quiz.yaml", "answer.labels", "distinct"]),
        ({"name: my_quiz": "name: my_quiz\nsurprise: 1"}, QUIZ, ["my_quiz.yaml", "surprise", "unknown field"]),
    ],
)  # fmt: skip
def test_a_bad_task_file_or_record_is_one_line_naming_it(tmp_path, capsys, change, rows, words):
    path = _task_file(tmp_path, **change)
    with (tmp_path / "my_quiz.csv").open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=sorted({k for r in rows for k in r}))
        writer.writeheader()
        writer.writerows(rows)
    code, err = _eval(capsys, str(path))
    assert code == 2 and len(err.splitlines()) == 1 and err.startswith("promptkit: error:"), err
    assert "Traceback" not in err and "/no/such/model" not in err  # no model was looked for
    for word in words:
        assert word in err, (word, err)


def test_an_unknown_task_lists_the_shipped_ones(capsys):
    code, err = _eval(capsys, "svampp")
    assert code == 2 and "unknown task 'svampp'; did you mean 'svamp'?" in err
    assert "coin_flip, commonsensqa" in err


def test_a_task_without_data_of_its_own_says_what_to_give(capsys):
    code, err = _eval(capsys, "coin_flip")
    assert code == 2 and "task 'coin_flip' has no data of its own: give --data FILE (coin_flip/coin_flip.json" in err


def test_a_record_of_a_shipped_task_is_named_by_file_and_line(tmp_path, capsys):
    bad = tmp_path / "aqua.jsonl"
    bad.write_text(json.dumps({"question": "q", "options": ["A)1", "B)2"], "correct": "A"}) + "\n"
                   + json.dumps({"question": "q", "options": ["A)1"], "correct": "Z"}) + "\n")  # fmt: skip
    code, err = _eval(capsys, "aqua", bad)
    assert code == 2 and "aqua.jsonl:2: the gold answer 'Z' is not one of the labels A, B, C, D, E" in err


def test_the_shipped_auto_cot_spec_runs_offline_on_the_data_given(shared_data, tiny_model, tmp_path):
    """It clusters the questions being evaluated (all of the file, whatever --limit), not the hub's train split."""
    lines = (shared_data / "gsm8k" / "test.jsonl").read_text().splitlines()[:30]
    data = tmp_path / "gsm8k30.jsonl"
    data.write_text("\n".join(lines) + "\n")
    out = tmp_path / "run"
    code = main(["run", str(ROOT / "evals" / "specs" / "gsm8k_auto_cot.yaml"), "--data", str(data), "--limit", "2",
                 "--model", str(tiny_model), "--out", str(out), "--no-cache", "--quiet"])  # fmt: skip
    assert code == 0
    assert json.loads((out / "summary.json").read_text())["n"] == 2
