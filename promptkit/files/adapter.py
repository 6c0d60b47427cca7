"""A LoRA adapter on disk: peft's own folder (adapter_config.json and adapter_model.safetensors), as
`promptkit tune --method lora` writes it (with promptkit.json: the model it was learned on and the run's
figures), or any peft LoRA adapter.

It may come from someone else, so it is read as untrusted input before any weight loads: the config is a small
JSON object of a LoRA adapter, the weights' header is bounded and names only LoRA matrices of a float type, and
whatever is wrong is one line naming the folder. Whether it fits a model (which model, which layers and widths)
is checked against the model's config (`check_fits`), also before the weights load.
"""

from __future__ import annotations

import hashlib
import json
import re
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from promptkit.errors import PromptkitError
from promptkit.files.atomic import write_text_atomic

CONFIG = "adapter_config.json"
WEIGHTS = "adapter_model.safetensors"
INFO = "promptkit.json"
MAX_JSON_BYTES = 1 << 16
MAX_HEADER_BYTES = 1 << 22
FLOATS = ("F32", "F16", "BF16")
_MATRIX = re.compile(r"^(?:.*\.)?layers\.(\d+)\..*?([a-z_]+)\.lora_([AB])(?:\.default)?\.weight$")


@dataclass(frozen=True)
class Adapter:
    path: Path
    rank: int
    alpha: float
    target_modules: tuple[str, ...]
    shapes: dict[str, tuple[int, ...]]
    """Each LoRA matrix's shape, by its name in the weights file."""
    digest: str
    """SHA-256 of the config and the weights: what an engine's identity carries."""
    model: str | None = None
    """The model it was learned on (promptkit.json), where it says."""
    info: dict[str, Any] = field(default_factory=dict)


