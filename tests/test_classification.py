"""Classification where ICL is studied: Zhao et al.'s five tasks and format, demonstrations drawn once per
seed, label probabilities and contextual calibration."""

from __future__ import annotations

import contextlib
import io
import json
import math
from pathlib import Path

import numpy as np
import pytest
from conftest import require
from helpers import TOPICS, run_method

from promptkit import ScriptedEngine, load_task
from promptkit.cli import main
from promptkit.errors import PromptkitError
from promptkit.runspec.methods import used_options
from promptkit.runspec.models import MethodSpec

ZHAO_TASKS = ("sst2", "agnews", "trec", "cb", "rte")


def _topics(tmp_path: Path, rows: list[dict]) -> Path:
    (tmp_path / "topics.yaml").write_text(TOPICS)
    (tmp_path / "topics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return tmp_path / "topics.yaml"


# Probabilities of each label word after each prompt, chosen so that calibration changes one verdict.
PROBABILITIES = {
    "rockets fly": {"World": 0.5, "Tech": 0.2, "Science": 0.1},
    "war ends": {"World": 0.6, "Tech": 0.1, "Science": 0.1},
    "N/A": {"World": 0.6, "Tech": 0.1, "Science": 0.1},
    "": {"World": 0.4, "Tech": 0.05, "Science": 0.05},
    "[MASK]": {"World": 0.5, "Tech": 0.2, "Science": 0.1},
}


def _scorer(context: str, continuation: str) -> float:
    text = context.removeprefix("Article: ").removesuffix("\nAnswer:")
    return math.log(PROBABILITIES[text][continuation.strip()])


def test_calibration_is_zhao_et_als_computed_by_hand(tmp_path):
    """Tech sums two words; the content-free inputs include the empty string. By hand: raw test probabilities
    [0.5, 0.3] and [0.6, 0.2]; content-free raw [0.6, 0.2], [0.4, 0.1], [0.5, 0.3], mean [0.5, 0.2], so
    p_cf = [5/7, 2/7]; calibrated (p / p_cf, renormalised): [0.4, 0.6] and [6/11, 5/11]."""
    rows = [{"text": "rockets fly", "label": "Tech"}, {"text": "war ends", "label": "World"}]
    task = load_task(str(_topics(tmp_path, rows)), tmp_path / "topics.jsonl")
    engine = ScriptedEngine(scorer=_scorer)
    result = run_method(task, "classify", engine, calibrate="content_free")
    assert len(engine.score_calls) == 1, "test and content-free prompts in one engine call"
    assert len(engine.score_calls[0]) == (2 + 3) * 3, "each distinct prompt once, with each of the 3 words"
    first, second = result.states
    assert first.fields["class_probs"] == pytest.approx({"World": 0.625, "Tech": 0.375})
    assert first.fields["p_cf"] == pytest.approx({"World": 5 / 7, "Tech": 2 / 7})
    assert first.fields["class_probs_calibrated"] == pytest.approx({"World": 0.4, "Tech": 0.6})
    assert second.fields["class_probs_calibrated"] == pytest.approx({"World": 6 / 11, "Tech": 5 / 11})
    assert [s.fields["prediction_uncalibrated"] for s in result.states] == ["World", "World"]
    assert [s.fields["prediction"] for s in result.states] == ["Tech", "World"]
    metrics = result.summary.metrics
    assert (result.summary.accuracy, metrics.get("acc_uncalibrated")) == (1.0, 0.5)
    assert metrics.get("p_cf") == pytest.approx({"World": 5 / 7, "Tech": 2 / 7})
    assert metrics.get("predicted_uncalibrated") == {"World": 1.0, "Tech": 0.0}, "the share of each class predicted"
    assert metrics.get("predicted") == {"World": 0.5, "Tech": 0.5}
    assert [r.stage for r in first.trace] == ["score", *["score:content_free"] * 3]
    assert first.trace[2].prompt == "Article: \nAnswer:", "the empty content-free input"
    uncalibrated = run_method(task, "classify", ScriptedEngine(scorer=_scorer))
    assert [s.fields["prediction"] for s in uncalibrated.states] == ["World", "World"]
    assert "p_cf" not in uncalibrated.states[0].fields and uncalibrated.summary.metrics.get("acc_uncalibrated") is None


def test_demonstrations_are_drawn_once_per_seed_and_shared(tmp_path):
    rows = [{"text": f"item {i}", "label": "World" if i % 2 else "Tech"} for i in range(12)]
    path = _topics(tmp_path, rows)
    task = load_task(str(path), tmp_path / "topics.jsonl")
    engine = ScriptedEngine(scorer=lambda c, k: -1.0)
    pool = str(tmp_path / "topics.jsonl")
    result = run_method(task.limit(4), "classify", engine, shots=3, selection_seed=5, pool=pool)
    drawn = [f"pool-{i}" for i in np.random.RandomState(5).choice(12, 3, replace=False)]
    assert all([d["id"] for d in s.fields["demos"]] == drawn for s in result.states), "the reference's draw, shared"
    prompt = engine.score_calls[0][0].context
    assert prompt.startswith(f"Article: {rows[int(drawn[0].split('-')[1])]['text']}\nAnswer: ")
    other = run_method(task.limit(4), "classify", ScriptedEngine(scorer=lambda c, k: -1.0), shots=3, pool=pool)
    assert [d["id"] for d in other.states[0].fields["demos"]] != drawn, "another seed, another draw"
    recorded = [used_options(MethodSpec(name="classify", **named)) for named in ({}, {"selector": "fixed"})]
    assert [r["selector"] for r in recorded] == ["seeded", "fixed"], "the summary records the draw that ran"


@pytest.mark.reproduction
def test_zhaos_600_reference_prompts_render_byte_for_byte(shared_data):
    """Test and content-free prompts of the five tasks at 0, 1, 4 and 8 shots, seeds 0-4, made by their code."""
    from evals.zhao_prompts import compare

    same, total, differences = compare(shared_data / "zhao")
    assert (same, total) == (600, 600), differences[:3]


@pytest.mark.reproduction
def test_promptkit_render_gives_a_reference_row(shared_data, capsys):
    rows = [json.loads(line) for line in (shared_data / "zhao" / "reference_prompts.jsonl").open()]
    row = next(r for r in rows if r["kind"] == "test" and r["dataset"] == "trec" and r["shots"] == 4 and r["seed"] == 2)
    argv = ["render", "--task", "trec", "--method", "classify", "--shots", "4", "--selection-seed", "2",
            "--data", str(shared_data / "zhao" / "trec"), "--example", str(row["test_index"]), "--json"]  # fmt: skip
    assert main(argv) == 0
    shown = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert shown[0]["prompt"] == row["prompt"]


@pytest.mark.reproduction
@pytest.mark.parametrize("task", ZHAO_TASKS)
def test_the_five_tasks_read_zhaos_data_with_their_test_subsample(task, shared_data):
    reference = next(
        json.loads(line)
        for line in (shared_data / "zhao" / "reference_prompts.jsonl").open()
        if f'"dataset": "{task}"' in line and '"test_subsample"' in line
    )
    loaded = load_task(task, shared_data / "zhao" / task)
    assert [int(e.id) for e in loaded.examples] == reference["test_indices"]
    assert {e.target for e in loaded.examples} == {words[0] for words in reference["label_words"].values()}
    whole = load_task(task, shared_data / "zhao" / task, whole_set=True)
    assert len(whole.examples) == reference["test_size"]
    words = {label: loaded.definition.answer.words_of(label) for label in loaded.labels}
    assert list(words.values()) == list(reference["label_words"].values())
    fmt = loaded.definition.prompts.classification
    assert (fmt.prompt_prefix, fmt.q_prefix, fmt.a_prefix) == (
        reference["prompt_prefix"],
        reference["q_prefix"],
        reference["a_prefix"],
    )


def _lines_task(tmp_path: Path) -> Path:
    folder = tmp_path / "data"
    folder.mkdir()
    (folder / "test.txt").write_text("".join(f"{i % 2} sentence number {i} \n" for i in range(10)))
    (folder / "train.txt").write_text("1 a fine film\n0 a dull film\n")
    (tmp_path / "mine.yaml").write_text(
        "name: mine\n"
        "data: {in_folder: test.txt, format: lines, subsample: {size: 4, seed: 0}, expects: 'a folder'}\n"
        "train: {in_folder: train.txt, format: lines}\n"
        "example: {question: '{{ line[2:] | trim }}', answer: \"{{ {'0': 'Negative', '1': 'Positive'}[line[0]] }}\"}\n"
        "answer: {type: choice, labels: [Negative, Positive]}\n"
        "prompts: {answer_prefix: 'A:', classification: {q_prefix: 'Review: ', a_prefix: 'Sentiment: '}}\n"
    )
    return folder


def test_a_folder_of_plain_lines_its_subsample_and_the_whole_set(tmp_path):
    folder = _lines_task(tmp_path)
    task = load_task(str(tmp_path / "mine.yaml"), folder)
    assert [e.id for e in task.examples] == [str(i) for i in np.random.RandomState(0).choice(10, 4, replace=False)]
    assert task.examples[0].inputs["question"] == f"sentence number {task.examples[0].id}"
    assert len(load_task(str(tmp_path / "mine.yaml"), folder, whole_set=True).examples) == 10
    engine = ScriptedEngine(scorer=lambda c, k: -1.0)
    result = run_method(task, "classify", engine, shots=2)
    assert engine.score_calls[0][0].context.startswith("Review: ")
    assert {d["question"] for d in result.states[0].fields["demos"]} == {"a fine film", "a dull film"}
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(["render", "--task", str(tmp_path / "mine.yaml"), "--method", "classify", "--data", str(folder),
                     "--whole-set", "--limit", "10", "--json"])  # fmt: skip
    assert code == 0 and len(out.getvalue().splitlines()) == 10


def test_mistakes_are_one_line_naming_what_is_wrong(tmp_path, capsys):
    folder = _lines_task(tmp_path)
    (folder / "train.txt").unlink()
    with pytest.raises(PromptkitError, match=r"task 'mine': .*data holds no train\.txt \(its train file\)"):
        run_method(load_task(str(tmp_path / "mine.yaml"), folder), "classify", ScriptedEngine(), shots=2)
    with pytest.raises(PromptkitError, match="reads its data from the folder --data names: give --data FOLDER"):
        load_task(str(tmp_path / "mine.yaml"))
    quiz = tmp_path / "quiz.jsonl"
    quiz.write_text(json.dumps({"question": "Which? Answer Choices: (A) x (B) y", "answer": "A"}) + "\n")
    with pytest.raises(PromptkitError, match="classify needs a classification format, and task 'aqua' has none"):
        run_method(load_task("aqua", quiz), "classify", ScriptedEngine())
    code = main(["render", "--task", "sst2", "--method", "classify", "--calibrate", "sometimes"])
    assert code == 2 and "calibrate" in capsys.readouterr().err
    mine = (tmp_path / "mine.yaml").read_text()
    (tmp_path / "big.yaml").write_text(mine.replace("seed: 0}", f"seed: {2**40}}}").replace("name: mine", "name: big"))
    with pytest.raises(PromptkitError, match=r"big\.yaml: data\.subsample\.seed: .*less than or equal to 4294967295"):
        load_task(str(tmp_path / "big.yaml"), folder)
    with pytest.raises(PromptkitError, match="seeded draw takes seeds below 2\\*\\*32"):
        run_method(load_task(str(tmp_path / "mine.yaml"), folder), "classify", ScriptedEngine(), shots=1,
                   selection_seed=2**40)  # fmt: skip


def test_smollm2_classifies_sst2_above_chance_zero_shot(smollm2, shared_data, smol_hf):
    """The real model on 40 of the 300 sentences: zero-shot by label probability is well above chance."""
    task = load_task("sst2", shared_data / "zhao" / "sst2").limit(40)
    result = run_method(task, "classify", smol_hf, calibrate="content_free")
    uncalibrated = result.summary.metrics.get("acc_uncalibrated")
    assert uncalibrated is not None and uncalibrated >= 0.6, uncalibrated
    assert result.summary.accuracy >= 0.6, result.summary.accuracy
    assert all(abs(sum(s.fields["class_probs"].values()) - 1) < 1e-9 for s in result.states)


def test_min_et_al_label_ablations_on_a_shared_draw(tmp_path):
    """Random labels drawn uniformly from the label set, and no labels at all (the inputs alone); a shared
    draw is ablated once per seed, as Min et al. ablate it."""
    rows = [{"text": f"item {i}", "label": "World" if i % 3 else "Tech"} for i in range(30)]
    path = _topics(tmp_path, rows)
    task = load_task(str(path), tmp_path / "topics.jsonl").limit(3)
    pool = str(tmp_path / "topics.jsonl")

    def prompts(**ablation) -> list[str]:
        engine = ScriptedEngine(scorer=lambda c, k: -1.0)
        run_method(task, "classify", engine, shots=16, pool=pool, **ablation)
        return list(dict.fromkeys(r.context for r in engine.score_calls[0]))

    gold = prompts()[0]
    none = prompts(demo_answers="none")[0]
    assert gold.count("Answer: ") == 16 and none.count("Answer: ") == 0 and none.count("Article: ") == 17
    assert none.endswith("Article: item 0\nAnswer:") and "\n\nArticle: " in none, "inputs alone, a blank line apart"
    uniform = prompts(demo_answers="uniform")
    labels = [line.removeprefix("Answer: ") for line in uniform[0].splitlines() if line.startswith("Answer: ")]
    gold_labels = [line.removeprefix("Answer: ") for line in gold.splitlines() if line.startswith("Answer: ")]
    assert set(labels) <= {"World", "Tech"} and labels != gold_labels, "labels drawn anew from the label set"
    assert [line.split("Answer")[0] for line in uniform[0].splitlines()] == [
        line.split("Answer")[0] for line in gold.splitlines()
    ], "the inputs unchanged"
    assert uniform == prompts(demo_answers="uniform"), "seeded"
    blocks = {prompt.rsplit("\n\n", 1)[0] for prompt in uniform}
    assert len(uniform) == 3 and len(blocks) == 1, "one ablated set per seed, shared by every question"


def test_a_named_selector_takes_a_pools_demonstrations_in_its_order(tmp_path):
    """selector: fixed, as evals/bias_table.py sets label patterns (P P P N against N P P P)."""
    rows = [{"text": f"item {i}", "label": "World"} for i in range(3)]
    task = load_task(str(_topics(tmp_path, rows)), tmp_path / "topics.jsonl")
    pool = tmp_path / "pattern.json"
    pattern = [("a", "Tech"), ("b", "Tech"), ("c", "World"), ("d", "Tech")]
    pool.write_text(json.dumps({"exemplars": [{"question": q, "answer": a} for q, a in pattern]}))
    engine = ScriptedEngine(scorer=lambda c, k: -1.0)
    run_method(task, "classify", engine, shots=4, selector="fixed", pool=str(pool))
    prompt = engine.score_calls[0][0].context
    assert prompt.startswith("Article: a\nAnswer: Tech\n\nArticle: b\nAnswer: Tech\n\nArticle: c\nAnswer: World\n\n")


def test_out_of_distribution_inputs_are_length_matched_sentences_of_another_corpus(tmp_path):
    rows = [{"text": "the test", "label": "World"}, {"text": "one two three", "label": "World"},
            {"text": "a b c d e f g h", "label": "Tech"}]  # fmt: skip
    task = load_task(str(_topics(tmp_path, rows)), tmp_path / "topics.jsonl")
    ood = tmp_path / "news.txt"
    lengths = [1, 2, 3, 3, 4, 5, 6, 8, 8, 9, 12, 20, 30]
    ood.write_text("".join(" ".join(f"w{n}x{i}" for i in range(n)) + "\n" for n in lengths) + "\n")
    engine = ScriptedEngine(scorer=lambda c, k: -1.0)
    pool = str(tmp_path / "topics.jsonl")
    run_method(task.limit(1), "classify", engine, shots=2, selector="fixed", pool=pool, demo_inputs="ood",
               demo_ood_pool=str(ood))  # fmt: skip
    prompt = engine.score_calls[0][0].context
    shown = [line.removeprefix("Article: ") for line in prompt.split("\n\n")[0:2] for line in line.splitlines()[:1]]
    labels = [line for line in prompt.splitlines() if line.startswith("Answer: ")]
    assert labels == ["Answer: World", "Answer: Tech"], "labels kept"
    assert all(text.startswith("w") for text in shown), f"sentences of the other corpus: {shown}"
    assert len(shown[0].split()) in (1, 2, 3, 4, 5) and len(shown[1].split()) in (5, 6, 8, 9, 12), "about the length"
    with pytest.raises(PromptkitError, match="inputs: ood needs ood_pool"):
        run_method(task.limit(1), "classify", ScriptedEngine(), shots=2, selector="fixed", pool=pool,
                   demo_inputs="ood")  # fmt: skip


def test_random_english_words_rename_the_classes_in_demonstrations_and_scoring(tmp_path):
    """Min et al.'s random label space: one word per class, one to one, drawn with the selection seed; the
    prediction is still the task's class."""
    require("english_words", "the dev extra brings it")
    from promptkit.stages.library.label_words import random_label_words

    rows = [{"text": f"item {i}", "label": "World" if i % 2 else "Tech"} for i in range(8)]
    task = load_task(str(_topics(tmp_path, rows)), tmp_path / "topics.jsonl").limit(2)
    words = random_label_words(["World", "Tech"], 3)
    assert len(set(words.values())) == 2 and all(w.isalpha() and w.islower() for w in words.values())
    assert words == random_label_words(["World", "Tech"], 3) != random_label_words(["World", "Tech"], 4)
    engine = ScriptedEngine(scorer=lambda c, w: -0.1 if w == " " + words["Tech"] else -3.0)
    result = run_method(task, "classify", engine, shots=4, pool=str(tmp_path / "topics.jsonl"),
                        selection_seed=3, label_words="random_english")  # fmt: skip
    scored = {r.continuation for r in engine.score_calls[0]}
    assert scored == {" " + words["World"], " " + words["Tech"]}, "the new words are what is scored"
    prompt = engine.score_calls[0][0].context
    shown = {line.removeprefix("Answer: ") for line in prompt.splitlines() if line.startswith("Answer: ")}
    assert shown <= set(words.values()) and "World" not in prompt.replace("item", ""), "and what demonstrations show"
    assert [s.fields["prediction"] for s in result.states] == ["Tech", "Tech"], "predictions in the task's classes"
