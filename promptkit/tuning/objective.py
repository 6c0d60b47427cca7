"""The loss a prompt is tuned for: the classes' cross-entropy over their label words, each class's probability
the sum of its words' (as `classify` scores them), renormalised over the classes.

White-box methods compute it with gradients in one forward pass laid out as the hf engine lays out its rows
(the learned prompt, then left padding that takes no positions, then the tokens), so a prompt is trained on
what it is later scored on. Black-box methods get the same numbers from the engine's own `score`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

from promptkit.engines.base import Engine
from promptkit.tuning.data import Split, TuningData
from promptkit.types import ScoreRequest

Encode = Callable[[str, str], tuple[list[int], list[int]]]
"""(context, continuation) -> their ids, split as the engine's scoring splits them."""


def class_log_probs(word_logprobs: torch.Tensor, word_class: Sequence[int], classes: int) -> torch.Tensor:
    """[examples, words] log-probabilities -> [examples, classes]: log of the sum over each class's words."""
    columns = torch.tensor(word_class, device=word_logprobs.device)
    return torch.stack([word_logprobs[:, columns == c].logsumexp(dim=1) for c in range(classes)], dim=1)


def cross_entropy(class_lp: torch.Tensor, targets: Sequence[int]) -> torch.Tensor:
    gold = torch.tensor(targets, device=class_lp.device)
    return torch.nn.functional.cross_entropy(class_lp, gold)


def accuracy(class_lp: torch.Tensor, targets: Sequence[int]) -> float:
    gold = torch.tensor(targets, device=class_lp.device)
    return float((class_lp.argmax(dim=1) == gold).float().mean())


@dataclass(frozen=True)
class Rows:
    """One split's (example, label word) rows, tokenized and left-padded: one forward pass scores them all."""

    ids: torch.Tensor
    mask: torch.Tensor
    continuation: list[list[int]]
    examples: int
    words: int

    @classmethod
    def of(cls, split: Split, data: TuningData, encode: Encode, pad_id: int) -> Rows:
        pairs = [encode(c, cont) for c in split.contexts for _, cont in data.continuations]
        width = max(len(a) + len(b) for a, b in pairs)
        ids = torch.full((len(pairs), width), pad_id, dtype=torch.long)
        mask = torch.zeros((len(pairs), width), dtype=torch.long)
        for r, (a, b) in enumerate(pairs):
            ids[r, width - len(a) - len(b) :] = torch.tensor(a + b)
            mask[r, width - len(a) - len(b) :] = 1
        return cls(ids, mask, [b for _, b in pairs], len(split.contexts), len(data.continuations))

    def word_logprobs(self, logits: torch.Tensor) -> torch.Tensor:
        """[rows, kept positions, vocab] logits of the last positions -> [examples, words] log-probabilities
        of each row's continuation."""
        out = []
        for r, cont in enumerate(self.continuation):
            predicting = logits[r, -len(cont) - 1 : -1].log_softmax(dim=-1)
            out.append(predicting.gather(1, torch.tensor(cont, device=logits.device)[:, None]).sum())
        return torch.stack(out).view(self.examples, self.words)

    @property
    def keep(self) -> int:
        """The last positions whose logits the continuations need."""
        return max(len(c) for c in self.continuation) + 1


def forward_after(model, rows: Rows, learned: torch.Tensor | object, length: int, device: str) -> torch.Tensor:
    """Logits of the rows' last positions after a learned prompt of `length` positions: soft embeddings
    [1, P, hidden] go before the tokens' embeddings; a prefix (a key-value cache for one row) is repeated
    for every row. Padding takes no positions, as in the engine."""
    ids, mask = rows.ids.to(device), rows.mask.to(device)
    full = torch.cat([torch.ones((len(ids), length), dtype=mask.dtype, device=device), mask], dim=1)
    positions = (full.cumsum(-1) - 1).clamp(min=0)
    if isinstance(learned, torch.Tensor):
        embeds = torch.cat([learned.expand(len(ids), -1, -1), model.get_input_embeddings()(ids)], dim=1)
        out = model(inputs_embeds=embeds, attention_mask=full, position_ids=positions, logits_to_keep=rows.keep)
    else:
        out = model(
            input_ids=ids,
            attention_mask=full,
            position_ids=positions[:, length:],
            past_key_values=learned,
            use_cache=True,
            logits_to_keep=rows.keep,
        )
    return out.logits


def engine_class_log_probs(engine: Engine, split: Split, data: TuningData) -> torch.Tensor:
    """The same [examples, classes] log-probabilities from one engine `score` call (what black-box methods
    may use: the engine and its cache, nothing inside the model)."""
    continuations = data.continuations
    requests = [ScoreRequest(c, cont) for c in split.contexts for _, cont in continuations]
    scores = engine.score(requests)
    word_lp = torch.tensor([s.logprob for s in scores], dtype=torch.float64).view(len(split.contexts), -1)
    return class_log_probs(word_lp, [c for c, _ in continuations], len(data.classes))
