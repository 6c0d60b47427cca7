"""One pipeline representation: presets expand to stages, flow is checked before work, samples are first-class."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import yaml
from helpers import run_method

from promptkit import ScriptedEngine, build, build_method, evaluate
from promptkit.errors import PromptkitError
from promptkit.runspec.files import validate
from promptkit.tasks.base import Task
from promptkit.types import Completion, Example

TASK = {"name": "gsm8k"}
ENGINE = {"kind": "replay", "path": "unused.jsonl"}


def _task(n: int = 3, gold: str = "18") -> Task:
    return Task("gsm8k", tuple(Example(str(i), {"question": f"q{i}?"}, gold) for i in range(n)), "number", "inline")


def _spec(pipeline=None, method=None, **extra):
    data = {"task": TASK, "engine": ENGINE, **extra}
    if pipeline is not None:
        data["pipeline"] = pipeline
    if method is not None:
        data["method"] = method
    return validate(data, "test")


def _build(pipeline=None, method=None, **extra):
    return build(_spec(pipeline, method, **extra), _task())


GEN = {"kind": "generate", "template": "direct", "max_tokens": 8}


# --- names, sources and outputs are checked before anything runs --------------------------------


@pytest.mark.parametrize("field", ["max_tokens", "templates"])
def test_a_misspelled_stage_name_in_method_options_lists_the_stages(field):
    value = 8 if field == "max_tokens" else "direct"
    with pytest.raises(
        PromptkitError, match=rf"method.{field}: zero_shot_cot has no stage 'reasn' \(its stages: reason, answer\)"
    ):
        _build(method={"name": "zero_shot_cot", field: {"reasn": value}})


def test_a_misspelled_source_names_it_and_lists_what_exists():
    with pytest.raises(PromptkitError) as err:
        _build([GEN, {"kind": "extract", "source": "answr"}])
    message = str(err.value)
    assert "pipeline.1 (extract): reads 'answr'" in message and "answer, question" in message


def test_a_misspelled_output_is_caught_where_it_is_read():
    with pytest.raises(PromptkitError, match=r"pipeline.1 \(extract\): reads 'answer'.*answr"):
        _build([{**GEN, "output": "answr"}, {"kind": "extract"}])
    with pytest.raises(PromptkitError, match="no stage writes 'prediction'"):
        _build([GEN, {"kind": "extract", "output": "predicton"}])


def test_a_template_variable_nothing_provides_names_the_template():
    with pytest.raises(
        PromptkitError,
        match=r"pipeline.1 \(generate\): template 'zero_shot_cot/answer' reads 'rationale'.*question, x",
    ):
        _build([{**GEN, "output": "x"}, {**GEN, "template": "zero_shot_cot/answer"}, {"kind": "extract"}])


def test_a_pipeline_must_call_a_model_and_may_split_once():
    with pytest.raises(PromptkitError, match="calls no model"):
        _build([{"kind": "extract", "source": "question"}])
    with pytest.raises(PromptkitError, match=r"stage name 'answer' is taken by pipeline\.0"):
        _build([GEN, GEN, {"kind": "extract"}])
    with pytest.raises(PromptkitError, match="only one stage may draw n > 1 samples"):
        _build([{**GEN, "n": 2, "output": "a", "name": "a"}, {**GEN, "n": 2}, {"kind": "extract"}])


def test_cli_flags_naming_a_stage_the_method_lacks_exit_2(tmp_path):
    template = tmp_path / "t.j2"
    template.write_text("{{ question }}")
    cmd = [sys.executable, "-m", "promptkit", "render", "--task", "gsm8k", "--method", "zero_shot_cot"]
    result = subprocess.run([*cmd, "--template", f"anwser={template}"], capture_output=True, text=True)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "method.templates: zero_shot_cot has no stage 'anwser' (its stages: reason, answer)" in result.stderr
    result = subprocess.run([*cmd, "--template", str(template)], capture_output=True, text=True)
    assert result.returncode == 2 and "several prompt stages (reason, answer)" in result.stderr


# --- presets are specs --------------------------------------------------------------------------


def test_a_method_expands_into_the_stages_it_runs():
    built = _build(method={"name": "few_shot_cot", "shots": 2, "samples": 3})
    kinds = [s.kind for s in built.spec.pipeline]
    assert kinds == ["select_demos", "pack", "generate", "extract", "vote"]
    generate = built.spec.pipeline[2]
    assert (generate.n, generate.temperature, generate.stop) == (3, 0.7, ["Q:", "</s>", "<|im_end|>"])
    assert built.spec.name == "few_shot_cot" and built.spec.method is None and built.extractor.name == "answer_is"


def test_the_resolved_spec_of_a_method_reproduces_its_prompts(tmp_path):
    engine = ScriptedEngine(lambda p: " The answer is 18.")
    spec = _spec(method={"name": "zero_shot_cot"})
    built = build(spec, _task())
    first = evaluate(built.task, built.pipeline, engine, built.extractor, method="x")
    from promptkit.runs.build import resolved_yaml

    again = build(validate(yaml.safe_load(resolved_yaml(built.spec)), "resolved"), _task())
    second = evaluate(again.task, again.pipeline, engine, again.extractor, method="x")
    assert [s.trace for s in first.states] == [s.trace for s in second.states]


# --- samples ------------------------------------------------------------------------------------


def test_vote_after_one_sample_votes_over_answers_not_characters():
    engine = ScriptedEngine(lambda p: " 18")
    built = _build([GEN, {"kind": "extract"}, {"kind": "vote"}])
    result = evaluate(built.task, built.pipeline, engine, built.extractor, method="x")
    assert [s.fields["prediction"] for s in result.states] == ["18"] * 3
    assert result.states[0].fields["votes"] == {"18": 1} and result.summary.correct == 3


def test_n_samples_without_a_vote_are_scored_on_the_first():
    engine = ScriptedEngine(lambda p: [" 18", " 7", " 7"])
    built = _build([{**GEN, "n": 3, "temperature": 0.5}, {"kind": "extract"}])
    assert built.spec.pipeline[-1].kind == "first"  # written out in the resolved spec
    result = evaluate(built.task, built.pipeline, engine, built.extractor, method="x")
    assert [s.fields["prediction"] for s in result.states] == ["18"] * 3
    assert result.states[0].fields["samples"] == ["18", "7", "7"]
    assert result.summary.correct == 3


def test_zero_shot_cot_with_samples_answers_each_rationale_then_votes():
    rationales = [" r0", " r1", " r2", " r3", " r4"]

    def script(prompt):
        if prompt.endswith("step."):
            return rationales
        return " 18" if prompt.split("step.")[1].startswith(" r0") or " r3" in prompt else " 5"

    engine = ScriptedEngine(script)
    result = run_method(_task(2), "zero_shot_cot", engine, samples=5)
    first, second = engine.calls
    assert len(first) == 2 and first[0].sampling.n == 5 and first[0].sampling.temperature == 0.7
    assert len(second) == 10 and all(r.sampling.n == 1 for r in second)  # one call: every sample of every example
    assert [r.first_sample for r in second[:5]] == [0, 1, 2, 3, 4]  # each sample its own seed
    state = result.states[0]
    assert state.fields["samples"] == ["18", "5", "5", "18", "5"]
    assert state.fields["prediction"] == "5" and state.fields["votes"] == {"18": 2, "5": 3}
    assert result.summary.correct == 0 and result.summary.engine_calls == 2
    # maj@k over 5 samples with 2 right: k=1 -> 2/5; k=5 -> the vote (wrong)
    curve = result.summary.metrics.get("maj_at_k")
    assert list(curve) == ["1", "2", "3", "4", "5"]
    assert curve["1"] == pytest.approx(0.4) and curve["5"] == 0.0
    assert curve["2"] == pytest.approx((1 + 0.5 * 6) / 10)  # both right, or one of each (a tie)
    trace = [r.to_json() for r in state.trace]
    assert trace[0]["completion"] == rationales and [r.get("sample") for r in trace[1:]] == [0, 1, 2, 3, 4]


def test_least_to_most_with_samples_solves_each_decomposition():
    def script(prompt):
        if "812 dollars" not in prompt:  # the decomposition prompt: one parses, one does not
            return [' To answer the question "q0?", we need to know: "a?".', " nonsense"]
        return " The answer is 18." if prompt.endswith("Q: q0?\nA:") else " The answer is 3."

    engine = ScriptedEngine(script)
    result = run_method(_task(1), "least_to_most_promptkit", engine, samples=2)
    state = result.states[0]
    assert state.fields["samples"] == ["18", "18"] and result.summary.metrics.get("maj_at_k") == {"1": 1.0, "2": 1.0}
    notes = [r.note for r in state.trace if r.note]
    assert len(notes) == 1 and "could not be parsed" in notes[0]
    assert len(engine.calls) == 3  # decompose; step 1 (both samples); step 2 (the one with two subquestions)


def test_self_consistency_on_the_real_model_reports_maj_at_k(smollm2, tmp_path):
    from promptkit.cli import main

    data = tmp_path / "ll.json"
    assert main(["make-last-letters", "--words", "2", "--count", "2", "--out", str(data)]) == 0
    budgets = {"zero_shot_cot": {"reason": 24, "answer": 8}, "least_to_most": {"decompose": 24, "solve": 24}}
    for method, max_tokens in budgets.items():
        spec = tmp_path / f"{method}.yaml"
        method_spec = {"name": method, "samples": 5, "seed": 1, "max_tokens": max_tokens}
        engine = {"kind": "hf", "dtype": "float32", "device": "cpu"}
        spec.write_text(yaml.safe_dump({"task": {"name": "last_letters", "data": str(data)}, "engine": engine,
                                        "method": method_spec}))  # fmt: skip
        out = tmp_path / method
        assert main(["run", str(spec), "--no-cache", "--quiet", "--out", str(out)]) == 0
        summary = json.loads((out / "summary.json").read_text())
        assert list(summary["metrics"]["maj_at_k"]) == ["1", "2", "3", "4", "5"]
        assert all(0.0 <= v <= 1.0 for v in summary["metrics"]["maj_at_k"].values())
        rows = [json.loads(line) for line in (out / "predictions.jsonl").read_text().splitlines()]
        assert all(len(r["samples"]) == 5 for r in rows) and summary["options"]["samples"] == 5
        resolved = yaml.safe_load((out / "spec.resolved.yaml").read_text())
        assert resolved["pipeline"][0]["n"] == 5 and resolved["pipeline"][-1]["kind"] == "vote"


# --- failures stay with their example -----------------------------------------------------------


def test_an_exception_for_one_example_fails_that_example_only(tmp_path):
    template = tmp_path / "t.j2"
    template.write_text("{{ question }} {{ 10 // n }}")
    task = Task(
        "gsm8k", tuple(Example(str(i), {"question": f"q{i}", "n": i}, "18") for i in range(3)), "number", "inline"
    )
    spec = _spec([{**GEN, "template": str(template)}, {"kind": "extract"}])
    built = build(spec, task)
    engine = ScriptedEngine(lambda p: " 18")
    result = evaluate(task, built.pipeline, engine, built.extractor, method="x", out_dir=tmp_path / "run")
    assert result.summary.failed == 1 and result.summary.correct == 2
    assert len(engine.calls[0]) == 2  # the failed example was not sent
    rows = [json.loads(line) for line in (tmp_path / "run" / "predictions.jsonl").read_text().splitlines()]
    assert rows[0]["error"].startswith("answer: template ") and "ZeroDivisionError" in rows[0]["error"]
    assert "error" not in rows[1]


def test_a_decomposition_cut_by_length_falls_back_and_says_so():
    class Cut(ScriptedEngine):
        def generate(self, requests, on_complete=None):
            out = super().generate(requests, on_complete)
            return [Completion(c.texts, ("length",) * len(c.texts)) for c in out]

    engine = Cut(lambda p: ' "Ada", "Ada, Bob"' if "outputs" not in p else ' So, "x" outputs "ab".')
    task = Task(
        "last_letters",
        (Example("0", {"question": 'in "Ada Bob" and', "words": ["Ada", "Bob"]}, "ab"),),
        "text",
        "inline",
    )
    result = run_method(task, "least_to_most", engine)
    state = result.states[0]
    assert state.fields["fallback"] and state.fields["subquestions"] == ["Ada, Bob"]
    assert "cut by the token budget" in state.trace[0].note


def test_a_decomposition_that_misses_the_whole_problem_falls_back():
    engine = ScriptedEngine(lambda p: ' "Ada", "Ada, Bob"' if "outputs" not in p.rsplit("Q:", 1)[0][-200:] else " x")
    question = 'Take the last letters of each words in "Ada Bob Cy" and concatenate them.'
    task = Task(
        "last_letters",
        (Example("0", {"question": question, "words": ["Ada", "Bob", "Cy"]}, "aby"),),
        "text",
        "inline",
    )
    result = run_method(task, "least_to_most", engine)
    state = result.states[0]
    assert state.fields["subquestions"] == ["Ada, Bob, Cy"]
    assert "last subproblem is not the whole problem" in state.trace[0].note


def test_the_decomposition_budget_grows_with_the_list():
    engine = ScriptedEngine(lambda p: " x")
    words = [f"word{i}" for i in range(12)]
    task = Task(
        "last_letters",
        (Example("0", {"question": f'in "{" ".join(words)}"', "words": words}, "x"),),
        "text",
        "inline",
    )
    run_method(task, "least_to_most", engine)
    budget = engine.calls[0][0].sampling.max_tokens
    ideal = ", ".join('"' + ", ".join(words[: i + 1]) + '"' for i in range(12))
    assert budget > 128 and budget * 2 >= len(ideal)


def test_build_method_takes_method_fields():
    built = build_method(_task(), "few_shot", shots=1, extractor="default")
    assert built.extractor.name == "default" and built.spec.pipeline[0].k == 1
