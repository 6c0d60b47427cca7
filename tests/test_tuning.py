"""Learning a prompt (`promptkit tune`) and using it (`--soft-prompt`): each method writes an artifact the
engine takes; what is trained is what is scored; generation equals peft's; a killed run resumes."""

from __future__ import annotations

import contextlib
import io
import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import TOPICS

from promptkit.cli import main
from promptkit.engines import CachedEngine, ScriptedEngine, make_engine
from promptkit.engines.engine_kinds import HFEngineSpec, ReplayEngineSpec
from promptkit.engines.hf import HFEngine
from promptkit.errors import PromptkitError
from promptkit.files.learned_prompt import (
    LearnedPrompt,
    learned_digest,
    load_learned_prompt,
    model_key,
    save_learned_prompt,
)
from promptkit.runs.view import load_run
from promptkit.tasks import load_task
from promptkit.tuning import TuneSettings, tune
from promptkit.tuning import run as tune_module
from promptkit.tuning.bbt import Subspace
from promptkit.tuning.bbtv2 import starting_prefix
from promptkit.tuning.data import Split, tuning_data
from promptkit.tuning.ngrams import ngram_vocabulary
from promptkit.tuning.objective import Rows, class_log_probs, cross_entropy, engine_class_log_probs, forward_after
from promptkit.tuning.white_box import as_array, batch_of, learned_now, prompt_model
from promptkit.types import GenRequest, Sampling, ScoreRequest

WORDS = ["rockets", "war", "chips", "peace", "robots", "votes", "code", "treaty", "lasers", "border", "apps", "kings"]
TINY = {
    "prompt_tuning": {"steps": 4, "eval_every": 2, "tokens": 3},
    "prefix_tuning": {"steps": 4, "eval_every": 2, "tokens": 3},
    "p_tuning": {"steps": 4, "eval_every": 2, "tokens": 3},
    "bbt": {"budget": 24, "population": 4, "eval_every": 2, "tokens": 3, "intrinsic_dim": 20},
    "bbtv2": {"budget": 24, "population": 4, "eval_every": 2, "tokens": 3, "intrinsic_dim": 20},
}


