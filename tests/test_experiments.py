"""ICL experiments: demonstration ablations, order sensitivity, sweeps, Auto-CoT, and their report plots."""

from __future__ import annotations

import json
import random

import pytest
import yaml
from helpers import run_method

from promptkit import ScriptedEngine
from promptkit.cli import main
from promptkit.runs.build import zero_shot_reasoner
from promptkit.runs.experiments import sweep_grid
from promptkit.runs.records import RunSummary
from promptkit.runs.spread import spread_stats
from promptkit.stages.library.ablations import derangement
from promptkit.stages.library.auto_cot_build import AutoCoTSettings, auto_cot, reasoning_steps
from promptkit.stages.library.demo_pools import exemplars_from_file, shipped_exemplars
from promptkit.tasks.base import Task
from promptkit.types import Example

GOLD = {d.question: d for d in shipped_exemplars("gsm8k")}


def _task(n: int = 4) -> Task:
    questions = [f"Question number {i}: how many apples?" for i in range(n)]
    return Task(
        "gsm8k", tuple(Example(str(i), {"question": q}, "7") for i, q in enumerate(questions)), "number", "inline"
    )


def _demos_sent(method: str = "few_shot_cot", **options) -> list[list[tuple[str, str]]]:
    """The (question, answer line) pairs of the demonstrations in each prompt sent."""
    engine = ScriptedEngine(lambda p: " The answer is 7.")
    run_method(_task(), method, engine, shots=4, **options)
    out = []
    for request in engine.calls[0]:
        blocks = request.prompt.split("\n\n")[:-1]
        out.append([tuple(b.split("\n", 1)) if "\n" in b else (b, "") for b in blocks])
    return out


def test_derangement_moves_everything_and_is_seeded():
    for n in range(2, 9):
        order = derangement(n, random.Random(n))
        assert sorted(order) == list(range(n)) and all(i != j for i, j in enumerate(order))
    assert derangement(5, random.Random("s")) == derangement(5, random.Random("s"))


def test_random_answers_are_a_seeded_derangement_that_changes_no_question():
    gold = _demos_sent()
    shuffled = _demos_sent(demo_answers="random")
    assert shuffled == _demos_sent(demo_answers="random"), "seeded: the same prompt twice"
    for g, s in zip(gold, shuffled):
        assert [q for q, _ in g] == [q for q, _ in s], "questions untouched"
        answers = [a.rsplit("The answer is ", 1)[1] for _, a in s]
        gold_answers = [a.rsplit("The answer is ", 1)[1] for _, a in g]
        assert sorted(answers) == sorted(gold_answers), "a permutation of the demonstrations' own answers"
        assert all(x != y for x, y in zip(answers, gold_answers)), "every demonstration got another one's"
        rationales = [a.rsplit(" The answer is ", 1)[0] for _, a in s]
        assert rationales == [a.rsplit(" The answer is ", 1)[0] for _, a in g], "rationales kept"
    assert shuffled[0] != shuffled[1], "each example draws its own"


def test_no_answers_leaves_the_questions_alone():
    prompts = _demos_sent(demo_answers="none")
    assert all(answer == "" and question.startswith("Q: ") for p in prompts for question, answer in p)
    assert len(prompts[0]) == 4


def test_rationale_ablations_shuffle_or_drop_the_reasoning():
    gold = _demos_sent()
    for g, s in zip(gold, _demos_sent(demo_rationales="shuffled")):
        assert [a.rsplit("The answer is", 1)[1] for _, a in g] == [a.rsplit("The answer is", 1)[1] for _, a in s]
        assert sorted(a for _, a in g) != sorted(a for _, a in s)
        assert sorted(a.rsplit(" The answer is", 1)[0] for _, a in g) == sorted(
            a.rsplit(" The answer is", 1)[0] for _, a in s
        )
    for q, a in _demos_sent(demo_rationales="none")[0]:
        assert a == f"A: The answer is {GOLD[q.removeprefix('Q: ')].answer}."


def test_random_inputs_swap_questions_and_keep_answers():
    gold = _demos_sent()
    swapped = _demos_sent(demo_inputs="random")
    for g, s in zip(gold, swapped):
        assert [a for _, a in g] == [a for _, a in s]
        shown = {q for q, _ in g}
        assert all(q not in shown and q.removeprefix("Q: ") in GOLD for q, _ in s)


