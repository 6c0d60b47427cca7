"""How a prompt is tuned: the method and its knobs, each default written here once."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from typing import Literal

from promptkit.errors import PromptkitError
from promptkit.schema import SEED_MAX, check_count

WHITE_BOX = ("prompt_tuning", "prefix_tuning", "p_tuning", "lora")
"""Learned with gradients through the model (peft's prompt encoders; LoRA: fine-tuning, the upper reference)."""
ADAPTERS = ("lora",)
"""Learned into the weights: written as an adapter folder (`--adapter`), not a learned-prompt file."""
BLACK_BOX = ("bbt", "bbtv2", "bdpl")
"""Learned from the engine's scores alone (bdpl on any engine that scores; bbt on the hf engine's)."""
TUNE_METHODS = WHITE_BOX + BLACK_BOX
ON_ANY_ENGINE = ("bdpl",)
"""The methods that need nothing but the engine's scores; the others read or train the hf engine's model."""

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
    """Prompt length: virtual tokens (default 20, BBT's 50), or BDPL's phrases (default 5)."""
    steps: int = 100
    """White-box: optimiser steps, each over the whole training set."""
    batch: int | None = None
    """White-box: examples per step, in a seeded order an epoch at a time; default all of them."""
    lr: float | None = None
    """AdamW's learning rate; default 3e-2 (prompt tuning, P-tuning), 1e-2 (prefix tuning, BDPL)."""
    init: Init = "vocab"
    """prompt_tuning: embeddings of seeded random vocabulary ids, of `init_text`'s tokens, or N(0, spread)."""
    init_text: str | None = None
    reparametrize: bool = True
    """prefix_tuning: through an MLP (Li & Liang); without it, the prefix itself is trained (P-tuning v2)."""
    budget: int = 8000
    """BBT, BDPL: engine calls on the training set (each scores every training example)."""
    intrinsic_dim: int = 500
    population: int = 20
    sigma: float = 1.0
    loss: Loss = "ce"
    candidates: int = 50
    """BDPL: phrases each prompt position chooses from (the most frequent PMI n-grams of the training text)."""
    samples: int = 10
    """BDPL: prompts drawn per step (the policy gradient's samples; one engine call each)."""
    rank: int = 8
    """LoRA: the rank of each adapted matrix's update."""
    alpha: int = 16
    """LoRA: the update's scale is alpha / rank."""
    target_modules: str = "q_proj,v_proj"
    """LoRA: the linear modules adapted in every layer, by name (Hu et al.'s query and value projections)."""
    eval_every: int = 10
    """Steps (white-box) or CMA-ES generations (BBT) between development evaluations and checkpoints."""
    patience: int | None = None
    """Development evaluations in a row without a better accuracy after which the run stops: the steps or budget
    become a ceiling, not a cost. None: run them all."""

    def __post_init__(self) -> None:
        if self.method not in TUNE_METHODS:
            raise PromptkitError(f"method: {self.method!r} is not a tuning method (known: {', '.join(TUNE_METHODS)})")
        for name in ("k", "steps", "budget", "intrinsic_dim", "population", "eval_every", "candidates", "samples",
                     "rank", "alpha"):  # fmt: skip
            check_count(name, getattr(self, name))
        for name in ("batch", "tokens", "patience"):
            if getattr(self, name) is not None:
                check_count(name, getattr(self, name))
        if not 0 <= self.seed <= SEED_MAX:
            raise PromptkitError(f"seed: {self.seed}; 0 to 2**64 - 1")
        if self.init == "text" and not self.init_text:
            raise PromptkitError("init: text needs init_text (the words the prompt starts as)")
        if self.population < 2:
            raise PromptkitError(f"population: {self.population}; CMA-ES needs at least 2")
        if not self.targets or not all(t.isidentifier() for t in self.targets):
            raise PromptkitError(f"target_modules: {self.target_modules!r}; module names separated by commas")
        if self.samples < 2:
            raise PromptkitError(f"samples: {self.samples}; the policy gradient's baseline needs at least 2")

    @property
    def prompt_tokens(self) -> int:
        return self.tokens or {"bbt": 50, "bbtv2": 50, "bdpl": 5}.get(self.method, 20)

    @property
    def targets(self) -> list[str]:
        return [t.strip() for t in self.target_modules.split(",") if t.strip()]

    @property
    def learning_rate(self) -> float:
        return self.lr or {"prefix_tuning": 1e-2, "bdpl": 1e-2, "lora": 1e-3}.get(self.method, 3e-2)

    def digest(self, model_key: str, data_digest: str, start: str = "") -> str:
        """What a checkpoint must match to be resumed."""
        fields = {**asdict(self), "model": model_key, "data": data_digest, "start": start}
        return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()[:16]