@pytest.fixture(scope="module")
def topics(tmp_path_factory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("topics")
    (folder / "topics.yaml").write_text(TOPICS)
    rows = [{"text": f"{w} {v} news", "label": "Tech" if i % 2 == 0 else "World"}
            for i, w in enumerate(WORDS) for v in ("today", "again")]  # fmt: skip
    (folder / "topics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return folder / "topics.yaml", folder / "topics.jsonl"


@pytest.fixture(scope="module")
def engine(tiny_model) -> HFEngine:
    """An engine of its own: tuning wraps its model in peft's prompt encoders."""
    e = HFEngine(str(tiny_model), device="cpu", progress=False)
    e.model  # noqa: B018 (loaded once: the copies with a soft prompt share it)
    return e


def _task(topics):
    return load_task(str(topics[0]), topics[1])


def _tuned(engine, topics, tmp_path, method: str, **extra) -> Path:
    out = tmp_path / f"{method}.safetensors"
    settings = TuneSettings(method, k=3, **{**TINY[method], **extra})
    tune(_task(topics), engine, settings, out, pool=str(topics[1]), progress=False)
    return out


def _cli(args: list[str]) -> tuple[int, str]:
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            code = main(args)
        except SystemExit as exc:
            code = int(exc.code or 0)
    return code, err.getvalue()


@pytest.mark.parametrize("method", ["prompt_tuning", "prefix_tuning", "p_tuning", "bbt", "bbtv2"])
def test_each_method_writes_an_artifact_that_eval_soft_prompt_scores_with(method, engine, topics, tmp_path, tiny_model):
    out = _tuned(engine, topics, tmp_path, method)
    prompt = load_learned_prompt(out)
    assert prompt.model == engine.model_key and prompt.info["task"] == "topics"
    assert prompt.info["best_dev_acc"] >= 0 and prompt.info["history"], prompt.info
    argv = ["eval", "--task", str(topics[0]), "--data", str(topics[1]), "--method", "classify", "--model",
            str(tiny_model), "--limit", "6", "--no-cache", "--quiet"]  # fmt: skip
    assert _cli([*argv, "--soft-prompt", str(out), "--out", str(tmp_path / "with")])[0] == 0
    assert _cli([*argv, "--out", str(tmp_path / "without")])[0] == 0
    rows = {k: [json.loads(line) for line in (tmp_path / k / "predictions.jsonl").open()] for k in ("with", "without")}
    assert [r["class_probs"] for r in rows["with"]] != [r["class_probs"] for r in rows["without"]]
    # the run's page names the learned prompt (method, file, digest) and carries its training curve
    named = load_run(tmp_path / "with")["learned"]
    assert (named["method"], named["file"], named["digest"]) == (method, str(out), learned_digest(prompt))
    assert [point[1] for point in named["curve"]] == [h["dev_acc"] for h in prompt.info["history"]]
    assert load_run(tmp_path / "without")["learned"] is None
    # what the run scored equals the training objective's own forward over [prompt; tokens], all rows at once
    data = tuning_data(_task(topics), 3, 0, str(topics[1]))
    task = _task(topics).limit(6)
    split = Split(tuple(_contexts(task)), (0,) * len(task.examples))
    learned = _learned_input(prompt)
    rows_in = Rows.of(split, data, engine.tokens.encode_pair, engine.pad_id)
    with torch.no_grad():
        logits = forward_after(engine.model, rows_in, learned(len(rows_in.ids)), prompt.shapes["tokens"], "cpu")
        lp = class_log_probs(rows_in.word_logprobs(logits), [c for c, _ in data.continuations], 2)
    probs = lp.softmax(dim=1).numpy()
    scored = np.array([[r["class_probs"][label] for label in ("World", "Tech")] for r in rows["with"]])
    assert np.allclose(probs, scored, atol=1e-4), (probs, scored)


def _contexts(task) -> list[str]:
    from promptkit.engines.placeholder import PlaceholderEngine
    from promptkit.runs.build import build_method

    built = build_method(task, "classify", shots=0)
    return [str(s.trace[-1].prompt) for s in built.pipeline.run(task.examples, PlaceholderEngine())]


def _learned_input(prompt: LearnedPrompt):
    """The artifact as the training forward takes it: embeddings [1, P, hidden] or a prefix cache per row."""
    from transformers import DynamicCache

    tensor = torch.from_numpy(prompt.tensor)
    if not prompt.is_prefix:
        return lambda rows: tensor[None]

    def cache(rows: int):
        c = DynamicCache()
        for layer in range(tensor.shape[0]):
            c.update(
                tensor[layer, 0][None].expand(rows, -1, -1, -1), tensor[layer, 1][None].expand(rows, -1, -1, -1), layer
            )
        return c

    return cache


@pytest.mark.parametrize("method", ["prompt_tuning", "prefix_tuning"])
def test_greedy_generation_with_a_learned_prompt_equals_generate_on_the_peft_model(method, tiny_model):
    """Through the engine's batching (prompts of different lengths, one shared prefix, left padding) each
    prompt continues as peft's own `generate` continues it alone."""
    engine = HFEngine(str(tiny_model), device="cpu", progress=False)
    settings = TuneSettings(method, tokens=4, seed=3)
    wrapped = prompt_model(engine.model, settings, engine.tokenizer, None)
    with torch.no_grad():
        if method == "prefix_tuning":  # a prefix of visible size: peft's MLP starts it small
            for p in wrapped.prompt_encoder["default"].parameters():
                p.normal_(0, 0.5, generator=torch.Generator().manual_seed(1))
        learned = LearnedPrompt(method, engine.model_key, as_array(learned_now(wrapped, settings, 1), settings))
    prompts = ["Article: rockets fly over the sea\nAnswer:", "Article: war ends\nAnswer:", "Article: chips"]
    sampling = Sampling(max_tokens=8, temperature=0.0, stop=())
    ours = engine.with_soft_prompt(learned).generate([GenRequest(p, sampling) for p in prompts])
    for prompt, completion in zip(prompts, ours):
        ids = torch.tensor([engine.encode(prompt)])
        with torch.no_grad():
            out = wrapped.generate(
                input_ids=ids, attention_mask=torch.ones_like(ids), max_new_tokens=8, do_sample=False
            )
        theirs = out[0, ids.shape[1] :].tolist()
        assert list(completion.token_ids[0]) == theirs[: len(completion.token_ids[0])], (prompt, completion, theirs)
    assert len({tuple(c.token_ids[0]) for c in ours}) > 1


def test_a_killed_run_resumes_from_its_last_checkpoint_to_the_same_prompt(engine, topics, tmp_path, monkeypatch):
    whole = _tuned(engine, topics, tmp_path / "whole", "prompt_tuning", steps=6, batch=4)  # batches cross epochs
    saves = []
    real = tune_module.save_checkpoint

    def killed_after_two(path, checkpoint):
        real(path, checkpoint)
        saves.append(checkpoint.state["step"])
        if len(saves) == 2:
            raise KeyboardInterrupt

    out = tmp_path / "broken" / "prompt_tuning.safetensors"
    settings = TuneSettings("prompt_tuning", k=3, **{**TINY["prompt_tuning"], "steps": 6, "batch": 4})
    monkeypatch.setattr(tune_module, "save_checkpoint", killed_after_two)
    with pytest.raises(KeyboardInterrupt):
        tune(_task(topics), engine, settings, out, pool=str(topics[1]), progress=False)
    monkeypatch.undo()
    assert not out.exists() and out.with_name(out.name + ".checkpoint").exists()
    other = TuneSettings("prompt_tuning", k=3, **{**TINY["prompt_tuning"], "steps": 6, "batch": 4, "lr": 0.5})
    with pytest.raises(PromptkitError, match="checkpoint of a run with other settings"):
        tune(_task(topics), engine, other, out, pool=str(topics[1]), progress=False)
    result = tune(_task(topics), engine, settings, out, pool=str(topics[1]), progress=False)
    assert saves == [2, 4] and result.resumed_at == 4
    assert not out.with_name(out.name + ".checkpoint").exists()
    assert np.array_equal(result.prompt.tensor, load_learned_prompt(whole).tensor)
    assert result.prompt.info["history"] == load_learned_prompt(whole).info["history"]
    with pytest.raises(PromptkitError, match="exists"):
        tune(_task(topics), engine, settings, out, pool=str(topics[1]), progress=False)


def test_bbt_resumes_and_its_loss_decreases_within_a_tiny_budget(engine, topics, tmp_path, monkeypatch):
    settings = TuneSettings("bbt", k=3, budget=48, population=6, eval_every=1, tokens=3, intrinsic_dim=20)
    data = tuning_data(_task(topics), 3, 0, str(topics[1]))
    start = LearnedPrompt("bbt", engine.model_key, Subspace(_embeddings(engine), settings).prompt(np.zeros(20)))
    initial = _loss(engine, start, data)
    result = _killed_then_resumed(engine, topics, settings, tmp_path / "bbt.safetensors", monkeypatch)
    history = result.prompt.info["history"]
    assert result.resumed_at == 3 and [h["step"] for h in history] == list(range(1, 9))
    assert result.prompt.info["calls"] == 8 * 6 + 8, "each generation's candidates, then the mean on development"
    assert min(h["loss"] for h in history) < initial, (initial, history)
    assert history[-1]["loss"] < history[0]["loss"], history


def _loss(engine: HFEngine, start: LearnedPrompt, data) -> float:
    """The training loss of a prompt, through the engine's own scores."""
    lp = engine_class_log_probs(engine.with_soft_prompt(start), data.train, data)
    return float(cross_entropy(lp, data.train.targets))


def _killed_then_resumed(engine, topics, settings: TuneSettings, out: Path, monkeypatch):
    """A run killed after its third checkpoint, then run again: the result of the second run."""
    real, saves = tune_module.save_checkpoint, []

    def killed_after_three(path, checkpoint):
        real(path, checkpoint)
        saves.append(checkpoint.state["step"])
        if len(saves) == 3:
            raise KeyboardInterrupt

    monkeypatch.setattr(tune_module, "save_checkpoint", killed_after_three)
    with pytest.raises(KeyboardInterrupt):
        tune(_task(topics), engine, settings, out, pool=str(topics[1]), progress=False)
    monkeypatch.undo()
    return tune(_task(topics), engine, settings, out, pool=str(topics[1]), progress=False)


def _embeddings(engine: HFEngine) -> np.ndarray:
    return engine.model.get_input_embeddings().weight.detach().float().numpy()


def test_a_prompt_tuned_on_one_task_starts_another_spot(engine, topics, tmp_path):
    source = _tuned(engine, topics, tmp_path, "prompt_tuning")
    out = tmp_path / "spot.safetensors"
    settings = TuneSettings("prompt_tuning", k=3, steps=1, eval_every=1, tokens=3, lr=1e-9)
    result = tune(_task(topics), engine, settings, out, pool=str(topics[1]), init_from=source, progress=False)
    assert np.allclose(result.prompt.tensor, load_learned_prompt(source).tensor, atol=1e-6), "it starts there"
    assert result.prompt.info["init_from"]["task"] == "topics"
    with pytest.raises(PromptkitError, match="cannot start p_tuning"):
        tune(_task(topics), engine, TuneSettings("p_tuning", k=3, tokens=3), tmp_path / "p.safetensors",
             pool=str(topics[1]), init_from=source, progress=False)  # fmt: skip


def test_an_artifact_for_another_model_or_shape_is_one_line_before_the_weights_load(tiny_model, tmp_path):
    plain = HFEngine(str(tiny_model), device="cpu", progress=False)
    hidden = 32  # the tiny model's
    for name, prompt, words in [
        ("other.safetensors", LearnedPrompt("bbt", "smollm2@sha256:0", np.zeros((2, hidden), np.float32)), "learned on smollm2"),
        ("wide.safetensors", LearnedPrompt("bbt", plain.model_key, np.zeros((2, hidden + 1), np.float32)), "another shape"),
    ]:  # fmt: skip
        save_learned_prompt(tmp_path / name, prompt)
        with pytest.raises(PromptkitError, match=words):
            HFEngine(str(tiny_model), device="cpu", progress=False, soft_prompt=tmp_path / name)
    assert not plain.loaded


def test_promptkit_tune_on_the_command_line(topics, tiny_model, tmp_path, capsys):
    out = tmp_path / "cli.safetensors"
    argv = ["tune", "--task", str(topics[0]), "--data", str(topics[1]), "--pool", str(topics[1]), "--method",
            "prefix_tuning", "--no-reparametrize", "--k", "3", "--steps", "2", "--eval-every", "1", "--tokens", "2",
            "--model", str(tiny_model), "--out", str(out), "--quiet"]  # fmt: skip
    assert main(argv) == 0
    line = capsys.readouterr().out
    assert "tune prefix_tuning on topics" in line and "2 steps" in line and str(out) in line, line
    prompt = load_learned_prompt(out)
    assert prompt.shapes == {"layers": 2, "keys_values": 2, "kv_heads": 2, "tokens": 2, "head_dim": 8}
    assert prompt.info["settings"]["reparametrize"] is False
    code, err = _cli(argv)
    assert code == 2 and "exists" in err


def test_bdpl_learns_the_phrase_a_scripted_engine_rewards(topics, tmp_path):
    """Only the engine's scores: the gold class is likely after prompts that start with one phrase of the
    mined vocabulary, and nowhere else; the policy gradient finds that phrase."""
    task = _task(topics)
    data = tuning_data(task, 3, 0, str(topics[1]))
    vocabulary = ngram_vocabulary(data.pool_texts, 8)
    rewarded = vocabulary[5]
    gold = {json.loads(line)["text"]: json.loads(line)["label"] for line in topics[1].open()}

    def scorer(context: str, continuation: str) -> float:
        label = gold[context.split("Article: ")[1].split("\n")[0]]
        right = continuation.strip() in ({"Tech", "Science"} if label == "Tech" else {"World"})
        if context.startswith(rewarded + "\n"):
            return -0.1 if right else -4.0
        return -1.0

    engine = ScriptedEngine(scorer=scorer)
    settings = TuneSettings("bdpl", k=3, tokens=1, candidates=8, samples=8, budget=240, eval_every=5, lr=0.05)
    result = tune(task, engine, settings, tmp_path / "bdpl.safetensors", pool=str(topics[1]), progress=False)
    assert result.prompt.text == rewarded + "\n", (result.prompt.text, result.prompt.info["history"])
    assert result.prompt.info["best_dev_acc"] == 1.0 and result.prompt.info["calls"] == 240 + 6
    assert all(r.context.startswith(tuple(v + "\n" for v in vocabulary)) for call in engine.score_calls for r in call)


def test_a_text_prompt_goes_before_every_prompt_of_any_engine(topics, tiny_model, tmp_path):
    text = "breaking news today\n"
    path = tmp_path / "text.safetensors"
    replay = tmp_path / "r.jsonl"
    replay.write_text(json.dumps({"prompt": text + "Q: hi", "completions": [" there"]}) + "\n")
    recorded = make_engine(ReplayEngineSpec(path=str(replay), model="recorded")).identity
    save_learned_prompt(path, LearnedPrompt("bdpl", model_key(recorded.model, recorded.revision), None, text))
    engine = make_engine(ReplayEngineSpec(path=str(replay), model="recorded", soft_prompt=str(path)))
    assert engine.generate([GenRequest("Q: hi", Sampling(max_tokens=4))])[0].texts == (" there",)
    assert engine.identity.settings.endswith(f"learned:{learned_digest(load_learned_prompt(path))}")
    hf = HFEngine(str(tiny_model), device="cpu", progress=False)
    save_learned_prompt(path, LearnedPrompt("bdpl", hf.model_key, None, text))
    wrapped = make_engine(HFEngineSpec(model=str(tiny_model), device="cpu", soft_prompt=str(path)))
    request = ScoreRequest("Article: chips\nAnswer:", " Tech")
    assert wrapped.score([request]) == hf.score([ScoreRequest(text + request.context, " Tech")])
    with pytest.raises(PromptkitError, match="learned on"):  # the hf model's prompt, on the recording
        make_engine(ReplayEngineSpec(path=str(replay), model="recorded", soft_prompt=str(path)))


def test_one_row_per_example_reads_one_token_words_as_a_row_per_word_does(engine, topics):
    """Where every label word is one token, an example's words are read at its last position: the same
    log-probabilities as a row per word (and the engine's own scores), at a fraction of the rows."""
    task = _task(topics)
    data = tuning_data(task, 3, 0, str(topics[1]))
    spaced = sorted(t[1:] for t in engine.tokenizer.get_vocab() if t.startswith("Ġ") and t[1:].isalpha())
    single = [w for w in spaced if len(engine.tokens.encode_pair("x", " " + w)[1]) == 1][:3]
    data = replace(data, classes=(("World", (single[0],)), ("Tech", (single[1], single[2]))))
    both = [Rows.of(data.train, data, engine.tokens.encode_pair, engine.pad_id, per_word=p) for p in (False, True)]
    assert both[0].one_row_each and len(both[0].ids) == len(data.train.contexts) and not both[1].one_row_each
    soft = torch.randn((1, 2, 32), generator=torch.Generator().manual_seed(0)) * 0.1
    with torch.no_grad():
        lps = [rows.word_logprobs(forward_after(engine.model, rows, soft, 2, "cpu")) for rows in both]
    assert torch.allclose(lps[0], lps[1], atol=1e-5)
    soft_engine = engine.with_soft_prompt(LearnedPrompt("bbt", engine.model_key, soft[0].numpy()))
    by_engine = engine_class_log_probs(soft_engine, data.train, data)
    assert torch.allclose(class_log_probs(lps[0], [0, 1, 1], 2).double(), by_engine, atol=1e-4)


def test_batches_take_every_example_once_an_epoch_in_a_seeded_order():
    split = Split(tuple(f"c{i}" for i in range(6)), tuple(range(6)))
    settings = TuneSettings("prompt_tuning", batch=4, seed=1)
    steps = [batch_of(split, settings, n).contexts for n in range(3)]
    assert sorted(steps[0] + steps[1][:2]) == sorted(split.contexts), "the first epoch: each example once"
    assert all(len(b) == 4 for b in steps) and steps != [
        batch_of(split, replace(settings, seed=2), n).contexts for n in range(3)
    ]
    assert batch_of(split, TuneSettings("prompt_tuning"), 5) == split


def test_bdpl_draws_served_by_the_cache_the_second_time(engine, topics, tmp_path):
    """The budget counts engine calls; a prompt drawn again (here: the same run again) is the cache's."""
    settings = TuneSettings("bdpl", k=2, tokens=1, candidates=4, samples=2, budget=6, eval_every=3)
    runs = []
    for name in ("first", "second"):
        cached = CachedEngine(engine, tmp_path / "cache.sqlite")
        result = tune(_task(topics), cached, settings, tmp_path / f"{name}.safetensors", pool=str(topics[1]),
                      progress=False)  # fmt: skip
        runs.append((result.prompt, cached.stats()))
        cached.close()
    (first, before), (second, after) = runs
    assert first.text == second.text and first.info["calls"] == second.info["calls"] == 6 + 1
    assert before.misses > 0 and after.misses == 0 and after.hits > 0, (before, after)


@pytest.mark.parametrize("method", ["prompt_tuning", "lora"])
def test_tuning_leaves_each_weight_of_the_engines_model_as_trainable_as_it_was(method, engine, topics, tmp_path):
    """peft freezes the base weights; left frozen, the engine's later passes on a CPU run 20% slower."""
    before = {n: p.requires_grad for n, p in engine.model.named_parameters()}
    assert any(before.values()), "loaded trainable, so a run that froze them would be seen"
    out = tmp_path / "lora"
    tune(_task(topics), engine, TuneSettings(method, k=3, steps=2, eval_every=1), out, pool=str(topics[1]),
         progress=False)  # fmt: skip
    assert {n: p.requires_grad for n, p in engine.model.named_parameters()} == before


def test_patience_stops_a_run_whose_development_accuracy_stops_rising(engine, topics, tmp_path):
    """A learning rate too small to change anything: the first check is the best, and two checks later the run
    stops, far short of its 40 steps."""
    out = _tuned(engine, topics, tmp_path, "prompt_tuning", steps=40, eval_every=1, patience=2, lr=1e-12)
    info = load_learned_prompt(out).info
    assert (info["steps"], info["best_step"], info["stopped_early"]) == (3, 1, True)
    assert [h["step"] for h in info["history"]] == [1, 2, 3]
    ran = load_learned_prompt(_tuned(engine, topics, tmp_path / "all", "prompt_tuning", steps=3, eval_every=1)).info
    assert ran["stopped_early"] is False and ran["steps"] == 3


@pytest.mark.parametrize("method", ["prompt_tuning", "prefix_tuning"])
def test_bfloat16_training_keeps_float32_weights_and_its_loss_falls(method, tiny_model, topics, tmp_path):
    engine = HFEngine(str(tiny_model), device="cpu", dtype="bfloat16", progress=False)
    out = _tuned(engine, topics, tmp_path, method, steps=8, eval_every=1, lr=0.1)
    prompt = load_learned_prompt(out)
    losses = [h["loss"] for h in prompt.info["history"]]
    assert engine.model.dtype == torch.bfloat16 and prompt.tensor.dtype == np.float32
    assert losses[-1] < losses[0], losses


def test_half_precision_where_it_would_be_slower_is_one_note():
    from promptkit.engines.cpu_precision import slower_note

    assert slower_note("bfloat16", "cpu", {"avx2"}).startswith("note: this CPU has no native bfloat16")
    assert slower_note("bfloat16", "cpu", {"avx2", "amx_bf16"}) is None
    assert slower_note("float16", "cpu", set()).startswith("note: float16 on a CPU is slower")
    assert slower_note("bfloat16", "cuda", {"avx2"}) is None and slower_note("float32", "cpu", set()) is None


def test_bbtv2_searches_a_deep_prompt_layer_by_layer_resumes_and_its_loss_falls(engine, topics, tmp_path, monkeypatch):
    """A prefix in every layer, starting from the model's own keys and values for BBT's words; the layers moved
    in turn (the tiny model has two); a killed run resumes to the prompt an unbroken one learns."""
    settings = TuneSettings("bbtv2", k=3, budget=48, population=6, eval_every=1, tokens=3, intrinsic_dim=20)
    data = tuning_data(_task(topics), 3, 0, str(topics[1]))
    start = LearnedPrompt("bbtv2", engine.model_key, starting_prefix(engine.model, 3).astype(np.float32))
    initial = _loss(engine, start, data)
    unbroken = tune(_task(topics), engine, settings, tmp_path / "whole.safetensors", pool=str(topics[1]),
                    progress=False).prompt  # fmt: skip
    result = _killed_then_resumed(engine, topics, settings, tmp_path / "bbtv2.safetensors", monkeypatch)
    history = result.prompt.info["history"]
    assert result.resumed_at == 3 and [h["layer"] for h in history] == [0, 1] * 4
    assert result.prompt.shapes == {"layers": 2, "keys_values": 2, "kv_heads": 2, "tokens": 3, "head_dim": 8}
    assert np.array_equal(result.prompt.tensor, unbroken.tensor)
    assert min(h["loss"] for h in history) < initial, (initial, history)
    assert history[-1]["loss"] < history[0]["loss"], history
