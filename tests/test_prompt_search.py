"""Prompt search (`promptkit tune --method demo_search | bootstrap | instruction_search`) on scripted engines
whose best prompt is known: each method finds it within its budget, a killed search resumes, a second run
is served by the cache, no test record is ever scored, and best.yaml runs to the logged score."""

from __future__ import annotations

import contextlib
import io
import json
import re
from pathlib import Path

import pytest
import yaml
from helpers import TOPICS

from promptkit.cli import main
from promptkit.engines import CachedEngine, ScriptedEngine
from promptkit.engines.base import Engine
from promptkit.files.search_log import search_curve
from promptkit.runs.build import build
from promptkit.runs.evaluate import evaluate
from promptkit.runspec.files import read_spec_file, validate
from promptkit.search import SearchSettings
from promptkit.search.data import search_data
from promptkit.search.halving import affordable, alive_counts, planned_scorings, rung_sizes
from promptkit.search.log import log_path, read_log
from promptkit.search.run import read_search_header, search, search_seeds
from promptkit.stages.framework.templating import default_templates
from promptkit.tasks import load_task

WORDS = ["rockets", "war", "chips", "peace", "robots", "votes", "code", "treaty", "lasers", "border", "apps", "kings"]
KEY = "lasers again news"
"""The training record whose presence among the demonstrations makes the scripted model right."""


