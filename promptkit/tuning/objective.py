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
    """One split's rows, tokenized and left-padded: one forward pass scores them all. Where every label word is
    one token after an example's context (each of Zhao et al.'s tasks on SmolLM2), the example is one row and
    its words are read at its last position, as the engine scores them; otherwise each (example, word) is a row."""

    ids: torch.Tensor
    mask: torch.Tensor
    continuation: list[list[int]]
    """Per row: the tokens it scores (one row per word), or each word's one token (one row per example)."""
    examples: int
    words: int
    one_row_each: bool
    prompt_tokens: int
    """Each (example, word) pair's context tokens, summed: what an engine's scoring call counts for them."""

    @classmethod
    def of(cls, split: Split, data: TuningData, encode: Encode, pad_id: int, *, per_word: bool = False) -> Rows:
        """`per_word`: a row per (example, word) even where one per example would do."""
        conts = [cont for _, cont in data.continuations]
        pairs = [[encode(c, cont) for cont in conts] for c in split.contexts]
        one_row_each = not per_word and all(len(b) == 1 and a == ex[0][0] for ex in pairs for a, b in ex)
        if one_row_each:
            fed = [ex[0][0] for ex in pairs]
            scored = [[b[0] for _, b in ex] for ex in pairs]
        else:
            fed = [a + b for ex in pairs for a, b in ex]
            scored = [b for ex in pairs for _, b in ex]
        width = max(len(f) for f in fed)
        ids = torch.full((len(fed), width), pad_id, dtype=torch.long)
        mask = torch.zeros((len(fed), width), dtype=torch.long)
        for r, f in enumerate(fed):
            ids[r, width - len(f) :] = torch.tensor(f)
            mask[r, width - len(f) :] = 1
        prompt_tokens = sum(len(a) for ex in pairs for a, _ in ex)
        return cls(ids, mask, scored, len(split.contexts), len(conts), one_row_each, prompt_tokens)

    @classmethod
    def chunks(cls, split: Split, data: TuningData, encode: Encode, pad_id: int, rows: int) -> list[Rows]:
        """The split in passes of whole examples, about `rows` rows each, in order."""
        whole = cls.of(split, data, encode, pad_id)
        each = rows if whole.one_row_each else max(1, rows // len(data.continuations))
        if each >= len(split.contexts):
            return [whole]
        parts = range(0, len(split.contexts), each)
        return [
            cls.of(Split(split.contexts[i : i + each], split.targets[i : i + each]), data, encode, pad_id)
            for i in parts
        ]

    def word_logprobs(self, logits: torch.Tensor) -> torch.Tensor:
        """[rows, kept positions, vocab] logits of the last positions -> [examples, words] log-probabilities
        of each word after its example's context."""
        if self.one_row_each:
            last = logits[:, -1].log_softmax(dim=-1)
            return last.gather(1, torch.tensor(self.continuation, device=logits.device))
        out = []
        for r, cont in enumerate(self.continuation):
            predicting = logits[r, -len(cont) - 1 : -1].log_softmax(dim=-1)
            out.append(predicting.gather(1, torch.tensor(cont, device=logits.device)[:, None]).sum())
        return torch.stack(out).view(self.examples, self.words)

    @classmethod
    def by_length(
        cls, split: Split, data: TuningData, encode: Encode, pad_id: int, rows: int
    ) -> tuple[list[Rows], Split]:
        """The split's examples shortest first, in passes of about `rows` rows (for what does not depend on their
        order, an accuracy): neighbours in length pad little, which on a CPU costs as much as tokens. Returns
        the passes and the reordered split, whose targets they follow."""
        first = data.continuations[0][1]
        order = sorted(range(len(split.contexts)), key=lambda i: len(encode(split.contexts[i], first)[0]))
        ordered = Split(tuple(split.contexts[i] for i in order), tuple(split.targets[i] for i in order))
        return cls.chunks(ordered, data, encode, pad_id, rows), ordered

    @property
    def keep(self) -> int:
        """The last positions whose logits the continuations need."""
        return 1 if self.one_row_each else max(len(c) for c in self.continuation) + 1


def forward_after(model, rows: Rows, learned: torch.Tensor | object, length: int, device: str) -> torch.Tensor:
    """Logits of the rows' last positions after a learned prompt of `length` positions: soft embeddings
    [1, P, hidden] go before the tokens' embeddings; a prefix (a key-value cache for one row) is repeated
    for every row. Padding takes no positions, as in the engine."""
    ids, mask = rows.ids.to(device), rows.mask.to(device)
    if learned is None:  # what is learned is inside the weights (LoRA): the tokens alone, no prompt positions
        positions = (mask.cumsum(-1) - 1).clamp(min=0)
        return model(input_ids=ids, attention_mask=mask, position_ids=positions, logits_to_keep=rows.keep).logits
    full = torch.cat([torch.ones((len(ids), length), dtype=mask.dtype, device=device), mask], dim=1)
    positions = (full.cumsum(-1) - 1).clamp(min=0)
    if isinstance(learned, torch.Tensor):
        tokens = model.get_input_embeddings()(ids)
        embeds = torch.cat([learned.to(tokens.dtype).expand(len(ids), -1, -1), tokens], dim=1)
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
