"""LoRA through peft, the fine-tuning reference of the learned-prompt methods: `tune --method lora` writes peft's
adapter folder; `--adapter` (an engine's `adapter:`) merges it into the hf engine's weights, or sends it with
every request of the vllm engine. An adapter is untrusted input, checked before any weight loads."""

from __future__ import annotations

import contextlib
import io
import json
import shutil
import struct

import numpy as np
import pytest
import torch
from test_tuning import topics  # noqa: F401 (the fixture: a two-class topic task)

from promptkit.cli import main
from promptkit.engines.hf import HFEngine
from promptkit.errors import PromptkitError
from promptkit.files.adapter import CONFIG, INFO, WEIGHTS
from promptkit.tasks import load_task
from promptkit.tuning import TuneSettings, tune
from promptkit.types import GenRequest, Sampling, ScoreRequest

REQUESTS = [ScoreRequest("Article: rockets today news\nAnswer:", " Tech"),
            ScoreRequest("Article: peace again news\nAnswer:", " World has peace"),
            ScoreRequest("The capital of France is", " Paris, a city of light.")]  # fmt: skip


@pytest.fixture(scope="module")
def trained(tiny_model, topics, tmp_path_factory):  # noqa: F811
    """An adapter trained on the tiny model, and the engine it was trained on (its scores before and after)."""
    engine = HFEngine(str(tiny_model), device="cpu", progress=False)
    before = [s.logprob for s in engine.score(REQUESTS)]
    out = tmp_path_factory.mktemp("lora") / "topics-lora"
    settings = TuneSettings("lora", k=3, steps=6, eval_every=1, lr=0.02, rank=4, alpha=8)
    result = tune(load_task(str(topics[0]), topics[1]), engine, settings, out, pool=str(topics[1]), progress=False)
    after = [s.logprob for s in engine.score(REQUESTS)]
    return out, result, before, after


def test_lora_trains_and_leaves_the_engines_model_as_it_was(trained):
    out, result, before, after = trained
    assert {p.name for p in out.iterdir()} >= {CONFIG, WEIGHTS, INFO} and result.prompt is None
    losses = [h["loss"] for h in result.info["history"]]
    assert losses[-1] < losses[0], losses
    assert json.loads((out / INFO).read_text())["model"] == result.model
    assert before == after, "the LoRA layers are taken out of the engine's model again"


def test_the_hf_engine_scores_with_an_adapter_as_peft_s_merged_model_does(trained, tiny_model):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    out = trained[0]
    engine = HFEngine(str(tiny_model), device="cpu", progress=False, adapter=out)
    plain = HFEngine(str(tiny_model), device="cpu", progress=False)
    assert "+lora:" in engine.identity.revision and engine.identity != plain.identity
    ours = [s.logprob for s in engine.score(REQUESTS)]
    reference = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(str(tiny_model)), str(out))
    reference = reference.merge_and_unload().eval()
    for request, logprob in zip(REQUESTS, ours):
        context, continuation = plain.tokens.encode_pair(request.context, request.continuation)
        ids = torch.tensor([context + continuation])
        with torch.no_grad():
            lp = reference(input_ids=ids).logits[0].log_softmax(-1)
        expected = sum(float(lp[len(context) - 1 + i, t]) for i, t in enumerate(continuation))
        assert abs(logprob - expected) < 1e-4, (logprob, expected)
    assert ours != [s.logprob for s in plain.score(REQUESTS)], "the adapter changes the scores"


def _copy(trained, tmp_path):
    folder = tmp_path / "adapter"
    shutil.copytree(trained[0], folder)
    return folder


def _write_weights_header(path, header: dict) -> None:
    raw = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(raw)) + raw + b"\0" * 64)


HOSTILE = {
    "not a folder": (lambda f: (shutil.rmtree(f), f.write_text("x")), "not a folder"),
    "no weights": (lambda f: (f / WEIGHTS).unlink(), "no adapter_model.safetensors"),
    "config not JSON": (lambda f: (f / CONFIG).write_text("{r: 8"), "adapter_config.json is not JSON"),
    "config a list": (lambda f: (f / CONFIG).write_text("[1]"), "is not a JSON object"),
    "not LoRA": (lambda f: (f / CONFIG).write_text('{"peft_type": "PREFIX_TUNING"}'), "promptkit loads LORA"),
    "rank zero": (lambda f: (f / CONFIG).write_text('{"peft_type": "LORA", "r": 0, "lora_alpha": 8, '
                                                    '"target_modules": ["q_proj"]}'), "r must be a whole number"),
    "huge config": (lambda f: (f / CONFIG).write_text(" " * (1 << 17)), "over 64 KB"),
    "weights not safetensors": (lambda f: (f / WEIGHTS).write_bytes(b"\xff" * 64), "not a safetensors file"),
    "a tensor that is not LoRA": (
        lambda f: _write_weights_header(f / WEIGHTS, {"lm_head.weight": {"dtype": "F32", "shape": [2, 2],
                                                                           "data_offsets": [0, 16]}}),
        "not a LoRA matrix"),
    "integer weights": (
        lambda f: _write_weights_header(f / WEIGHTS, {"model.layers.0.self_attn.q_proj.lora_A.weight": {
            "dtype": "I64", "shape": [4, 32], "data_offsets": [0, 8]}}), "not a LoRA matrix"),
    "another model": (lambda f: (f / INFO).write_text('{"model": "smollm2@sha256:0"}'), "learned on smollm2@sha256:0"),
    "another rank than its matrices": (
        lambda f: (f / CONFIG).write_text(json.dumps({**json.loads((f / CONFIG).read_text()), "r": 2})), "needs 2x"),
    "a layer the model lacks": (
        lambda f: _write_weights_header(f / WEIGHTS, {"base_model.model.model.layers.9.self_attn.q_proj.lora_A.weight":
                                                      {"dtype": "F32", "shape": [4, 32], "data_offsets": [0, 8]}}),
        "adapts layer 9; this model has 2"),
}  # fmt: skip


