"""A tuning run's checkpoint: one safetensors file beside the artifact it will become, replaced whole at each
save, so a killed run resumes from its last one. Tensors only (no pickles); the rest is JSON in the header.
The settings it was made under are in it: a checkpoint of other settings is an error, never resumed."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from promptkit.errors import PromptkitError


@dataclass(frozen=True)
class Checkpoint:
    settings: str
    """The run's settings digest: what it must match to resume."""
    arrays: dict[str, np.ndarray]
    state: dict[str, Any]
    """JSON: the step, the best development accuracy so far, the history, the optimiser's scalars."""


def checkpoint_path(artifact: Path) -> Path:
    return artifact.with_name(f"{artifact.name}.checkpoint")


def save_checkpoint(path: Path, checkpoint: Checkpoint) -> None:
    from safetensors.numpy import save_file

    partial = path.with_name(f".{path.name}.partial")
    arrays = {k: np.ascontiguousarray(v) for k, v in checkpoint.arrays.items()}
    metadata = {"settings": checkpoint.settings, "state": json.dumps(checkpoint.state)}
    save_file(arrays, str(partial), metadata=metadata)
    os.replace(partial, path)


def load_checkpoint(path: Path, settings: str) -> Checkpoint | None:
    """The checkpoint at `path` if there is one; one line if it was made under other settings or is unreadable."""
    if not path.exists():
        return None
    from safetensors import safe_open

    try:
        with safe_open(str(path), "np") as f:
            metadata = f.metadata() or {}
            arrays = {k: f.get_tensor(k) for k in f.keys()}
        state = json.loads(metadata["state"])
    except Exception as exc:
        raise PromptkitError(
            f"{path}: not a readable tuning checkpoint ({str(exc).splitlines()[0] if str(exc) else type(exc).__name__}); "
            "remove it to start over"
        ) from None
    if metadata.get("settings") != settings:
        raise PromptkitError(
            f"{path}: a checkpoint of a run with other settings; remove it to start over, or run those settings"
        )
    return Checkpoint(settings, arrays, state)