def test_ablations_are_recorded_in_the_summary(tmp_path):
    from promptkit.runs.build import build, run_spec
    from promptkit.runspec.files import validate

    engine = ScriptedEngine(lambda p: " The answer is 7.")
    method = {"name": "few_shot_cot", "shots": 2, "demo_answers": "random", "demo_inputs": "random"}
    spec = validate({"task": {"name": "gsm8k"}, "engine": {"kind": "replay", "path": "x"}, "method": method}, "test")
    result = run_spec(spec, engine, tmp_path / "run", progress=False, built=build(spec, _task()))
    options = json.loads((tmp_path / "run" / "summary.json").read_text())["options"]
    assert options == result.summary.options
    assert (options["demo_answers"], options["demo_rationales"], options["demo_inputs"]) == ("random", "gold", "random")


def test_sweep_grid_is_a_product_and_brackets_keep_a_value_whole():
    assert sweep_grid(["a=1,2", "b=x"]) == [["a=1", "b=x"], ["a=2", "b=x"]]
    assert sweep_grid(["a=[1,2]"]) == [["a=[1,2]"]]


def _summary(accuracy: float, **metrics: float) -> RunSummary:
    return RunSummary(task="t", method="m", n=4, accuracy=accuracy, ci95=(0, 1), engine_calls=1, prompt_tokens=0,
                      completion_tokens=0, wall_seconds=0, metrics=metrics)  # fmt: skip


def test_spread_stats_counts_flips_and_spreads_each_metric():
    rows = lambda marks: [{"id": str(i), "correct": m} for i, m in enumerate(marks)]  # noqa: E731
    runs = [("o0", rows([1, 1, 0, 0]), _summary(0.5, acc_uncalibrated=0.25)),
            ("o1", rows([1, 0, 0, 1]), _summary(0.5, acc_uncalibrated=0.75)),
            ("o2", rows([1, 1, 0, 0]), _summary(0.5, acc_uncalibrated=0.5))]  # fmt: skip
    stats = spread_stats(runs, orders=3)
    assert stats["accuracy"] == [0.5, 0.5, 0.5] and stats["std"] == 0.0 and stats["orders"] == 3
    assert stats["flipped_ids"] == ["1", "3"] and stats["always_right"] == 1 and stats["never_right"] == 1
    assert stats["metrics"]["acc_uncalibrated"] == {"mean": 0.5, "std": 0.25, "min": 0.25, "max": 0.75}


def test_orders_permute_the_same_demonstrations():
    """Scripted: right exactly when the demonstration about 15 trees comes first."""
    engine = ScriptedEngine(
        lambda p: " The answer is 7." if p.startswith("Q: There are 15 trees") else " The answer is 1."
    )
    runs = []
    for k in range(4):
        result = run_method(_task(6), "few_shot_cot", engine, shots=4, order="random", order_seed=k)
        marks = [{"id": s.example.id, "correct": s.fields["prediction"] == "7"} for s in result.states]
        runs.append((f"order-{k}", marks, _summary(sum(m["correct"] for m in marks) / 6)))
        ids = [sorted(d["id"] for d in s.fields["demos"]) for s in result.states]
        assert ids == [ids[0]] * 6, "the same four demonstrations, whatever the order"
    stats = spread_stats(runs, orders=4)
    assert stats["orders"] == 4 and 0 <= stats["min"] <= stats["mean"] <= stats["max"] <= 1
    assert stats["flipped"] > 0, "the order changes which examples are right"


# --- CLI end to end on the real model, and report ------------------------------------------------


@pytest.fixture(scope="module")
def ll_data(tmp_path_factory):
    path = tmp_path_factory.mktemp("ll") / "ll.json"
    assert main(["make-last-letters", "--words", "2", "--count", "3", "--out", str(path)]) == 0
    return path


def _spec(tmp_path, ll_data, method):
    local = tmp_path / "ll.json"  # beside the spec: a spec reads only from its own folder
    local.write_bytes(ll_data.read_bytes())
    ll_data = local
    spec = tmp_path / "spec.yaml"
    engine = {"kind": "hf", "dtype": "float32", "device": "cpu"}
    spec.write_text(
        yaml.safe_dump({"task": {"name": "last_letters", "data": str(ll_data)}, "engine": engine, "method": method})
    )
    return spec