@pytest.fixture(scope="module")
def topics(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("search")
    (folder / "topics.yaml").write_text(TOPICS)

    def rows(suffixes):
        return [{"text": f"{w} {v} news", "label": "Tech" if i % 2 == 0 else "World"}
                for i, w in enumerate(WORDS) for v in suffixes]  # fmt: skip

    (folder / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows(("today", "again", "now"))))
    (folder / "test.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows(("tonight",))))
    return {"task": folder / "topics.yaml", "train": folder / "train.jsonl", "test": folder / "test.jsonl"}


GOLD = {f"{w} {v} news": "Tech" if i % 2 == 0 else "World"
        for i, w in enumerate(WORDS) for v in ("today", "again", "now", "tonight")}  # fmt: skip


def _asked(context: str) -> str:
    return context.rsplit("Article: ", 1)[1].split("\n")[0]


def rewarding(rule) -> ScriptedEngine:
    """Right (the gold class far likelier) where rule(context) holds; wrong everywhere else."""

    def scorer(context: str, continuation: str) -> float:
        gold = GOLD.get(_asked(context), "World")
        right = continuation.strip() in ({"Tech", "Science"} if gold == "Tech" else {"World"})
        return (-0.1 if right else -5.0) if rule(context) else (-5.0 if right else -0.1)

    return ScriptedEngine(scorer=scorer)


def _pool_id(topics, text: str) -> str:
    texts = [json.loads(line)["text"] for line in topics["train"].read_text().splitlines()]
    return f"pool-{texts.index(text)}"


def _task(topics):
    return load_task(str(topics["task"]), topics["test"])


def _search(topics, engine, settings, out, **extra):
    spec = {"name": str(topics["task"]), "data": str(topics["test"])}
    return search(_task(topics), engine, settings, out, task_spec=spec, engine_spec={"kind": "hf"},
                  pool=str(topics["train"]), progress=False, **extra)  # fmt: skip


def _contexts(engine: ScriptedEngine) -> list[str]:
    return [r.context for call in engine.score_calls for r in call] + [str(r.prompt) for c in engine.calls for r in c]


def test_successive_halving_plans_the_budget_exactly():
    assert alive_counts(15, 2) == [15, 8, 4, 2] and rung_sizes(15, 64, 2, 8) == [8, 16, 32, 64]
    assert affordable(29, 1, 2, 100, 64, 8) == 15 and affordable(28, 1, 2, 100, 64, 8) == 14
    assert affordable(1, 2, 2, 100, 64, 8) == 0
    # On 12 examples the first rungs all take 8: a candidate kept is not scored on the same 8 again.
    assert rung_sizes(15, 12, 2, 8) == [8, 8, 8, 12] and planned_scorings(15, 12, 2, 8) == 15 + 2


def test_demo_search_finds_the_demonstration_that_helps_within_its_budget(topics, tmp_path):
    engine = rewarding(lambda c: KEY in c.rsplit("Article: ", 1)[0])
    settings = SearchSettings("demo_search", shots=2, budget=29, dev=12)
    result = _search(topics, engine, settings, tmp_path / "best.yaml")
    header = read_search_header(result.spec)
    assert header["calls"] == 29 and header["candidates"] == 27 and len(engine.score_calls) == header["calls"]
    assert header["score"] == 1.0 and _pool_id(topics, KEY) in result.best.demos, result.best
    _, entries = read_log(result.log)
    assert max(e["spent"] for e in entries) == header["calls"]
    full = [e for e in entries if e["examples"] == 12]
    assert len(full) == 2 and max(e["score"] for e in full) == header["score"]
    # No test record is ever scored: every question asked is a training record's.
    asked = {_asked(c) for c in _contexts(engine)}
    assert asked and not any("tonight" in q for q in asked), sorted(asked)[:5]
    # best.yaml runs, and on the development examples gives the logged score again.
    spec = validate(read_spec_file(result.spec), str(result.spec))
    dev = search_data(_task(topics), 12, 0, str(topics["train"])).dev
    built = build(spec, dev)
    assert evaluate(dev, built.pipeline, engine, built.extractor, method="x").summary.accuracy == header["score"]
    assert spec.method.demos == list(result.best.demos) and Path(spec.task.data).resolve() == topics["test"].resolve()


def test_the_same_seed_gives_the_same_search_and_another_seed_another(topics, tmp_path):
    def chosen(seed: int, out: str):
        engine = rewarding(lambda c: KEY in c.rsplit("Article: ", 1)[0])
        result = _search(topics, engine, SearchSettings("demo_search", shots=2, budget=12, dev=12, seed=seed),
                         tmp_path / out)  # fmt: skip
        return [(e["candidate"], e["score"]) for e in read_log(result.log)[1]]

    assert chosen(3, "a.yaml") == chosen(3, "b.yaml") != chosen(4, "c.yaml")


class Killed(Exception):
    pass


class DiesAfter(Engine):
    """Passes `calls` calls through, then fails: a search killed mid-way."""

    def __init__(self, inner: ScriptedEngine, calls: int) -> None:
        self.inner, self.left = inner, calls
        self.identity, self.scores, self.tokens, self.streams = inner.identity, True, None, False

    def score(self, requests):
        if self.left == 0:
            raise Killed()
        self.left -= 1
        return self.inner.score(requests)

    def generate(self, requests, on_complete=None):
        return self.inner.generate(requests, on_complete)


def test_a_killed_search_resumes_where_it_stopped_and_a_second_is_served_by_the_cache(topics, tmp_path):
    rule = lambda c: KEY in c.rsplit("Article: ", 1)[0]  # noqa: E731
    settings = SearchSettings("demo_search", shots=2, budget=20, dev=12)
    whole = _search(topics, rewarding(rule), settings, tmp_path / "whole.yaml")
    dying = rewarding(rule)
    with pytest.raises(Killed):
        _search(topics, DiesAfter(dying, 7), settings, tmp_path / "resumed.yaml")
    assert not (tmp_path / "resumed.yaml").exists() and len(read_log(log_path(tmp_path / "resumed.yaml"))[1]) == 7
    rest = rewarding(rule)
    resumed = _search(topics, rest, settings, tmp_path / "resumed.yaml")
    assert resumed.replayed == 7 and len(rest.score_calls) == whole.header["calls"] - 7
    assert (resumed.best, resumed.score, resumed.header["calls"]) == (whole.best, whole.score, whole.header["calls"])
    # Through the generation cache: the second search's calls never reach the model.
    first, second = rewarding(rule), rewarding(rule)
    _search(topics, CachedEngine(first, tmp_path / "cache.sqlite"), settings, tmp_path / "one.yaml")
    again = _search(topics, CachedEngine(second, tmp_path / "cache.sqlite"), settings, tmp_path / "two.yaml")
    assert first.score_calls and not second.score_calls and again.best == whole.best
    assert again.header["cache_hits"] > 0 and again.header["calls"] == whole.header["calls"]


def test_globale_ranks_without_labels(topics, tmp_path):
    """A prompt that predicts one class for everything has no entropy; GlobalE never picks it."""

    def scorer(context: str, continuation: str) -> float:
        """After KEY the class follows the probe's first word; otherwise it is always World."""
        tech = KEY in context.rsplit("Article: ", 1)[0] and _asked(context).startswith("alpha")
        return -0.1 if (continuation.strip() in ("Tech", "Science")) == tech else -3.0

    engine = ScriptedEngine(lambda prompt: ["alpha one", "beta two"], scorer=scorer)
    settings = SearchSettings("demo_search", shots=2, budget=9, dev=12, criterion="globale")
    result = _search(topics, engine, settings, tmp_path / "g.yaml")
    _, entries = read_log(result.log)
    assert len(engine.calls) == 1 and entries[0]["work"] == "probing set"
    assert result.header["criterion"] == "globale" and result.header["calls"] == 9
    assert result.score == max(e["globale"] for e in entries[1:]) > 0
    assert all(e["globale"] == 0 for e in entries[1:] if _pool_id(topics, KEY) not in e["demos"])
    assert _pool_id(topics, KEY) in result.best.demos


def test_instruction_search_finds_the_proposed_instruction_that_helps(topics, tmp_path):
    wanted = "Sort the articles by topic."
    engine = rewarding(lambda c: c.startswith(wanted + "\n\n"))

    def propose(prompt) -> str | list[str]:
        if str(prompt).startswith("I gave a friend"):
            return " sort the articles by topic.\nmore"
        return ["<INS>Classify it.</INS>", "<INS>Name the topic.</INS>", "x", "y"]

    proposer = ScriptedEngine(propose)
    settings = SearchSettings("instruction_search", shots=0, budget=12, dev=12, proposals=2)
    result = _search(topics, engine, settings, tmp_path / "i.yaml", proposer=proposer)
    assert result.best.words == (("prompt_prefix", wanted + "\n\n"),) and result.score == 1.0
    _, entries = read_log(result.log)
    scored = [e for e in entries if "candidate" in e]
    assert scored[0]["origin"] == "current" and scored[0]["words"] == {"prompt_prefix": ""}
    assert result.header["calls"] <= 12 and [len(c) for c in proposer.calls][:3] == [2, 1, 1]
    ape = str(proposer.calls[0][0].prompt)
    assert ape.startswith("I gave a friend an instruction.") and ape.endswith("\n\nThe instruction was to")
    opro = str(proposer.calls[1][0].prompt)
    assert "text:\nSort the articles by topic.\nscore:\n100\n" in opro and opro.rstrip().endswith("all problems above.")
    spec = yaml.safe_load((tmp_path / "i.yaml").read_text())
    assert spec["method"]["shots"] == 0 and spec["words"] == {"prompt_prefix": wanted + "\n\n"}
    assert all(c.startswith(("Article: ", wanted, "Classify", "Name")) for c in _contexts(engine)), "zero demos"


def _last_letters(question: str) -> str:
    return "".join(w[-1] for w in re.search(r'"(.*)"', question).group(1).split())


def test_trigger_search_takes_opros_published_trigger_when_it_is_the_one_that_works(tmp_path):
    def script(prompt) -> str:
        text = str(prompt)
        if not text.rstrip().endswith("is"):
            return " some reasoning."
        right = "A: Take a deep breath and work on this problem step-by-step." in text
        return " " + (_last_letters(text) if right else "xyz") + "."

    task = load_task("last_letters").limit(5)
    settings = SearchSettings("instruction_search", budget=8, dev=6, proposals=1)
    result = search(task, ScriptedEngine(script), settings, tmp_path / "t.yaml", task_spec={"name": "last_letters"},
                    engine_spec={"kind": "hf"}, progress=False)  # fmt: skip
    assert result.best.words == (("cot_trigger", "Take a deep breath and work on this problem step-by-step."),)
    assert result.header["searched"] == "zero_shot_cot" and result.score == 1.0
    origins = [e["origin"] for e in read_log(result.log)[1] if "origin" in e]
    assert origins[:3] == ["current", "published: APE", "published: OPRO"]


def test_bootstrap_keeps_the_rationales_the_teacher_got_right(tmp_path):
    """The teacher is right on questions whose first name ends in a vowel; only those are kept."""

    def teacher(prompt) -> str:
        question = str(prompt).rsplit("Q: ", 1)[1]
        words = re.search(r'"(.*)"', question).group(1).split()
        right = words[0][-1] in "aeiou"
        return f" I take the last letters. The answer is {_last_letters(question) if right else 'zz'}."

    task = load_task("last_letters").limit(5)
    settings = SearchSettings("bootstrap", shots=2, budget=10, dev=6, bootstrap=12)
    teach = ScriptedEngine(teacher)

    def student(prompt) -> str:
        """Right only after the first kept demonstration: the search has to find it among the kept ones."""
        first = json.loads((tmp_path / "b.demos.json").read_text())["exemplars"][0]["question"]
        demos, question = str(prompt).rsplit("Q: ", 1)
        return f" The answer is {_last_letters(question) if first in demos else 'q'}."

    student = ScriptedEngine(student)
    result = search(task, student, settings, tmp_path / "b.yaml", task_spec={"name": "last_letters"},
                    engine_spec={"kind": "hf"}, teacher=teach, progress=False)  # fmt: skip
    kept = json.loads((tmp_path / "b.demos.json").read_text())["exemplars"]
    assert len(teach.calls) == 1 and len(teach.calls[0]) == 12 and kept
    assert all(re.search(r'"(\w+)', k["question"]).group(1)[-1] in "aeiou" for k in kept)
    assert all(k["rationale"] == "I take the last letters." for k in kept)
    spec = validate(read_spec_file(result.spec), str(result.spec))
    assert spec.method.pool == str((tmp_path / "b.demos.json").resolve()) and len(spec.method.demos) == 2
    assert "exemplar-0" in spec.method.demos and result.score == 1.0 and result.header["calls"] <= 10


def test_templates_match_ape_and_opro_byte_for_byte():
    t = default_templates()
    ape = t.render("search/ape", {"pairs": [{"input": "a", "output": "b"}, {"input": "c", "output": "d"}]})
    assert ape == ("I gave a friend an instruction. Based on the instruction they produced the following input-output "
                   "pairs:\n\nInput: a\nOutput: b\n\nInput: c\nOutput: d\n\nThe instruction was to")  # fmt: skip
    # OPRO's gen_meta_prompt (A_begin, a chat optimizer, two instructions and two problems), as its code renders it.
    reference = (
        "Your task is to generate the answer starting sentence <Start>. Below are some previous starting sentences "
        "with their scores. The score ranges from 0 to 100.\n\ntext:\nLet's solve the problem.\nscore:\n60\n\ntext:\n"
        "Ins B\nscore:\n72\n\n\nBelow are some problems.\n\nQ: Q one?\nA: <Start>\nGround truth answer:\n18\n\nQ: Q two?"
        "\nA: <Start>\nGround truth answer:\n3\n\n\nGenerate a starting sentence that is different from all the <Start> "
        "sentences above, and has a higher score than all the <Start> sentences above. The starting sentence should "
        "begin with <Start> and end with </Start>. The starting sentence should be concise, effective, and generally "
        "applicable to all QA pairs above."
    )
    scored = [{"text": "Let's solve the problem.", "score": 60}, {"text": "Ins B", "score": 72}]
    problems = [{"question": "Q one?", "answer": "18"}, {"question": "Q two?", "answer": "3"}]
    assert t.render("search/opro", {"starting": True, "scored": scored, "problems": problems}) == reference


def _cli(args: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
        try:
            code = main(args)
        except SystemExit as exc:
            code = int(exc.code or 0)
    return code, out.getvalue(), err.getvalue()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--budget", "0"], "budget: 0; 1 to"),
        (["--seed", "-1"], "--seed"),
        (["--proposer", "PROPOSER"], "kind"),
        (["--teacher", "PROPOSER"], "--teacher: bootstrap's"),
        (["--steps", "3"], "--steps: a learned prompt's flag"),
        (["--seeds", "1"], "--seeds must be >= 2"),
        (["--limit", "5"], "--limit: the test examples the --seeds runs score"),
        (["--shots", "0"], "shots: 0 leaves demo_search nothing to choose"),
        (["--calibrate", "--searched", "few_shot"], "--calibrate"),
    ],
)
def test_bad_flags_are_one_line_before_any_call(topics, tmp_path, extra, message):
    (tmp_path / "proposer.yaml").write_text("model: x\n")
    extra = [str(tmp_path / "proposer.yaml") if e == "PROPOSER" else e for e in extra]
    method = "instruction_search" if "--proposer" in extra else "demo_search"
    argv = ["tune", "--task", str(topics["task"]), "--data", str(topics["test"]), "--pool", str(topics["train"]),
            "--method", method, "--out", str(tmp_path / "x.yaml"), "--engine", "openai", "--model", "m",
            "--base-url", "http://127.0.0.1:9/v1", "--quiet", *extra]  # fmt: skip
    code, _, err = _cli(argv)
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "x.yaml").exists() and not log_path(tmp_path / "x.yaml").exists()


