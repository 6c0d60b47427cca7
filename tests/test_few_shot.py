"""Few-shot CoT: GSM8K's prompt is lm-evaluation-harness's gsm8k_cot, byte for byte."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

import pytest
from conftest import unavailable
from helpers import run_method

from promptkit import ScriptedEngine, get_extractor
from promptkit.stages.framework.prompts import ChatPrompt
from promptkit.stages.library.demo_pools import shipped_exemplars
from promptkit.stages.library.extractors import lm_eval_exact_match, lm_eval_flexible, lm_eval_strict
from promptkit.tasks.base import Task
from promptkit.types import Example

QUESTIONS = [
    "Janet’s ducks lay 16 eggs per day. She eats three for breakfast every morning. How many are left?",
    "A robe takes 2 bolts of blue fiber and half that much white fiber.  How many bolts in total does it take?",
]


def _task(questions, name="gsm8k", kind="number"):
    return Task(name, tuple(Example(str(i), {"question": q}, "0") for i, q in enumerate(questions)), kind, "inline")


def _prompts_sent(method: str, task: Task, **options) -> list:
    engine = ScriptedEngine(lambda p: " 1 + 1 = 2. The answer is 2.")
    run_method(task, method, engine, **options)
    return [r.prompt for call in engine.calls for r in call], engine


def _lm_eval_gsm8k_cot(tmp_path: Path, monkeypatch) -> Any:
    """lm-eval's own `gsm8k_cot` task (its YAML, included as shipped), reading QUESTIONS from a local file."""
    if importlib.util.find_spec("lm_eval") is None:
        unavailable("lm-evaluation-harness is not installed (the dev extra brings it)")
    import lm_eval
    from lm_eval.tasks import TaskManager

    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "datasets"))  # `datasets` reads the local file only
    data = tmp_path / "questions.jsonl"
    data.write_text("".join(json.dumps({"question": q, "answer": "#### 0"}) + "\n" for q in QUESTIONS))
    shipped = Path(lm_eval.__file__).parent / "tasks" / "gsm8k" / "gsm8k-cot.yaml"
    (tmp_path / "tasks").mkdir()
    (tmp_path / "tasks" / "local.yaml").write_text(
        f"include: {shipped}\ntask: gsm8k_cot_local\ndataset_path: json\ndataset_name: null\n"
        f"dataset_kwargs:\n  data_files:\n    test: {data}\n"
    )
    return TaskManager(include_path=str(tmp_path / "tasks")).load_task_or_group(["gsm8k_cot_local"])["gsm8k_cot_local"]


@pytest.mark.reproduction
def test_gsm8k_few_shot_cot_prompt_is_byte_identical_to_lm_eval(tmp_path, monkeypatch):
    """Against lm-eval's own prompt builder (`fewshot_context`) on its own task file, not a copy of it."""
    theirs = _lm_eval_gsm8k_cot(tmp_path, monkeypatch)
    expected = [theirs.fewshot_context(doc, num_fewshot=theirs.config.num_fewshot) for doc in theirs.test_docs()]
    prompts, engine = _prompts_sent("few_shot_cot", _task(QUESTIONS))
    assert theirs.config.num_fewshot == 8 and expected[0].count("\nA: ") == 8
    assert prompts == expected
    assert engine.calls[0][0].sampling.stop == tuple(theirs.config.generation_kwargs["until"])
    assert engine.calls[0][0].sampling.temperature == 0.0 and not theirs.config.generation_kwargs["do_sample"]


@pytest.mark.reproduction
def test_shipped_exemplars_are_wei_et_al_as_lm_eval_ships_them(shared_data):
    reference = json.loads((shared_data / "exemplars" / "gsm8k_cot_wei.json").read_text())["exemplars"]
    ours = shipped_exemplars("gsm8k")
    assert [d.question for d in ours] == [e["question"] for e in reference]
    assert [f"{d.rationale} The answer is {d.answer}." for d in ours] == [e["rationale_and_answer"] for e in reference]


