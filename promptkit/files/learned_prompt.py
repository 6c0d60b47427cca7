"""A learned prompt on disk: one safetensors file, its tensors in float32 and what made it in the header.

The file may come from someone else, so it is read as untrusted input: its header is bounded and
parsed before any tensor is, every tensor must be float32, finite and of the shape its method
takes, and whatever is wrong is one line naming the file. Whether it fits a model (which model,
how wide its embeddings are) is the engine's check, made from `LearnedPrompt.model` and `shapes`.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import struct
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from promptkit.errors import PromptkitError

FORMAT = "promptkit-learned-prompt"
VERSION = "1"
MAX_HEADER_BYTES = 1 << 20
"""A learned prompt's header is a few kilobytes; one that claims more is not one of ours."""

# method -> the tensor it keeps and that tensor's dimensions (None: a text prompt, no tensor)
TENSORS: dict[str, tuple[str, tuple[str, ...]] | None] = {
    "prompt_tuning": ("embeddings", ("tokens", "hidden")),
    "p_tuning": ("embeddings", ("tokens", "hidden")),
    "bbt": ("embeddings", ("tokens", "hidden")),
    "prefix_tuning": ("prefix", ("layers", "keys_values", "kv_heads", "tokens", "head_dim")),
    "bbtv2": ("prefix", ("layers", "keys_values", "kv_heads", "tokens", "head_dim")),
    "bdpl": None,
}
METHODS = tuple(TENSORS)


@dataclass(frozen=True)
class LearnedPrompt:
    """What a tuning run learned, for one model: soft embeddings, a key-value prefix, or a text."""

    method: str
    model: str
    """The engine identity's model and revision it was learned on, as `model@revision`."""
    tensor: np.ndarray | None = None
    text: str | None = None
    info: dict[str, object] = field(default_factory=dict)
    """Task, training examples' hash, the run's figures: kept and shown, never interpreted."""

    @property
    def is_prefix(self) -> bool:
        """A key-value prefix in every layer (prefix tuning, BBTv2), not embeddings before the input."""
        spec = TENSORS[self.method]
        return spec is not None and spec[0] == "prefix"

    @property
    def shapes(self) -> dict[str, int]:
        spec = TENSORS[self.method]
        if spec is None or self.tensor is None:
            return {}
        return dict(zip(spec[1], self.tensor.shape))


def model_key(model: str, revision_id: str) -> str:
    """How a learned prompt names the model it was learned on: the name as given, then the weights' identity."""
    return f"{model}@{revision_id}"


def check_model(prompt: LearnedPrompt, key: str, where: str) -> None:
    """One line if the prompt was learned on other weights (the revision, a content hash for local files,
    decides; the name may differ, as a path written another way does)."""
    learned_name, _, learned_rev = prompt.model.rpartition("@")
    name, _, rev = key.rpartition("@")
    if (learned_rev or learned_name) != (rev or name):
        raise PromptkitError(f"{where}: learned on {prompt.model}, not on this engine's model {key}")


def learned_digest(prompt: LearnedPrompt) -> str:
    """What makes two learned prompts different: method and values (what the engine's identity carries)."""
    h = hashlib.sha256(prompt.method.encode())
    if prompt.tensor is not None:
        h.update(str(prompt.tensor.shape).encode())
        h.update(prompt.tensor.astype("<f4").tobytes())
    h.update((prompt.text or "").encode())
    return h.hexdigest()[:16]


def save_learned_prompt(path: Path, prompt: LearnedPrompt) -> None:
    """Write the file whole or not at all (a temporary file renamed into place)."""
    from safetensors.numpy import save_file

    _check(prompt, str(path))
    metadata = {
        "format": FORMAT,
        "version": VERSION,
        "method": prompt.method,
        "model": prompt.model,
        "text": prompt.text or "",
        "info": json.dumps(prompt.info, sort_keys=True),
    }
    tensors = {}
    if prompt.tensor is not None:
        tensors[TENSORS[prompt.method][0]] = np.ascontiguousarray(prompt.tensor, dtype=np.float32)  # type: ignore[index]
    partial = path.with_name(f".{path.name}.partial")
    save_file(tensors, str(partial), metadata=metadata)
    os.replace(partial, path)


def load_learned_prompt(path: Path) -> LearnedPrompt:
    """Read and check a learned prompt; any fault is one PromptkitError naming the file."""
    where = str(path)
    header = _header(path, where)
    metadata = header.pop("__metadata__", None)
    if not isinstance(metadata, dict) or metadata.get("format") != FORMAT:
        raise PromptkitError(f"{where}: not a promptkit learned prompt (its header has no format: {FORMAT})")
    if metadata.get("version") != VERSION:
        raise PromptkitError(
            f"{where}: learned-prompt format version {metadata.get('version')!r}, this promptkit reads {VERSION}"
        )
    method = metadata.get("method")
    if method not in TENSORS:
        raise PromptkitError(f"{where}: unknown method {method!r} (known: {', '.join(METHODS)})")
    try:
        info = json.loads(metadata.get("info") or "{}")
    except json.JSONDecodeError:
        raise PromptkitError(f"{where}: its info is not JSON") from None
    tensor = _tensor(path, where, header, TENSORS[method])
    prompt = LearnedPrompt(
        method=method,
        model=str(metadata.get("model", "")),
        tensor=tensor,
        text=metadata.get("text") or None,
        info=info if isinstance(info, dict) else {},
    )
    _check(prompt, where)
    return prompt