def test_learned_prompts_refuse_search_flags(topics, tmp_path):
    argv = ["tune", "--task", str(topics["task"]), "--method", "bbt", "--shots", "2", "--out", str(tmp_path / "x")]
    code, _, err = _cli(argv)
    assert code == 2 and "--shots: a prompt search's flag" in err


def test_promptkit_tune_searches_on_the_tiny_model_and_promptkit_run_evaluates_the_spec(topics, tiny_model, tmp_path):
    out = tmp_path / "best.yaml"
    argv = ["tune", "--task", str(topics["task"]), "--data", str(topics["test"]), "--pool", str(topics["train"]),
            "--method", "demo_search", "--shots", "2", "--budget", "6", "--dev", "8", "--calibrate",
            "--model", str(tiny_model), "--out", str(out), "--cache", str(tmp_path / "c.sqlite"), "--quiet"]  # fmt: skip
    code, printed, err = _cli(argv)
    assert code == 0, err
    header = read_search_header(out)
    assert f"best development accuracy {header['score']:.1%} on 8 examples" in printed and str(out) in printed
    assert header["calls"] <= 6 and header["prompt_tokens"] > 0
    code, printed, err = _cli(["run", str(out), "--model", str(tiny_model), "--out", str(tmp_path / "run"),
                               "--no-cache", "--quiet", "--allow-path", str(topics["task"].parent)])  # fmt: skip
    assert code == 0, err
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["n"] == 12 and summary["options"]["demos"] and summary["options"]["calibrate"] == "content_free"


