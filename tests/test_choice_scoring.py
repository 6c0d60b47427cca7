"""Multiple choice by likelihood: the engines' `score`, the score_choices stage, its methods and metrics,
and agreement with lm-evaluation-harness on CommonsenseQA."""

from __future__ import annotations

import importlib.util
import itertools
import json
import re
from dataclasses import replace
from pathlib import Path

import pytest
from conftest import unavailable
from helpers import run_method

from promptkit import CachedEngine, PipelineSpec, ReplayEngine, ScriptedEngine, build, evaluate
from promptkit.cli import main
from promptkit.errors import EngineUnavailable, PromptkitError
from promptkit.tasks import load_task
from promptkit.types import ScoreRequest

ROOT = Path(__file__).resolve().parents[1]
REQUESTS = [
    ScoreRequest("Question: What is 2 + 3?\nA. 5\nB. 6\nAnswer:", " A"),
    ScoreRequest("Question: What is 2 + 3?\nA. 5\nB. 6\nAnswer:", " B"),
    ScoreRequest("Question: What is 2 + 3?\nA. 5\nB. 6\nAnswer: ", "five, I think"),  # the space moves over
    ScoreRequest("The capital of France is", " Paris"),
    ScoreRequest("", "Hello there"),  # no context: the prefix token, as lm-eval
]


def _full_forward(engine, request: ScoreRequest) -> tuple[float, int]:
    """The reference: one forward pass over context + continuation, as lm-eval computes it."""
    import torch

    context, continuation = engine.tokens.encode_pair(request.context, request.continuation)
    with torch.inference_mode():
        logits = engine.model(torch.tensor([context + continuation])).logits[0].float()
    logp = torch.log_softmax(logits, -1)
    return sum(float(logp[len(context) - 1 + j, t]) for j, t in enumerate(continuation)), len(continuation)


def test_hf_scores_equal_one_forward_pass_over_each_pair(smol_hf):
    scores = smol_hf.score(REQUESTS)
    for request, score in zip(REQUESTS, scores):
        logprob, tokens = _full_forward(smol_hf, request)
        assert score.tokens == tokens and score.logprob == pytest.approx(logprob, abs=1e-4)
    assert scores[3].greedy  # ' Paris' is what SmolLM2 would write
    assert scores[0].logprob > scores[1].logprob  # and 'A. 5' is the right answer


def test_batches_under_a_small_budget_and_shared_demonstrations_score_the_same(smollm2, smol_hf):
    """Both of hf's paths: contexts in right-padded batches (here several, under a budget of 64 tokens and
    2 rows), and contexts that start from the previous one's cache (five questions after the same 8
    demonstrations: enough that running those once saves more than a pass costs)."""
    from promptkit.engines.hf import HFEngine
    from promptkit.engines.model_files import BUILTIN_MODEL

    demos = "".join(f"Q: Question {i} about things? (A) x (B) y\nA: The answer is A.\n\n" for i in range(8))
    questions = ("red", "a cat", "blue", "a dog", "green")
    requests = [ScoreRequest(demos + f"Q: What is {q}?\nA: The answer is", c) for q in questions
                for c in (" A", " B", " A cat")]  # fmt: skip
    requests += REQUESTS
    small = HFEngine(BUILTIN_MODEL, device="cpu", dtype="float32", progress=False, max_batch_tokens=64,
                     max_batch_size=2)  # fmt: skip
    for request, score in zip(requests, small.score(requests)):
        logprob, tokens = _full_forward(smol_hf, request)
        assert score.tokens == tokens and score.logprob == pytest.approx(logprob, abs=1e-4)


def test_questions_after_shared_demonstrations_run_in_one_batch_after_them(smol_hf):
    """The demonstrations run once, then every question after their key-value cache, together: two passes of
    the model for six questions, with the scores of one whole forward pass each."""
    demos = "".join(f"Review: a film, number {i}, that is fine.\nSentiment: Positive\n\n" for i in range(6))
    questions = ["a dull film", "a joy", "not good at all", "wonderful acting", "too long", "a mess"]
    requests = [ScoreRequest(demos + f"Review: {q}\nSentiment:", f" {w}") for q in questions
                for w in ("Negative", "Positive", "Pos itive")]  # fmt: skip
    passes = []
    hook = smol_hf.model.base_model.register_forward_pre_hook(lambda module, args: passes.append(1))
    try:
        scores = smol_hf.score(requests)
    finally:
        hook.remove()
    assert len(passes) == 2, f"{len(passes)} passes: the prefix once, then one batch"
    for request, score in zip(requests, scores):
        logprob, tokens = _full_forward(smol_hf, request)
        assert score.tokens == tokens and score.logprob == pytest.approx(logprob, abs=1e-4)


