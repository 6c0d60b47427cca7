"""Learned-prompt files: what tuning writes reads back whole; a file from anyone else is one line."""

from __future__ import annotations

import json
import struct

import numpy as np
import pytest
from safetensors.numpy import save_file

from promptkit.errors import PromptkitError
from promptkit.files.learned_prompt import LearnedPrompt, load_learned_prompt, save_learned_prompt


def _embeddings(tokens=4, hidden=8):
    return np.arange(tokens * hidden, dtype=np.float32).reshape(tokens, hidden) / 10


def test_a_soft_prompt_reads_back_as_written(tmp_path):
    prompt = LearnedPrompt("prompt_tuning", "smollm2@abc", _embeddings(), info={"task": "sst2", "dev_accuracy": 0.8})
    save_learned_prompt(tmp_path / "p.safetensors", prompt)
    back = load_learned_prompt(tmp_path / "p.safetensors")
    assert (back.method, back.model, back.info) == (
        "prompt_tuning",
        "smollm2@abc",
        {"task": "sst2", "dev_accuracy": 0.8},
    )
    assert np.array_equal(back.tensor, prompt.tensor) and back.shapes == {"tokens": 4, "hidden": 8}
    assert [p.name for p in tmp_path.iterdir()] == ["p.safetensors"], "no partial file left"


def test_a_prefix_and_a_text_prompt_read_back(tmp_path):
    prefix = np.zeros((3, 2, 1, 5, 4), dtype=np.float32)
    save_learned_prompt(tmp_path / "prefix.safetensors", LearnedPrompt("prefix_tuning", "m@r", prefix))
    assert load_learned_prompt(tmp_path / "prefix.safetensors").shapes == {
        "layers": 3, "keys_values": 2, "kv_heads": 1, "tokens": 5, "head_dim": 4
    }  # fmt: skip
    save_learned_prompt(tmp_path / "text.safetensors", LearnedPrompt("bdpl", "m@r", text=" great movie review"))
    back = load_learned_prompt(tmp_path / "text.safetensors")
    assert (back.text, back.tensor) == (" great movie review", None)


def _foreign(tmp_path, tensors, **metadata):
    meta = {"format": "promptkit-learned-prompt", "version": "1", "method": "prompt_tuning", "model": "m@r"} | metadata
    path = tmp_path / "x.safetensors"
    save_file(tensors, str(path), metadata=meta)
    return path


def _raw(tmp_path, data: bytes):
    path = tmp_path / "x.safetensors"
    path.write_bytes(data)
    return path


def _past_the_end(tmp_path):
    header = json.dumps({"e": {"dtype": "F32", "shape": [1000], "data_offsets": [0, 4000]}}).encode()
    return _raw(tmp_path, struct.pack("<Q", len(header)) + header)


HOSTILE = {
    "empty file": (lambda t: _raw(t, b""), "not a safetensors file (0 bytes)"),
    "text file": (lambda t: _raw(t, b"a soft prompt, honest\n" * 10), "header claims"),
    "header claims gigabytes": (
        lambda t: _raw(t, struct.pack("<Q", 5 << 30) + b"{}"),
        "header claims 5,368,709,120 bytes",
    ),
    "header not JSON": (lambda t: _raw(t, struct.pack("<Q", 4) + b"{{{{"), "its header is not JSON"),
    "deeply nested header": (
        lambda t: _raw(t, struct.pack("<Q", 200_000) + b"[" * 100_000 + b"]" * 100_000),
        "its header is not JSON",
    ),
    "data past the end": (_past_the_end, "claims data past the end"),
    "another format": (lambda t: _foreign(t, {"e": _embeddings()}, format="gguf"), "not a promptkit learned prompt"),
    "float16": (
        lambda t: _foreign(t, {"embeddings": _embeddings().astype(np.float16)}),
        "is F16, learned prompts are float32",
    ),
    "float64": (lambda t: _foreign(t, {"embeddings": _embeddings().astype(np.float64)}), "is F64"),
    "wrong shape": (lambda t: _foreign(t, {"embeddings": np.zeros(8, dtype=np.float32)}), "expected (tokens, hidden)"),
    "no tokens": (
        lambda t: _foreign(t, {"embeddings": np.zeros((0, 8), dtype=np.float32)}),
        "expected (tokens, hidden)",
    ),
    "wrong tensor": (lambda t: _foreign(t, {"weights": _embeddings()}), "expected one tensor 'embeddings'"),
    "NaN values": (
        lambda t: _foreign(t, {"embeddings": np.full((2, 3), np.nan, dtype=np.float32)}),
        "holds NaN or infinite values",
    ),
    "unknown method": (lambda t: _foreign(t, {"embeddings": _embeddings()}, method="lora"), "unknown method 'lora'"),
    "newer version": (lambda t: _foreign(t, {"embeddings": _embeddings()}, version="9"), "format version '9'"),
    "no model": (lambda t: _foreign(t, {"embeddings": _embeddings()}, model=""), "the model it was learned on"),
    "info not JSON": (lambda t: _foreign(t, {"embeddings": _embeddings()}, info="{"), "its info is not JSON"),
    "text prompt with tensors": (
        lambda t: _foreign(t, {"embeddings": _embeddings()}, method="bdpl"),
        "holds no tensors",
    ),
    "empty text prompt": (lambda t: _foreign(t, {}, method="bdpl"), "this one is empty"),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_a_hostile_learned_prompt_is_one_line(tmp_path, case):
    make, expected = HOSTILE[case]
    path = make(tmp_path)
    with pytest.raises(PromptkitError) as err:
        load_learned_prompt(path)
    message = str(err.value)
    assert expected in message and message.startswith(str(path)) and "\n" not in message, message
