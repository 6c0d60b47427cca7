"""Do two engines generate the same greedy text for the same requests? And where not, why not?

A difference between two correct engines can only start where the model's top two next tokens are
nearly tied, so that float rounding in one kernel or the other decides. For each difference this
finds the first token where the two disagree and measures the top-2 logit gap there, with the
transformers engine's model on the unpadded sequence.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from promptkit.types import Completion, GenRequest


@dataclass(frozen=True)
class Difference:
    index: int
    position: int
    """First generated token where the engines disagree."""
    gap: float
    """Top-2 logit gap there, in the reference model."""
    tokens: tuple[int, int]
    """The token each engine chose there (reference first)."""


@dataclass(frozen=True)
class Agreement:
    total: int
    identical: int
    differences: tuple[Difference, ...]

    def summary(self) -> str:
        gaps = ", ".join(f"#{d.index} at token {d.position}: gap {d.gap:.2e}" for d in self.differences)
        return f"{self.identical}/{self.total} completions identical" + (f"; differences: {gaps}" if gaps else "")


def compare_greedy(
    hf_engine, requests: Sequence[GenRequest], reference: Sequence[Completion], other: Sequence[Completion]
) -> Agreement:
    """Compare the reference (hf) engine's completions with another engine's on the same requests."""
    differences = []
    for i, (request, a, b) in enumerate(zip(requests, reference, other)):
        x, y = a.token_ids[0], b.token_ids[0]
        if x == y or (a.text == b.text and not (x and y)):
            continue
        j = next((k for k, (p, q) in enumerate(zip(x, y)) if p != q), min(len(x), len(y)))
        gap = _top2_gap(hf_engine, hf_engine.encode(request.prompt) + list(x[:j]))
        differences.append(Difference(i, j, gap, (_at(x, j), _at(y, j))))
    return Agreement(len(requests), len(requests) - len(differences), tuple(differences))


def _at(ids: Sequence[int], j: int) -> int:
    return ids[j] if j < len(ids) else -1  # -1: this engine had stopped


def _top2_gap(hf_engine, ids: list[int]) -> float:
    import torch

    with torch.inference_mode():
        logits = hf_engine.model(torch.tensor([ids], device=hf_engine.device)).logits[0, -1].float()
    top = logits.topk(2).values
    return float(top[0] - top[1])
