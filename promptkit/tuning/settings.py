"""How a prompt is tuned: the method and its knobs, each default written here once."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from typing import Literal

from promptkit.errors import PromptkitError

WHITE_BOX = ("prompt_tuning", "prefix_tuning", "p_tuning")
"""Learned with gradients through the model (peft's prompt encoders)."""
BLACK_BOX = ("bbt",)
"""Learned from the engine's scores alone."""
TUNE_METHODS = WHITE_BOX + BLACK_BOX

Init = Literal["vocab", "text", "random"]
Loss = Literal["ce", "hinge"]


@dataclass(frozen=True)
class TuneSettings:
    method: str
    k: int = 16
    """Examples per class for training, and as many for development (the best step is picked on those)."""
    seed: int = 0
    """Draws the examples, initialises the prompt, seeds the search."""
    tokens: int | None = None
    """Prompt length (virtual tokens); default 20, BBT's 50."""
    steps: int = 100
    """White-box: optimiser steps, each over the whole training set."""
    lr: float | None = None
    """White-box: AdamW's learning rate; default 3e-2 (prompt tuning, P-tuning), 1e-2 (prefix tuning)."""
    init: Init = "vocab"
    """prompt_tuning: embeddings of seeded random vocabulary ids, of `init_text`'s tokens, or N(0, spread)."""
    init_text: str | None = None
    reparametrize: bool = True
    """prefix_tuning: through an MLP (Li & Liang); without it, the prefix itself is trained (P-tuning v2)."""
    budget: int = 8000
    """BBT: engine calls on the training set (each scores every training example)."""
    intrinsic_dim: int = 500
    population: int = 20
    sigma: float = 1.0
    loss: Loss = "ce"
    eval_every: int = 10
    """Steps (white-box) or CMA-ES generations (BBT) between development evaluations and checkpoints."""

    def __post_init__(self) -> None:
        if self.method not in TUNE_METHODS:
            raise PromptkitError(f"method: {self.method!r} is not a tuning method (known: {', '.join(TUNE_METHODS)})")
        for name in ("k", "steps", "budget", "intrinsic_dim", "population", "eval_every"):
            if getattr(self, name) < 1:
                raise PromptkitError(f"{name}: {getattr(self, name)}; at least 1")
        if self.tokens is not None and self.tokens < 1:
            raise PromptkitError(f"tokens: {self.tokens}; at least 1")
        if self.init == "text" and not self.init_text:
            raise PromptkitError("init: text needs init_text (the words the prompt starts as)")
        if self.population < 2:
            raise PromptkitError(f"population: {self.population}; CMA-ES needs at least 2")

    @property
    def prompt_tokens(self) -> int:
        return self.tokens or (50 if self.method == "bbt" else 20)

    @property
    def learning_rate(self) -> float:
        return self.lr or (1e-2 if self.method == "prefix_tuning" else 3e-2)

    def digest(self, model_key: str, data_digest: str, start: str = "") -> str:
        """What a checkpoint must match to be resumed."""
        fields = {**asdict(self), "model": model_key, "data": data_digest, "start": start}
        return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()[:16]