def test_a_question_behind_other_demonstrations_does_not_shorten_the_shared_prefix():
    """Sorted contexts: two behind other demonstrations (sharing only the first 100 tokens) and five behind
    the same 400; the five form one group with the 400-token prefix, whatever their neighbours."""
    from promptkit.engines.hf_score import _prefix_groups
    from promptkit.engines.implementing import common_prefix_length

    first, same = list(range(100)), list(range(100, 400))
    contexts = sorted(
        [tuple(first + [1000 + k] * 300 + [7, k]) for k in range(2)] + [tuple(first + same + [9, k]) for k in range(5)]
    )
    shared = [0] + [common_prefix_length(a, b) for a, b in itertools.pairwise(contexts)]
    groups = _prefix_groups(contexts, shared)
    assert [(len(m), p) for m, p in groups if len(m) == 5] == [(5, 401)]
    assert sorted(i for m, _ in groups for i in m) == list(range(7))


def test_the_split_moves_a_trailing_space_to_the_continuation(smol_hf):
    a = smol_hf.tokens.encode_pair("Answer: ", "A")
    b = smol_hf.tokens.encode_pair("Answer:", " A")
    assert a == b


@pytest.mark.reproduction
def test_vllm_and_hf_scores_agree(vllm_engine, smol_hf):
    ours, theirs = smol_hf.score(REQUESTS), vllm_engine.score(REQUESTS)
    for a, b in zip(ours, theirs):
        assert a.tokens == b.tokens and abs(a.logprob - b.logprob) < 1e-3 and a.greedy == b.greedy


def test_a_rerun_of_scores_is_served_by_the_cache(smol_hf, tmp_path):
    counted = []

    class Counting(ScriptedEngine):
        def score(self, requests):
            counted.append(len(requests))
            return smol_hf.score(requests)

    inner = Counting(scorer=lambda c, k: 0.0)
    with CachedEngine(inner, tmp_path / "c.sqlite") as cached:
        first = cached.score(REQUESTS)
    with CachedEngine(inner, tmp_path / "c.sqlite") as cached:
        again = cached.score(REQUESTS)
        assert cached.stats().hits == len(REQUESTS) and cached.stats().model_calls == 0
    assert again == first and counted == [len(REQUESTS)]


def test_an_engine_that_cannot_score_says_so_in_one_line():
    with pytest.raises(EngineUnavailable, match="the scripted engine cannot score continuations by likelihood"):
        ScriptedEngine(lambda p: "x").score(REQUESTS[:1])


def _quiz(tmp_path) -> Path:
    path = tmp_path / "quiz.jsonl"
    rows = [("Which is a fruit? Answer Choices: (A) stone (B) apple (C) chair", "B"),
            ("Which one flies? Answer Choices: (A) bird (B) fish (C) rock", "A"),
            ("Which is cold? Answer Choices: (A) fire (B) sun (C) ice", "C")]  # fmt: skip
    path.write_text("".join(json.dumps({"question": q, "answer": a}) + "\n" for q, a in rows))
    return path


def test_choice_scores_every_label_in_one_call_and_takes_the_best(tmp_path):
    task = load_task("shuffled_objects", _quiz(tmp_path))
    table = {"fruit": "B", "flies": "A", "cold": "B"}  # the model is wrong on the last

    def scorer(context: str, continuation: str) -> float:
        wanted = next(v for k, v in table.items() if k in context)
        return -0.5 if continuation == f" {wanted}" else -3.0

    engine = ScriptedEngine(scorer=scorer)
    result = run_method(task, "choice", engine)
    assert len(engine.score_calls) == 1 and len(engine.score_calls[0]) == 9  # 3 questions x 3 labels, one call
    assert engine.score_calls[0][0].context.endswith("\nA: Among A through C, the answer is")
    assert [s.fields["prediction"] for s in result.states] == ["B", "A", "B"]
    assert (result.summary.correct, result.summary.metrics.get("acc_norm")) == (2, 2 / 3)
    assert result.rows[0]["choice_scores"][1] == {"label": "B", "logprob": -0.5, "tokens": 1, "greedy": False}


