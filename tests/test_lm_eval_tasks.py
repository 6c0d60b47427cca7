"""lm-evaluation-harness's tasks run in promptkit through lm-eval's own code (`--task lm-eval:NAME`).

The agreement test runs eight shipped tasks of different kinds on records written here in each task's own
schema, through lm-eval's evaluator and through promptkit, on SmolLM2: the prompts are equal byte for byte, the
log-likelihoods within 1e-4, the generations and filtered answers identical, every document's metric the same.
The other tests drive promptkit's methods over lm-eval tasks with scripted engines whose answers are known.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import require
from lm_eval_records import TASKS, write_task_folder

from promptkit import load_task
from promptkit.cli import main
from promptkit.engines.scripted import ScriptedEngine
from promptkit.errors import PromptkitError
from promptkit.runs.build import build_method
from promptkit.runs.evaluate import evaluate

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _lm_eval():
    require("lm_eval", "lm-eval tasks are read through lm-eval's own code (the lm-eval extra)")


@pytest.fixture(scope="module")
def folders(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("lm-eval-data")
    return {task: write_task_folder(task, root / task) for task in TASKS}


def _run(task_name: str, folder: Path, method: str, engine, limit: int | None = None, **options):
    task = load_task(f"lm-eval:{task_name}", folder, limit=limit)
    built = build_method(task, method, **options)
    return evaluate(task, built.pipeline, engine, built.extractor, method=method), task


@pytest.mark.reproduction
def test_eight_lm_eval_tasks_run_as_lm_evals_evaluator_runs_them(smollm2, smol_hf, folders):
    """gsm8k and gsm8k_cot (generation, two filters each), arc_easy, boolq, hellaswag (its process_docs hook),
    commonsense_qa, glue's sst2 and winogrande (a context per option): 2 shots under lm-eval's seed."""
    from evals.lm_eval_tasks_agreement import compare, run_lm_eval, run_promptkit

    theirs = run_lm_eval(folders, str(smollm2), shots=2, limit=3, max_gen_toks=24)
    for name, folder in folders.items():
        ours, task = run_promptkit(name, folder, smol_hf, 2, 3, 24)
        report = compare(name, ours, task, theirs[name])
        print(json.dumps(report))
        assert report["equal"], report
        assert report["documents"] == 3 and report["prompts_differing"] == 0 and report["metrics_differing"] == 0
        if task.lm_eval.facts.output_type == "multiple_choice":
            assert report["max_abs_loglikelihood_difference"] < 1e-4
            assert report["promptkit"]["accuracy"] == report["lm_eval"]["acc,none"]
        else:
            assert report["requests"] == 6  # each document through both of the task's filters
            assert report["generations_differing"] == report["answers_differing"] == 0
            assert report["promptkit"]["accuracy"] == report["lm_eval"]["exact_match,strict-match"]


def _scorer(context: str, continuation: str) -> float:
    """The longer option wins: a scripted model whose choice is known."""
    return -10.0 + len(continuation) / 100


def test_multiple_choice_scores_lm_evals_pairs_and_the_prompt_does_not_depend_on_limit_or_batch(folders):
    engine = ScriptedEngine(scorer=_scorer)
    whole, _ = _run("arc_easy", folders["arc_easy"], "lm_eval", engine, shots=2)
    first, _ = _run("arc_easy", folders["arc_easy"], "lm_eval", ScriptedEngine(scorer=_scorer), limit=2, shots=2)
    assert len(engine.score_calls) == 1  # every document's options in one call
    pairs = [s.fields["choice_pairs"] for s in whole.states]
    assert [p[0]["continuation"] for p in pairs] == [" shark", " heat", " light"]
    assert [s.fields["choice_pairs"] for s in first.states] == pairs[:2]
    assert pairs[1][0]["context"].endswith("\n\nQuestion: What melts ice?\nAnswer:")
    assert pairs[1][0]["context"].count("Question:") == 3  # two demonstrations, then the question
    # the longest option; ties to the first, as numpy's argmax: shark (before whale), heat, plastic
    assert [s.fields["prediction"] for s in whole.states] == ["A", "A", "C"]
    assert whole.summary.accuracy == pytest.approx(1 / 3) and whole.summary.task_meta["metric"] == "acc"


def test_a_seed_of_its_own_draws_other_demonstrations_and_lm_evals_seed_is_the_default(folders):
    runs = {}
    for seed in (None, 1234, 7):
        options = {"shots": 2} | ({"selection_seed": seed} if seed is not None else {})
        result, _ = _run("boolq", folders["boolq"], "lm_eval", ScriptedEngine(scorer=_scorer), **options)
        runs[seed] = [s.fields["lm_eval_prompt"] for s in result.states]
    assert runs[None] == runs[1234] and runs[7] != runs[1234]


def test_generation_is_cut_at_until_and_read_by_the_tasks_filters(folders):
    seen = []

    def script(prompt):
        seen.append(prompt)
        asked = prompt.rsplit("Question:", 1)[-1]  # the question after the demonstrations
        return " 3 + 4 = 7\n#### 7\n\nQuestion: next" if "Tom has 3 apples" in asked else " I think 1,000."

    result, task = _run("gsm8k", folders["gsm8k"], "lm_eval", ScriptedEngine(script), shots=1)
    assert task.answer_kind == "number" and result.summary.extractor == "lm-eval:strict-match"
    assert seen[0].endswith("Question: Tom has 3 apples and buys 4 more. How many apples does he have?\nAnswer:")
    assert result.states[0].fields["answer"] == " 3 + 4 = 7\n#### 7\n\n"  # cut at 'Question:'
    assert [s.fields["prediction"] for s in result.states] == ["7", None, None]  # strict-match wants '#### N'
    flexible, _ = _run("gsm8k", folders["gsm8k"], "lm_eval", ScriptedEngine(script), shots=1,
                       extractor="lm-eval:flexible-extract")  # fmt: skip
    assert [s.fields["prediction"] for s in flexible.states] == ["7", "1,000.", "1,000."]
    assert flexible.summary.correct == 1 and result.summary.task_meta["metric"] == "exact_match"


def test_zero_shot_cot_asks_the_tasks_question_and_is_scored_by_its_metric(folders):
    def script(prompt):
        return " 24." if "Therefore" in prompt else "Twelve pens per box, two boxes."

    result, _ = _run("gsm8k", folders["gsm8k"], "zero_shot_cot", ScriptedEngine(script))
    reason = result.states[1].trace[0].prompt
    assert reason == "Q: A box holds 12 pens. How many pens are in 2 boxes?\nA: Let's think step by step."
    assert [s.fields["prediction"] for s in result.states] == ["24", "24", "24"]
    assert [r["correct"] for r in result.rows] == [False, True, False]  # against '#### 24' by exact_match


def test_choice_questions_list_their_options_and_a_fixed_label_set_classifies_with_calibration(folders):
    arc, _ = _run("arc_easy", folders["arc_easy"], "zero_shot_cot", ScriptedEngine(lambda p: " (B) whale"))
    assert (
        arc.states[0]
        .trace[0]
        .prompt.startswith(
            "Q: Which of these is a mammal? Answer Choices: (A) shark (B) whale (C) trout (D) eel\nA: Let's think"
        )
    )
    assert [s.fields["prediction"] for s in arc.states] == ["B", "B", "B"] and arc.summary.correct == 1
    result, task = _run("sst2", folders["sst2"], "classify", ScriptedEngine(scorer=_scorer), calibrate="content_free")
    assert task.labels == ("negative", "positive") and [e.target for e in task.examples] == ["positive", "negative",
                                                                                              "positive"]  # fmt: skip
    assert result.states[0].trace[0].prompt == "a wonderful, moving film\nQuestion: Is this sentence positive or "\
        "negative?\nAnswer:"  # fmt: skip
    assert "p_cf" in result.states[0].fields and result.summary.n == 3


@pytest.mark.parametrize(
    "task, method, options, message",
    [
        ("winogrande", "zero_shot_cot", {}, "puts each option in a context of its own"),
        ("arc_easy", "classify", {}, "gives each question options of its own"),
        ("arc_easy", "least_to_most", {}, r"has none \(lm-eval has no such prompts"),
        ("gsm8k", "lm_eval", {"extractor": "lm-eval:nope"}, "its filters: lm-eval:strict-match, lm-eval:flexible"),
    ],
)
def test_a_method_a_task_cannot_take_is_one_line_naming_why(folders, task, method, options, message):
    with pytest.raises(PromptkitError, match=message) as caught:
        _run(task, folders[task], method, ScriptedEngine(), **options)
    assert "\n" not in str(caught.value)


def test_the_lm_eval_method_on_a_promptkit_task_is_refused():
    with pytest.raises(PromptkitError, match="runs a task of lm-evaluation-harness"):
        build_method(load_task("last_letters", limit=2), "lm_eval")


def test_a_pool_from_its_training_split_serves_promptkits_own_selectors(folders):
    result, _ = _run("arc_easy", folders["arc_easy"], "few_shot", ScriptedEngine(lambda p: " B"), selector="random",
                     shots=2)  # fmt: skip
    prompt = result.states[0].trace[0].prompt
    assert prompt.count("Q: ") == 3 and "Answer Choices: (A)" in prompt


def test_a_task_file_names_an_lm_eval_task_and_its_files_inside_its_folder(folders, tmp_path):
    (tmp_path / "arc").mkdir()
    for split in ("test", "train"):
        (tmp_path / "arc" / f"{split}.jsonl").write_text((folders["arc_easy"] / f"{split}.jsonl").read_text())
    task_file = tmp_path / "arc_local.yaml"
    task_file.write_text("lm_eval: arc_easy\ndata_files:\n  test: arc/test.jsonl\n  train: arc/train.jsonl\n")
    task = load_task(str(task_file))
    assert task.name == "lm-eval:arc_easy" and len(task.examples) == 3
    task_file.write_text("lm_eval: arc_easy\ndata_files:\n  test: ../elsewhere.jsonl\n")
    with pytest.raises(PromptkitError, match=r"arc_local.yaml: data_files.test: .* outside the task file's folder"):
        load_task(str(task_file))
    task_file.write_text("lm_eval: arc_easy\ndata_file: x.jsonl\n")
    with pytest.raises(PromptkitError, match=r"arc_local\.yaml.*data_file"):
        load_task(str(task_file))


def test_missing_files_and_unknown_names_are_one_line(folders, tmp_path):
    with pytest.raises(PromptkitError, match="did you mean arc_easy") as unknown:
        load_task("lm-eval:arc_eazy")
    with pytest.raises(PromptkitError, match=r"holds none of lm-eval task 'arc_easy''s split files \(test.jsonl"):
        load_task("lm-eval:arc_easy", tmp_path)
    (tmp_path / "train.jsonl").write_text((folders["arc_easy"] / "train.jsonl").read_text())
    with pytest.raises(PromptkitError, match="evaluates its 'test' split, and no file is given for it"):
        load_task("lm-eval:arc_easy", tmp_path)
    with pytest.raises(PromptkitError, match="is a tag of 2 tasks"):
        load_task("lm-eval:ai2_arc", folders["arc_easy"])
    assert "\n" not in str(unknown.value)


def test_a_name_loads_without_reading_lm_evals_whole_index(folders, monkeypatch):
    import promptkit.tasks.lm_eval.index as index

    monkeypatch.setattr(index, "full_index", lambda: pytest.fail("a task by name scanned every YAML"))
    assert len(load_task("lm-eval:hellaswag", folders["hellaswag"]).examples) == 3


def test_data_not_on_the_machine_offline_is_one_line_naming_the_dataset_and_the_way_out(tmp_path):
    env = {"HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "HF_DATASETS_CACHE": str(tmp_path / "empty"),
           "HF_HOME": str(tmp_path / "hf"), "PYTHONPATH": str(ROOT)}  # fmt: skip
    done = subprocess.run(
        [sys.executable, "-m", "promptkit", "eval", "--task", "lm-eval:arc_easy", "--method", "lm_eval", "--engine",
         "hf", "--out", str(tmp_path / "run")],
        capture_output=True, text=True, env={**os.environ, **env}, timeout=300,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    line = done.stderr.strip()
    assert "\n" not in line and "Traceback" not in line
    assert "its dataset allenai/ai2_arc (ARC-Easy) cannot be read here" in line
    assert "train (training)" in line and "test (test)" in line and "--data FOLDER holding SPLIT.jsonl" in line


def test_eval_runs_zero_shot_cot_on_local_data_and_names_the_tasks_metric(tiny_model, folders, tmp_path, capsys):
    out = tmp_path / "run"
    args = ["eval", "--task", "lm-eval:arc_easy", "--data", str(folders["arc_easy"]), "--method", "zero_shot_cot",
            "--engine", "hf", "--model", str(tiny_model), "--out", str(out), "--quiet", "--no-cache"]  # fmt: skip
    assert main(args) == 0
    assert " acc " in capsys.readouterr().out
    summary = json.loads((out / "summary.json").read_text())
    assert summary["task"] == "lm-eval:arc_easy" and summary["task_meta"] == {"lm_eval": "arc_easy", "metric": "acc"}
    assert summary["n"] == 3 and summary["engine_calls"] == 2


def test_a_tag_runs_each_of_its_tasks(tiny_model, folders, tmp_path, capsys):
    out = tmp_path / "runs"
    args = ["eval", "--task", "lm-eval:ai2_arc", "--data", str(folders["arc_easy"]), "--method", "lm_eval",
            "--engine", "hf", "--model", str(tiny_model), "--out", str(out), "--quiet", "--no-cache"]  # fmt: skip
    assert main(args) == 0
    assert sorted(p.name for p in out.iterdir() if not p.name.startswith(".")) == ["arc_challenge", "arc_easy"]
    for name in ("arc_challenge", "arc_easy"):
        assert json.loads((out / name / "summary.json").read_text())["task"] == f"lm-eval:{name}"
    assert capsys.readouterr().out.count(" acc ") == 2


def test_tasks_lists_what_the_installed_lm_eval_offers(capsys):
    assert main(["tasks", "--lm-eval", "arc_e*"]) == 0
    out = capsys.readouterr().out
    assert "| lm-eval:arc_easy | task | multiple_choice |" in out and "arc_challenge" not in out
    assert main(["tasks", "--lm-eval", "ai2_arc"]) == 0
    assert "| lm-eval:ai2_arc | tag | 2: arc_challenge, arc_easy |" in capsys.readouterr().out