@pytest.mark.parametrize("case", HOSTILE, ids=list(HOSTILE))
def test_a_hostile_adapter_is_one_line_before_the_weights_load(case, trained, tiny_model, tmp_path):
    spoil, words = HOSTILE[case]
    folder = _copy(trained, tmp_path)
    spoil(folder)
    with pytest.raises(PromptkitError, match=words) as caught:
        HFEngine(str(tiny_model), device="cpu", progress=False, adapter=folder)
    assert "\n" not in str(caught.value) and str(folder) in str(caught.value)
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        code = main(["eval", "--task", "last_letters", "--method", "direct", "--model", str(tiny_model),
                     "--adapter", str(folder), "--limit", "1", "--out", str(tmp_path / "run"), "--quiet"])  # fmt: skip
    assert code == 2 and err.getvalue().count("\n") == 1 and "Traceback" not in err.getvalue()
    assert not (tmp_path / "run").exists()


def test_tune_lora_on_the_command_line_then_eval_with_the_adapter(topics, tiny_model, tmp_path, capsys):  # noqa: F811
    out = tmp_path / "lora"
    argv = ["tune", "--task", str(topics[0]), "--data", str(topics[1]), "--pool", str(topics[1]), "--method", "lora",
            "--k", "3", "--steps", "2", "--eval-every", "1", "--rank", "2", "--target-modules", "q_proj,k_proj,v_proj",
            "--model", str(tiny_model), "--out", str(out), "--quiet"]  # fmt: skip
    assert main(argv) == 0
    assert "tune lora on topics" in capsys.readouterr().out
    config = json.loads((out / CONFIG).read_text())
    assert config["r"] == 2 and sorted(config["target_modules"]) == ["k_proj", "q_proj", "v_proj"]
    run = tmp_path / "run"
    args = ["eval", "--task", str(topics[0]), "--data", str(topics[1]), "--method", "classify", "--model",
            str(tiny_model), "--adapter", str(out), "--limit", "4", "--out", str(run), "--quiet", "--no-cache"]  # fmt: skip
    assert main(args) == 0
    assert "+lora:" in json.loads((run / "summary.json").read_text())["model_revision"]


@pytest.mark.reproduction
def test_vllm_scores_with_the_adapter_as_the_hf_engine_does(smollm2, topics, tmp_path):  # noqa: F811
    """The adapter trained on SmolLM2, sent with every vLLM request (its LoRA requests): the same log-likelihoods
    as the hf engine's merged weights, within the engines' usual agreement."""
    import importlib.util

    from conftest import unavailable
    from tests_support import VLLM_ARGS

    if importlib.util.find_spec("vllm") is None:
        unavailable("vLLM is not installed (see the README for its CPU build)")
    from promptkit.engines.model_files import BUILTIN_MODEL
    from promptkit.engines.vllm import VLLMEngine

    plain = HFEngine(BUILTIN_MODEL, device="cpu", dtype="float32", progress=False)
    out = tmp_path / "smol-lora"
    settings = TuneSettings("lora", k=3, steps=2, eval_every=2, lr=0.005, rank=8, alpha=16)
    tune(load_task(str(topics[0]), topics[1]), plain, settings, out, pool=str(topics[1]), progress=False)
    hf = HFEngine(BUILTIN_MODEL, device="cpu", dtype="float32", progress=False, adapter=out)
    engine = VLLMEngine(BUILTIN_MODEL, dtype="float32", engine_args=VLLM_ARGS, progress=False, adapter=str(out))
    asks = [GenRequest(r.context, Sampling(max_tokens=8)) for r in REQUESTS]
    try:
        theirs = np.array([s.logprob for s in engine.score(REQUESTS)])
        their_texts = [c.text for c in engine.generate(asks)]
    finally:
        engine.close()
    ours = np.array([s.logprob for s in hf.score(REQUESTS)])
    base = np.array([s.logprob for s in plain.score(REQUESTS)])
    assert np.allclose(ours, theirs, atol=1e-3), (ours, theirs)
    assert not np.allclose(ours, base, atol=1e-3), "the adapter changes the scores"
    assert [c.text for c in hf.generate(asks)] == their_texts