def test_few_shot_choice_with_random_demonstration_answers(tmp_path):
    task = load_task("shuffled_objects", _quiz(tmp_path))
    contexts = []

    def scorer(context: str, continuation: str) -> float:
        contexts.append(context)
        return -1.0

    run_method(task, "few_shot_choice", ScriptedEngine(scorer=scorer), pool=str(_quiz(tmp_path)), shots=2,
               demo_answers="random")  # fmt: skip
    assert contexts[0].count("\nA: The answer is ") == 2 and contexts[0].endswith("\nA: The answer is")
    gold = {"one flies": "A", "is cold": "C", "is a fruit": "B"}
    shown = re.findall(r"Q: Which (one flies|is cold|is a fruit)\?[^\n]*\nA: The answer is (\w)\.", contexts[0])
    assert len(shown) == 2 and all(answer != gold[q] for q, answer in shown)  # another demonstration's answer


def test_replayed_scores(tmp_path):
    recording = tmp_path / "scores.jsonl"
    recording.write_text("".join(json.dumps({"context": r.context, "continuation": r.continuation, "logprob": -1.5,
                                             "tokens": 2, "greedy": True}) + "\n" for r in REQUESTS))  # fmt: skip
    scores = ReplayEngine(recording).score(REQUESTS)
    assert {(s.logprob, s.tokens, s.greedy) for s in scores} == {(-1.5, 2, True)}


def test_choice_on_a_task_without_labels_is_a_one_line_error(tmp_path):
    path = tmp_path / "n.jsonl"
    path.write_text(json.dumps({"question": "1 + 1?", "answer": "2"}) + "\n")
    with pytest.raises(PromptkitError, match="score_choices needs choices: task 'gsm8k' is a number task"):
        run_method(load_task("gsm8k", path), "choice", ScriptedEngine(scorer=lambda c, k: 0.0))


def test_choice_runs_from_the_command_line_on_the_tiny_model(tiny_model, tmp_path):
    out = tmp_path / "run"
    code = main(["eval", "--task", "shuffled_objects", "--method", "choice", "--data", str(_quiz(tmp_path)),
                 "--model", str(tiny_model), "--out", str(out), "--no-cache", "--quiet"])  # fmt: skip
    assert code == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["n"] == 3 and summary["metrics"]["acc_norm"] is not None and summary["engine_calls"] == 1
    rows = [json.loads(line) for line in (out / "predictions.jsonl").open()]
    assert all(len(r["choice_scores"]) == 3 and r["prediction"] in "ABC" for r in rows)


@pytest.mark.reproduction
@pytest.mark.parametrize("choices", ["letters", "texts"])
def test_scores_agree_with_lm_evaluation_harness_on_20_commonsenseqa_questions(smollm2, shared_data, choices):
    """Letters (lm-eval's own commonsense_qa), and the option texts, whose lengths differ: there acc_norm judges
    questions differently from acc, and lm-eval's acc_norm is matched question by question."""
    if importlib.util.find_spec("lm_eval") is None:
        unavailable("lm-evaluation-harness is not installed (the dev extra brings it)")
    from evals.lm_eval_agreement import compare, run_lm_eval, run_promptkit
    from promptkit.engines.model_files import BUILTIN_MODEL

    data = shared_data / "kojima" / "dataset" / "CommonsenseQA" / "dev_rand_split.jsonl"
    report = compare(run_promptkit(data, 20, BUILTIN_MODEL, choices), run_lm_eval(data, 20, str(smollm2), choices))
    assert report["equal"], report
    assert (report["questions"], report["loglikelihoods"], report["questions_judged_differently"]) == (20, 100, 0)
    assert report["promptkit"]["acc"] == report["lm_eval"]["acc"] and report["is_greedy_differing"] == 0
    assert report["promptkit"]["acc_norm"] == report["lm_eval"]["acc_norm"]
    assert report["max_abs_loglikelihood_difference"] < 1e-4
    if choices == "letters":
        assert report["acc_norm_differs_from_acc"] == 0  # one letter each: the same measure
    else:
        assert report["acc_norm_differs_from_acc"] > 0, report


def _side(lls, greedy=None):
    from evals.lm_eval_agreement import Side

    return Side(
        lls, greedy or {q: [False] * len(v) for q, v in lls.items()}, {q: (True, False) for q in lls}, 0.5, 0.5, 1.0
    )