def test_promptkit_report_draws_the_search_curve(topics, tmp_path):
    engine = rewarding(lambda c: KEY in c.rsplit("Article: ", 1)[0])
    result = _search(topics, engine, SearchSettings("demo_search", shots=2, budget=12, dev=12), tmp_path / "s.yaml")
    _, entries = read_log(result.log)
    curve = search_curve(entries)
    assert [c for c, _ in curve] == sorted(c for c, _ in curve) and curve[-1] == (12, result.score)
    code, _, err = _cli(["report", str(tmp_path), "--out", str(tmp_path / "report")])
    assert code == 0, err
    report = (tmp_path / "report" / "report.md").read_text()
    assert f"| s.search.jsonl | demo_search | topics | 12 | {result.score:.1%} |" in report
    assert (tmp_path / "report" / "search.png").read_bytes()[:4] == b"\x89PNG"


def _render(*argv: str) -> tuple[int, str, str]:
    return _cli(["render", "--task", "last_letters", *argv])


def test_a_spec_pins_demonstrations_by_id_and_replaces_task_words():
    code, printed, err = _render("--method", "few_shot_cot", "--set", "method.demos=[pool-3, pool-1]", "--json")
    assert code == 0, err
    prompt = json.loads(printed.splitlines()[0])["prompt"]
    from promptkit.tasks import load_train, read_definition

    train = load_train(read_definition("last_letters")).examples
    questions = [q.split("\n")[0] for q in prompt.split("Q: ")[1:]]
    assert questions[:2] == [train[3].inputs["question"], train[1].inputs["question"]] and len(questions) == 3
    code, printed, err = _render("--method", "zero_shot_cot", "--set", "words.cot_trigger=Take a deep breath.")
    assert code == 0 and "\nA: Take a deep breath.\n" in printed, err
    for argv, message in [
        (("--method", "zero_shot_cot", "--set", "words.trigger=x"), "words.trigger: task 'last_letters' has no such"),
        (("--method", "few_shot_cot", "--set", "method.demos=[pool-99999]"), "'pool-99999' is not a record"),
        (("--method", "few_shot_cot", "--set", "method.demos=[pool-1, pool-1]"), "'pool-1' is named twice"),
        (("--method", "few_shot_cot", "--shots", "2", "--set", "method.demos=[pool-1]"), "k=2, but ids names 1"),
        (("--method", "few_shot_cot", "--selector", "random", "--set", "method.demos=[pool-1]"), "no selector"),
    ]:
        code, _, err = _render(*argv)
        assert code == 2 and message in err and len(err.strip().splitlines()) == 1, (argv, err)


