"""How a prompt is searched: the method and its knobs, each default written here once."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from typing import Literal, get_args

from promptkit.errors import PromptkitError
from promptkit.schema import SEED_MAX, check_count

SEARCH_METHODS = ("demo_search", "bootstrap", "instruction_search")
"""`promptkit tune` methods that choose the prompt's text (demonstrations, rationales, instructions)."""

Criterion = Literal["dev", "globale", "locale"]
CRITERIA: tuple[str, ...] = get_args(Criterion)


@dataclass(frozen=True)
class SearchSettings:
    method: str
    base: str | None = None
    """The method whose prompt is searched; default: classify for a classification task, else few_shot_cot
    (instruction_search on a reasoning task: zero_shot_cot's trigger)."""
    shots: int = 4
    """Demonstrations per prompt (0 keeps none: instruction_search alone makes sense then)."""
    budget: int = 64
    """Engine calls the search may make, every call of every stage counted (a cached call too)."""
    dev: int = 64
    """Development examples, drawn from the training pool; the demonstrations come from the rest."""
    seed: int = 0
    """Draws the development split, the candidates and their orders."""
    calibrate: bool = False
    """Classification: candidates scored after contextual calibration (Zhao et al.)."""
    balanced: bool = False
    """demo_search: each candidate holds as many demonstrations of each class as it can."""
    criterion: Criterion = "dev"
    """demo_search: development accuracy, or Lu et al.'s GlobalE / LocalE on a probing set (no labels)."""
    leaders: int = 2
    """Successive halving stops when this many are left; they are scored on the whole development split."""
    min_batch: int = 8
    """The smallest development minibatch of successive halving's first rung."""
    bootstrap: int = 32
    """bootstrap: training questions the teacher answers; those it answers right become demonstrations."""
    proposals: int = 4
    """instruction_search: instructions proposed at each step."""

    def __post_init__(self) -> None:
        if self.method not in SEARCH_METHODS:
            raise PromptkitError(f"method: {self.method!r} is not a search method (known: {', '.join(SEARCH_METHODS)})")
        for name in ("budget", "dev", "leaders", "min_batch", "bootstrap", "proposals"):
            check_count(name, getattr(self, name))
        check_count("shots", self.shots, least=0)
        if not 0 <= self.seed <= SEED_MAX:
            raise PromptkitError(f"seed: {self.seed}; 0 to 2**64 - 1")
        if self.criterion not in CRITERIA:
            raise PromptkitError(f"criterion: {self.criterion!r} (known: {', '.join(CRITERIA)})")
        if self.criterion != "dev" and self.method != "demo_search":
            raise PromptkitError(f"criterion: {self.criterion} orders demonstrations: demo_search only")
        if self.method in ("demo_search", "bootstrap") and self.shots == 0:
            raise PromptkitError(f"shots: 0 leaves {self.method} nothing to choose; instruction_search keeps zero")

    def digest(self, *parts: str) -> str:
        """What a search log must match to be resumed: these settings and what they ran on."""
        fields = {**asdict(self), "on": list(parts)}
        return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()[:16]
