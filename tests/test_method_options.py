"""Each method takes the options it uses and refuses the others, naming both; the summary records only
what the run used."""

from __future__ import annotations

import json

import pytest
from conftest import require

from promptkit.errors import PromptkitError
from promptkit.runs.build import build, run_options
from promptkit.runspec.files import validate
from promptkit.runspec.methods import METHODS
from promptkit.runspec.models import MethodSpec, PipelineSpec

# A value for every option, valid in itself, that differs from its default.
VALUES = {"shots": 2, "selector": "random", "order": "random", "selection_seed": 3, "order_seed": 4,
          "demo_answers": "random", "demo_rationales": "none", "demo_inputs": "random", "pool": "p.json",
          "chat": True, "samples": 3, "temperature": 0.5, "seed": 7, "max_tokens": {}, "templates": {},
          "demo_ood_pool": "news.txt", "label_words": "random_english", "calibrate": "content_free",
          "demos": ["pool-0", "pool-1"]}  # fmt: skip
OPTIONS = [name for name in MethodSpec.model_fields if name != "name"]


def test_every_option_has_a_test_value():
    assert set(VALUES) == set(OPTIONS)


def _spec(method: str, task: str = "gsm8k", **options) -> PipelineSpec:
    data = {"task": {"name": task}, "method": {"name": method, **options}}
    return validate(data, "test", PipelineSpec)


@pytest.fixture
def tiny_choice(tmp_path):
    path = tmp_path / "choice.jsonl"
    rows = [{"question": f"Pick {x}. Answer Choices: (A) a (B) b (C) c (D) d (E) e", "answer": x} for x in "ABCAB"]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


CASES = [(m, o) for m in METHODS.names() for o in OPTIONS]


@pytest.mark.parametrize("method, option", CASES, ids=[f"{m}-{o}" for m, o in CASES])
def test_an_option_is_taken_or_refused_by_name(method, option, tiny_gsm8k, tiny_choice, tiny_sst2):
    from promptkit.tasks import load_task

    name, data = ("aqua", tiny_choice) if METHODS.get(method).scores else ("gsm8k", tiny_gsm8k)
    if method == "classify":  # a task in Zhao et al.'s format
        name, data = "sst2", tiny_sst2
    if METHODS.get(method).lm_eval_only:  # lm-eval's own gsm8k over the same file
        require("lm_eval", "the lm_eval method runs lm-eval's tasks")
        name = "lm-eval:gsm8k"
    task = load_task(name, str(data))
    takes = METHODS.get(method).takes
    # Methods with demonstrations draw them from the data file (offline: no training split from the hub).
    pool = {"pool": str(data), "shots": 2} if "pool" in takes else {}
    value = str(data) if option == "pool" else VALUES[option]
    spec = _spec(method, name, **{**pool, option: value})
    if option in takes:
        built = build(spec, task)
        assert option in run_options(spec, built.spec)
    else:
        with pytest.raises(PromptkitError) as refused:
            build(spec, task)
        message = str(refused.value)
        assert message.startswith(f"method.{option}: {method} does not take {option!r}"), message


def test_the_summary_records_only_what_the_method_takes(tiny_gsm8k):
    from promptkit.tasks import load_task

    task = load_task("gsm8k", str(tiny_gsm8k))
    spec = _spec("zero_shot_cot", samples=3)
    options = run_options(spec, build(spec, task).spec)
    assert set(options) == set(METHODS.get("zero_shot_cot").takes)
    assert not {"shots", "selector", "chat", "demo_answers"} & set(options)
    few = _spec("few_shot", shots=2)
    assert run_options(few, build(few, task).spec)["shots"] == 2


@pytest.fixture
def tiny_sst2(tmp_path):
    path = tmp_path / "sst2.jsonl"
    rows = [{"question": f"a {w} film", "answer": a} for w, a in [("fine", "Positive"), ("dull", "Negative")] * 2]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


@pytest.fixture
def tiny_gsm8k(tmp_path):
    path = tmp_path / "g.jsonl"
    path.write_text("".join(f'{{"question": "Ann has {i} apples and buys 3. How many?", "answer": "#### {i + 3}"}}\n'
                            for i in range(3)))  # fmt: skip
    return path