def test_ablation_sweep_orders_and_report_on_the_real_model(smollm2, ll_data, tmp_path):
    spec = _spec(tmp_path, ll_data, {"name": "few_shot", "shots": 3})
    cache = ["--cache", str(tmp_path / "c.sqlite"), "--quiet"]
    sweep = tmp_path / "answers"
    assert main(["sweep", str(spec), "--set", "method.demo_answers=gold,random,none", "--out", str(sweep), *cache]) == 0
    table = json.loads((sweep / "sweep.json").read_text())
    assert [p["values"]["method.demo_answers"] for p in table["points"]] == ["gold", "random", "none"]
    prompts = [json.loads((sweep / p["run"] / "predictions.jsonl").read_text().splitlines()[0])["trace"][0]["prompt"]
               for p in table["points"]]  # fmt: skip
    assert prompts[0] != prompts[1] and "The answer is" not in prompts[2].rsplit("\n\n", 1)[0]
    inputs = tmp_path / "inputs"
    assert main(["sweep", str(spec), "--set", "method.demo_inputs=gold,random", "--set", "method.shots=1,3",
                 "--out", str(inputs), *cache]) == 0  # fmt: skip
    points = json.loads((inputs / "sweep.json").read_text())["points"]
    assert len(points) == 4 and {p["summary"]["metrics"]["demos_used_mean"] for p in points} == {1.0, 3.0}
    orders = tmp_path / "orders"
    assert main(["run", str(spec), "--orders", "3", "--out", str(orders), *cache]) == 0
    stats = json.loads((orders / "spread.json").read_text())
    assert stats["orders"] == 3 and len(stats["accuracy"]) == 3
    cot = _spec(tmp_path, ll_data, {"name": "few_shot_cot", "shots": 2, "max_tokens": {"answer": 16}})
    rationales = tmp_path / "rationales"
    assert (
        main(
            ["sweep", str(cot), "--set", "method.demo_rationales=gold,shuffled,none", "--out", str(rationales), *cache]
        )
        == 0
    )
    report = tmp_path / "report"
    assert main(["report", str(sweep), str(orders), str(rationales), "--out", str(report)]) == 0
    text = (report / "report.md").read_text()
    for png in ("sweep_0.png", "spread.png", "ablations_0.png"):
        assert (report / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and f"]({png})" in text


def test_a_sweep_over_shots_says_how_many_demonstrations_fit(tiny_model, tmp_path, shared_data):
    gsm8k_file = shared_data / "gsm8k" / "test.jsonl"
    spec = tmp_path / "spec.yaml"
    spec.write_text(f"task: {{name: gsm8k, data: {gsm8k_file}, limit: 2}}\nengine: {{kind: hf, model: {tiny_model}}}\n"
                    "method: {name: few_shot_cot, max_tokens: {answer: 8}}\n")  # fmt: skip
    out = tmp_path / "sweep"
    allow = ["--allow-path", str(gsm8k_file)]
    assert (
        main(["sweep", str(spec), "--set", "method.shots=0,2,8", "--out", str(out), "--no-cache", "--quiet", *allow])
        == 0
    )
    points = json.loads((out / "sweep.json").read_text())["points"]
    assert [p["values"]["method.shots"] for p in points] == [0, 2, 8]
    assert [p["summary"]["metrics"]["demos_used_mean"] for p in points] == [0.0, 2.0, 8.0]
    assert "| method.shots |" in (out / "sweep.md").read_text()


def test_a_bad_sweep_point_fails_before_any_run(tmp_path, ll_data, capsys):
    spec = _spec(tmp_path, ll_data, {"name": "few_shot"})
    assert main(["sweep", str(spec), "--set", "method.shots=1,x", "--out", str(tmp_path / "s"), "--quiet"]) == 2
    assert "method.shots" in capsys.readouterr().err and not (tmp_path / "s").exists()


def test_plan_and_solve_on_the_real_model(smollm2, ll_data, tmp_path):
    spec = _spec(tmp_path, ll_data, {"name": "plan_and_solve", "max_tokens": {"reason": 24, "answer": 8}})
    out = tmp_path / "ps"
    assert main(["sweep", str(spec), "--set", "method.name=plan_and_solve,plan_and_solve_plus", "--out", str(out),
                 "--no-cache", "--quiet"]) == 0  # fmt: skip
    for point in json.loads((out / "sweep.json").read_text())["points"]:
        rows = [json.loads(line) for line in (out / point["run"] / "predictions.jsonl").read_text().splitlines()]
        assert len(rows) == 3 and rows[0]["trace"][0]["prompt"].startswith("Q:Take the last letters")
        assert point["summary"]["engine_calls"] == 2


# --- Auto-CoT ---------------------------------------------------------------------------------------


def _pool() -> Task:
    apples = [f"Ann has {i} apples and buys {i + 1} more apples. How many apples does Ann have?" for i in range(6)]
    trains = [
        f"A train runs {i} miles per hour for {i + 2} hours. How many miles does the train run?" for i in range(6)
    ]
    long = ["A train " + "word " * 70 + "How far?"]  # over 60 words: never tried
    questions = apples + trains + long
    return Task(
        "gsm8k", tuple(Example(str(i), {"question": q}, None) for i, q in enumerate(questions)), "number", "pool"
    )


def test_auto_cot_clusters_filters_and_retries_in_batched_rounds():
    tried: list[str] = []

    def script(prompt: str) -> str:
        question = prompt.split("\nA:", 1)[0].removeprefix("Q: ")
        if prompt.endswith("step."):
            tried.append(question)
            long = "Ann has 0 " in question  # the nearest apple question reasons too long at first
            return "\n".join(["step"] * (9 if long else 2))
        return " 5"

    engine = ScriptedEngine(script)
    result = auto_cot(_pool(), engine, zero_shot_reasoner, AutoCoTSettings(clusters=2, seed=0))
    assert len(result.demos) == 2 and all(len(d.question.split()) <= 60 for d in result.demos)
    assert {("apples" in d.question) for d in result.demos} == {True, False}, "one demonstration per topic"
    assert all(d.rationale.startswith("Let's think step by step. step step") and d.answer == "5" for d in result.demos)
    assert not any("word word" in q for q in tried)
    calls_per_round = [len(call) for call in engine.calls]
    assert calls_per_round[:2] == [2, 2], "round 1: both clusters in one call per stage"
    if any("Ann has 0 " in q for q in tried):
        assert calls_per_round[2:] == [1, 1], "round 2: only the cluster whose try failed the step filter"


def test_auto_cot_command_writes_exemplars_any_method_can_use(smollm2, tmp_path):
    pool = tmp_path / "pool.json"
    assert main(["make-last-letters", "--words", "2", "--count", "12", "--seed", "3", "--out", str(pool)]) == 0
    out = tmp_path / "auto.json"
    assert main(["auto-cot", "--task", "last_letters", "--pool", str(pool), "--clusters", "2", "--max-tokens", "32",
                 "--out", str(out), "--no-cache", "--quiet", "--dtype", "float32"]) == 0  # fmt: skip
    data = json.loads(out.read_text())
    assert data["auto_cot"]["clusters"] == 2 and data["auto_cot"]["max_steps"] == 7
    demos = exemplars_from_file(out)
    assert 1 <= len(demos) <= 2 and all(reasoning_steps(d.rationale) <= 7 for d in demos)
    run = tmp_path / "run"
    assert main(["eval", "--task", "last_letters", "--method", "few_shot_cot", "--pool", str(out), "--data", str(pool),
                 "--limit", "1", "--quiet", "--no-cache", "--out", str(run)]) == 0  # fmt: skip
    row = json.loads((run / "predictions.jsonl").read_text().splitlines()[0])
    assert row["trace"][0]["prompt"].startswith(f"Q: {demos[0].question}\nA: {demos[0].rationale}")


def test_orders_need_demonstrations_and_at_least_two(tmp_path, ll_data, capsys):
    replay = tmp_path / "r.jsonl"
    replay.write_text(json.dumps({"prompt": "x", "completions": ["y"]}) + "\n")
    base = ["eval", "--task", "last_letters", "--data", str(ll_data), "--engine", "replay", "--replay", str(replay)]
    assert main([*base, "--method", "zero_shot_cot", "--orders", "3"]) == 2
    assert "--orders needs demonstrations" in capsys.readouterr().err
    assert main([*base, "--method", "few_shot", "--orders", "1"]) == 2
    assert "--orders must be >= 2" in capsys.readouterr().err