def test_gsm8k_few_shot_cot_prompt_shape_without_shared_data():
    prompt = _prompts_sent("few_shot_cot", _task(QUESTIONS[:1]))[0][0]
    assert prompt.startswith(
        "Q: There are 15 trees in the grove. Grove workers will plant trees in the grove today. After they are done, "
        "there will be 21 trees. How many trees did the grove workers plant today?\nA: There are 15 trees originally. "
        "Then there were 21 trees after some more were planted. So there must have been 21 - 15 = 6. The answer is 6.\n\n"
        "Q: If there are 3 cars"
    )
    assert prompt.endswith("23 - 15 is 8. The answer is 8.\n\nQ: " + QUESTIONS[0] + "\nA:")
    assert prompt.count("\n\nQ: ") == 8


def test_shots_take_the_first_k_exemplars():
    prompt = _prompts_sent("few_shot_cot", _task(QUESTIONS[:1]), shots=2)[0][0]
    assert prompt.count("Q: ") == 3 and "Q: If there are 3 cars" in prompt and "Leah" not in prompt


def test_few_shot_without_rationales():
    prompt = _prompts_sent("few_shot", _task(QUESTIONS[:1]), shots=1)[0][0]
    assert prompt == (
        "Q: There are 15 trees in the grove. Grove workers will plant trees in the grove today. After they are done, "
        "there will be 21 trees. How many trees did the grove workers plant today?\nA: The answer is 6.\n\n"
        f"Q: {QUESTIONS[0]}\nA:"
    )


def test_last_letters_few_shot_cot_uses_the_projects_exemplars():
    prompt = _prompts_sent(
        "few_shot_cot",
        _task(['Take the last letters of each words in "Ada Bob" and concatenate them.'], "last_letters", "text"),
    )[0][0]
    assert prompt.startswith(
        'Q: Take the last letters of each words in "Elon Musk" and concatenate them.\n'
        'A: The last letter of "Elon" is "n". The last letter of "Musk" is "k". Concatenating them is "nk". The answer is nk.\n\n'
    )
    assert prompt.endswith('Q: Take the last letters of each words in "Ada Bob" and concatenate them.\nA:')


def test_chat_mode_sends_demonstrations_as_turns():
    prompt = _prompts_sent("few_shot_cot", _task(QUESTIONS[:1]), shots=2, chat=True)[0][0]
    roles = [m["role"] for m in prompt]
    assert roles == ["user", "assistant", "user", "assistant", "user"]
    assert prompt[0]["content"].startswith("Q: There are 15 trees") and prompt[0]["content"].endswith("\nA:")
    assert prompt[1]["content"].endswith("The answer is 6.")
    assert prompt[-1]["content"] == f"Q: {QUESTIONS[0]}\nA:"


def test_chat_prompt_builder_with_system_message():
    messages = ChatPrompt("chat/user", "chat/assistant", system="Be brief.").build({"question": "q", "demos": []})
    assert messages == ({"role": "system", "content": "Be brief."}, {"role": "user", "content": "Q: q\nA:"})


@pytest.mark.parametrize(
    "text, strict, flexible",
    [
        (" 5 + 4 = 9. The answer is 9.\n\n", "9", "9."),
        (" So $1,000 remain. The answer is $1,000.", None, "$1,000."),
        (" I think 12 or 13", None, "13"),
        (" The answer is 18", "1", "18"),  # lm-eval's regex needs a character after the number
    ],
)
def test_lm_eval_filters(text, strict, flexible):
    assert lm_eval_strict(text) == strict
    assert lm_eval_flexible(text) == flexible


def test_lm_eval_exact_match_ignores_commas_dollars_and_final_period():
    assert lm_eval_exact_match("$1,000.", "1,000")
    assert lm_eval_exact_match("9.", "9")
    assert not lm_eval_exact_match("9.5", "9")


def test_the_same_completions_score_several_ways():
    from promptkit.runs.evaluate import prediction_rows

    task = Task("gsm8k", (Example("0", {"question": "q"}, "1,000"),), "number", "inline")
    engine = ScriptedEngine(lambda p: " So we have $1,000. The answer is $1,000.")
    result = run_method(task, "few_shot_cot", engine, shots=1)
    scores = {}
    for name in ("answer_is", "strict-match", "flexible-extract"):
        ex = get_extractor(name, "number")
        rescored = [s.with_fields(prediction=ex.extract(s.fields["answer"])) for s in result.states]
        scores[name] = prediction_rows(rescored, ex)[0]["correct"]
    assert scores == {"answer_is": True, "strict-match": False, "flexible-extract": True}
    assert len(engine.calls) == 1