def test_the_agreement_fails_on_a_question_one_side_lacks_and_counts_what_differs():
    from evals.lm_eval_agreement import compare

    with pytest.raises(ValueError, match=r"promptkit lacks \['q3'\]"):
        compare(_side({"q1": [-1.0, -2.0]}), _side({"q1": [-1.0, -2.0], "q3": [-1.0, -2.0]}))
    report = compare(
        _side({"q1": [-1.0, -2.0], "q2": [-3.0, -4.0]}), _side({"q2": [-3.0, -4.00002], "q1": [-1.0, -2.0]})
    )
    assert (report["loglikelihoods"], report["loglikelihoods_differing"], report["bit_equal"]) == (4, 1, False)
    assert report["max_abs_loglikelihood_difference"] == pytest.approx(2e-5) and report["equal"]
    flipped = compare(_side({"q1": [-1.0]}, {"q1": [True]}), _side({"q1": [-1.0]}, {"q1": [False]}))
    assert flipped["is_greedy_differing"] == 1 and not flipped["equal"]
    judged = compare(_side({"q1": [-1.0]}), replace(_side({"q1": [-1.0]}), outcomes={"q1": (True, True)}))
    assert (judged["questions_judged_differently"], judged["acc_norm_differs_from_acc"], judged["equal"]) == (
        1,
        1,
        False,
    )


def test_option_texts_are_scored_per_example_and_acc_norm_divides_by_their_length(tmp_path):
    """`continuations: texts`: each example's own options, all in one call; the prediction is the option's label,
    acc by log-probability, acc_norm by log-probability per character of the text."""
    path = tmp_path / "csqa.jsonl"
    records = [
        {"id": "q1", "question": {"stem": "Where do fish live?", "choices": [
            {"label": "A", "text": "sea"}, {"label": "B", "text": "a very dry desert"}]}, "answerKey": "B"},
        {"id": "q2", "question": {"stem": "What flies?", "choices": [
            {"label": "A", "text": "bird"}, {"label": "B", "text": "rock"}, {"label": "C", "text": "ox"}]},
         "answerKey": "A"},
    ]  # fmt: skip
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    task = load_task(str(ROOT / "evals" / "tasks" / "commonsense_qa_lm_eval.yaml"), path)
    logprobs = {" sea": -3.0, " a very dry desert": -8.5, " bird": -1.0, " rock": -2.0, " ox": -3.0}
    engine = ScriptedEngine(scorer=lambda context, continuation: logprobs[continuation])
    stage = {"kind": "score_choices", "template": str(ROOT / "evals" / "tasks" / "question_only.j2"),
             "continuations": "texts"}  # fmt: skip
    built = build(PipelineSpec.model_validate({"task": {"name": task.name}, "pipeline": [stage]}), task)
    result = evaluate(task, built.pipeline, engine, built.extractor, method="choice")
    assert len(engine.score_calls) == 1 and [r.continuation for r in engine.score_calls[0]] == list(logprobs)
    # q1: acc takes 'sea' (-3.0); acc_norm takes the desert (-8.5 / 17 = -0.5 per character, against -1.0)
    assert [(s.fields["prediction"], s.fields["prediction_norm"]) for s in result.states] == [("A", "B"), ("A", "A")]
    assert (result.summary.accuracy, result.summary.metrics.get("acc_norm")) == (0.5, 1.0)
    assert result.rows[0]["choice_scores"][1] == {"label": "B", "text": "a very dry desert", "logprob": -8.5,
                                                  "tokens": 4, "greedy": False}  # fmt: skip


def test_option_texts_on_a_task_without_options_is_a_one_line_error(tmp_path):
    (tmp_path / "quiz.yaml").write_text(
        "name: quiz\nexample: {question: '{{ question }}', answer: answer}\nanswer: {type: choice, labels: [A, B, C]}\nprompts: {answer_prefix: 'A:'}\n"
    )
    task = load_task(str(tmp_path / "quiz.yaml"), _quiz(tmp_path))
    stage = {"kind": "score_choices", "template": "direct", "continuations": "texts"}
    with pytest.raises(PromptkitError, match="continuations: texts needs options held as data: task 'quiz' has no"):
        build(PipelineSpec.model_validate({"task": {"name": "quiz"}, "pipeline": [stage]}), task)