def _header(path: Path, where: str) -> dict:
    """The safetensors header, bounded before it is read: 8 bytes of length, then that much JSON."""
    try:
        size = path.stat().st_size
        with path.open("rb") as f:
            head = f.read(8)
            if len(head) < 8:
                raise PromptkitError(f"{where}: not a safetensors file ({size} bytes)")
            (length,) = struct.unpack("<Q", head)
            if length > min(MAX_HEADER_BYTES, size - 8):
                raise PromptkitError(
                    f"{where}: not a learned prompt: its header claims {length:,} bytes "
                    f"(the file has {size:,}; at most {MAX_HEADER_BYTES:,} are read)"
                )
            raw = f.read(length)
    except OSError as exc:
        raise PromptkitError(f"{where}: cannot read it ({exc.strerror or exc})") from None
    try:
        header = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError):
        raise PromptkitError(f"{where}: not a safetensors file (its header is not JSON)") from None
    if not isinstance(header, dict):
        raise PromptkitError(f"{where}: not a safetensors file (its header is not an object)")
    body = size - 8 - length
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        if not isinstance(entry, dict) or entry.get("dtype") != "F32":
            dtype = entry.get("dtype") if isinstance(entry, dict) else None
            raise PromptkitError(f"{where}: tensor {name!r} is {dtype}, learned prompts are float32 (F32)")
        offsets, shape = _ints(entry.get("data_offsets"), 2), _ints(entry.get("shape"), None)
        if offsets is None or shape is None or not 0 <= offsets[0] <= offsets[1] <= body:
            raise PromptkitError(f"{where}: tensor {name!r} claims data past the end of the file")
        if math.prod(shape) * 4 != offsets[1] - offsets[0]:
            raise PromptkitError(
                f"{where}: tensor {name!r}: shape {shape} does not match its {offsets[1] - offsets[0]} bytes"
            )
    return header


def _ints(value: object, count: int | None) -> list[int] | None:
    """value as a list of `count` (any, if None) non-negative integers, or None if it is not one."""
    if not isinstance(value, list) or (count is not None and len(value) != count):
        return None
    return value if all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in value) else None


def _tensor(path: Path, where: str, header: dict, spec: tuple[str, tuple[str, ...]] | None) -> np.ndarray | None:
    names = sorted(header)
    if spec is None:
        if names:
            raise PromptkitError(f"{where}: a text prompt holds no tensors, this file holds {', '.join(names)}")
        return None
    name, dims = spec
    if names != [name]:
        raise PromptkitError(f"{where}: expected one tensor {name!r}, found {', '.join(names) or 'none'}")
    if len(header[name]["shape"]) != len(dims):
        raise PromptkitError(
            f"{where}: tensor {name!r} has shape {header[name]['shape']}, expected ({', '.join(dims)})"
        )
    from safetensors.numpy import load_file

    try:
        return load_file(str(path))[name]
    except Exception as exc:  # the format's own checks, past ours: still one line
        raise PromptkitError(f"{where}: not a readable safetensors file ({str(exc).splitlines()[0]})") from None


def _check(prompt: LearnedPrompt, where: str) -> None:
    """What holds for every learned prompt, whoever wrote it."""
    if prompt.method not in TENSORS:
        raise PromptkitError(f"{where}: unknown method {prompt.method!r} (known: {', '.join(METHODS)})")
    spec = TENSORS[prompt.method]
    if not prompt.model:
        raise PromptkitError(f"{where}: the model it was learned on is not recorded")
    if spec is None:
        if not prompt.text:
            raise PromptkitError(f"{where}: a {prompt.method} prompt is a text, and this one is empty")
        return
    if prompt.tensor is None:
        raise PromptkitError(f"{where}: a {prompt.method} prompt needs its tensor {spec[0]!r}")
    if prompt.tensor.ndim != len(spec[1]) or 0 in prompt.tensor.shape:
        raise PromptkitError(
            f"{where}: tensor {spec[0]!r} has shape {list(prompt.tensor.shape)}, expected ({', '.join(spec[1])})"
        )
    if prompt.is_prefix and prompt.tensor.shape[1] != 2:
        raise PromptkitError(f"{where}: a prefix holds keys and values (2), this one {prompt.tensor.shape[1]}")
    if not np.isfinite(prompt.tensor).all():
        raise PromptkitError(f"{where}: tensor {spec[0]!r} holds NaN or infinite values")