def test_seeds_repeat_the_whole_search_and_report_test_accuracy_over_them(topics, tmp_path):
    engine = rewarding(lambda c: KEY in c.rsplit("Article: ", 1)[0])
    settings = SearchSettings("demo_search", shots=2, budget=6, dev=12, seed=5)
    spec = {"name": str(topics["task"]), "data": str(topics["test"])}
    many = search_seeds(_task(topics), engine, settings, tmp_path / "best.yaml", 3, task_spec=spec,
                        engine_spec={"kind": "hf"}, pool=str(topics["train"]), progress=False)  # fmt: skip
    assert [s.spec.name for s in many.searches] == ["best.seed5.yaml", "best.seed6.yaml", "best.seed7.yaml"]
    assert [s.header["seed"] for s in many.searches] == [5, 6, 7]
    tests = [json.loads((many.folder / f"seed-{s}" / "summary.json").read_text()) for s in (5, 6, 7)]
    accuracies = [t["accuracy"] for t in tests]
    assert all(t["n"] == 12 for t in tests) and many.stats["accuracy"] == accuracies
    assert many.stats["mean"] == pytest.approx(sum(accuracies) / 3) and many.stats["min"] == min(accuracies)
    assert json.loads((many.folder / "spread.json").read_text())["max"] == max(accuracies)
    # The test records were scored only by the three test runs, after each search had chosen.
    tonight = [c for c in _contexts(engine) if "tonight" in _asked(c)]
    assert len(tonight) == 3 * 12 * 3  # 12 test records, 3 label words each (Tech, Science, World), 3 runs


def test_promptkit_tune_seeds_prints_test_accuracy_over_the_searches(topics, tiny_model, tmp_path):
    argv = ["tune", "--task", str(topics["task"]), "--data", str(topics["test"]), "--pool", str(topics["train"]),
            "--method", "instruction_search", "--shots", "0", "--budget", "3", "--dev", "4", "--seeds", "2",
            "--limit", "5", "--model", str(tiny_model), "--out", str(tmp_path / "p.yaml"), "--quiet",
            "--cache", str(tmp_path / "c.sqlite")]  # fmt: skip
    code, printed, err = _cli(argv)
    assert code == 0, err
    stats = json.loads((tmp_path / "p.seeds" / "spread.json").read_text())
    assert len(stats["accuracy"]) == 2 and f"{stats['mean']:.1%}" in printed and "2 searches: test" in printed
    assert (tmp_path / "p.seed0.yaml").is_file() and (tmp_path / "p.seed1.yaml").is_file()
    assert all(json.loads((tmp_path / "p.seeds" / f"seed-{s}" / "summary.json").read_text())["n"] == 5 for s in (0, 1))