def read_adapter(path: str | Path) -> Adapter:
    """The adapter folder, checked; one line naming it when anything is wrong."""
    folder = Path(path)
    where = f"adapter {folder}"
    if not folder.is_dir():
        raise PromptkitError(f"{where}: not a folder (an adapter is peft's folder: {CONFIG}, {WEIGHTS})")
    for name in (CONFIG, WEIGHTS):
        if not (folder / name).is_file():
            raise PromptkitError(f"{where}: no {name} (an adapter is peft's folder: {CONFIG}, {WEIGHTS})")
    config = _json_object(folder / CONFIG, where)
    if config.get("peft_type") != "LORA":
        raise PromptkitError(f"{where}: peft_type {config.get('peft_type')!r}; promptkit loads LORA adapters")
    rank, alpha, targets = config.get("r"), config.get("lora_alpha"), config.get("target_modules")
    if not isinstance(rank, int) or isinstance(rank, bool) or not 1 <= rank <= 4096:
        raise PromptkitError(f"{where}: r must be a whole number in 1..4096, got {rank!r}")
    if not isinstance(alpha, (int, float)) or isinstance(alpha, bool) or not 0 < alpha < 1e6:
        raise PromptkitError(f"{where}: lora_alpha must be a positive number, got {alpha!r}")
    if isinstance(targets, str):
        targets = [targets]
    if not isinstance(targets, list) or not targets or not all(isinstance(t, str) and t for t in targets):
        raise PromptkitError(f"{where}: target_modules must name the modules adapted, got {targets!r}")
    shapes = _weight_shapes(folder / WEIGHTS, where)
    info = _json_object(folder / INFO, where) if (folder / INFO).is_file() else {}
    model = info.get("model")
    if model is not None and not isinstance(model, str):
        raise PromptkitError(f"{where}: {INFO}: model must be a string")
    digest = hashlib.sha256()
    for name in (CONFIG, WEIGHTS):
        with (folder / name).open("rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
    return Adapter(folder, rank, float(alpha), tuple(targets), shapes, digest.hexdigest(), model, info)


def _json_object(path: Path, where: str) -> dict[str, Any]:
    if path.stat().st_size > MAX_JSON_BYTES:
        raise PromptkitError(f"{where}: {path.name} is over {MAX_JSON_BYTES // 1024} KB; not an adapter's")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise PromptkitError(f"{where}: {path.name} is not JSON ({str(exc).splitlines()[0]})") from None
    if not isinstance(data, dict):
        raise PromptkitError(f"{where}: {path.name} is not a JSON object")
    return data


def _weight_shapes(path: Path, where: str) -> dict[str, tuple[int, ...]]:
    """The safetensors header alone (bounded, parsed before any tensor): each LoRA matrix's shape."""
    size = path.stat().st_size
    with path.open("rb") as f:
        head = f.read(8)
        length = struct.unpack("<Q", head)[0] if len(head) == 8 else 0
        if not 0 < length <= min(MAX_HEADER_BYTES, size - 8):
            raise PromptkitError(f"{where}: {WEIGHTS} is not a safetensors file (its header length {length})")
        try:
            header = json.loads(f.read(length).decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            raise PromptkitError(f"{where}: {WEIGHTS} is not a safetensors file (its header is not JSON)") from None
    if not isinstance(header, dict):
        raise PromptkitError(f"{where}: {WEIGHTS}: its header is not a JSON object")
    shapes: dict[str, tuple[int, ...]] = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        if not isinstance(entry, dict) or entry.get("dtype") not in FLOATS or not _MATRIX.match(name):
            raise PromptkitError(f"{where}: {WEIGHTS} holds {name!r}, not a LoRA matrix in {'/'.join(FLOATS)}")
        shape = entry.get("shape")
        if not isinstance(shape, list) or len(shape) != 2 or not all(isinstance(d, int) and d > 0 for d in shape):
            raise PromptkitError(f"{where}: {WEIGHTS}: {name!r} has shape {shape!r}, not a matrix")
        shapes[name] = (shape[0], shape[1])
    if not shapes:
        raise PromptkitError(f"{where}: {WEIGHTS} holds no LoRA matrices")
    return shapes


def checked_adapter(path: str | Path, key: str, config: Any) -> Adapter:
    """The adapter folder read and checked against the model it is for (its key, its config): what an engine does
    before any weight loads."""
    adapter = read_adapter(path)
    check_fits(adapter, key, config)
    return adapter


def check_fits(adapter: Adapter, key: str, config: Any) -> None:
    """One line if the adapter was learned on another model, or its matrices do not fit this one's layers and
    widths (before any weight loads)."""
    where = f"adapter {adapter.path}"
    if adapter.model is not None and adapter.model != key:
        raise PromptkitError(f"{where}: learned on {adapter.model}; this engine runs {key}")
    text = config.get_text_config(decoder=True) if hasattr(config, "get_text_config") else config
    widths = _widths(text)
    layers = int(getattr(text, "num_hidden_layers", 0))
    for name, (rows, cols) in adapter.shapes.items():
        m = _MATRIX.match(name)
        assert m is not None  # read_adapter kept matrices only
        layer, module, side = int(m.group(1)), m.group(2), m.group(3)
        if layer >= layers:
            raise PromptkitError(f"{where}: {name!r} adapts layer {layer}; this model has {layers}")
        if module not in widths:
            continue  # a module this check does not know the widths of: peft checks it as it loads
        fan_in, fan_out = widths[module]
        want = (adapter.rank, fan_in) if side == "A" else (fan_out, adapter.rank)
        if (rows, cols) != want:
            raise PromptkitError(f"{where}: {name!r} is {rows}x{cols}; this model's {module} needs {want[0]}x{want[1]}")


def _widths(text: Any) -> dict[str, tuple[int, int]]:
    """(inputs, outputs) of a decoder layer's linear modules, from the model's config."""
    hidden = int(text.hidden_size)
    heads = int(text.num_attention_heads)
    kv = int(getattr(text, "num_key_value_heads", None) or heads)
    head_dim = int(getattr(text, "head_dim", None) or hidden // heads)
    inter = int(getattr(text, "intermediate_size", 0) or 0)
    widths = {"q_proj": (hidden, heads * head_dim), "k_proj": (hidden, kv * head_dim), "v_proj": (hidden, kv * head_dim),
              "o_proj": (heads * head_dim, hidden)}  # fmt: skip
    if inter:
        widths |= {"gate_proj": (hidden, inter), "up_proj": (hidden, inter), "down_proj": (inter, hidden)}
    return widths


def with_adapter(revision: str, digest: str) -> str:
    """A model's weights identity with an adapter's: what the cache keys it by and a learned prompt records."""
    return f"{revision}+lora:{digest[:16]}"


def merged(model: Any, folder: Path) -> Any:
    """The model with the adapter's updates merged into its weights (peft's own loading and merging)."""
    from peft import PeftModel

    return PeftModel.from_pretrained(model, str(folder)).merge_and_unload()


def save_adapter(out: Path, wrapped: Any, model: str, info: dict[str, Any]) -> None:
    """peft's folder (its own save_pretrained) and promptkit.json beside: the model it was learned on, the run."""
    if out.exists():
        raise PromptkitError(f"{out}: exists; give another --out (an adapter is never overwritten)")
    wrapped.save_pretrained(str(out))
    write_text_atomic(out / INFO, json.dumps({"format": "promptkit-adapter", "model": model, **info}, indent=1) + "\n")
