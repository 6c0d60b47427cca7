"""One batch of generation that computes shared work once.

transformers' generate() re-encodes what the rows of a batch have in common and keeps every row
until the longest ends. Here, over one KV cache:
- the token prefix every prompt of the batch shares (few-shot demonstrations) is encoded once, at
  batch size 1, and its keys and values are repeated for each row;
- a request's n samples encode its prompt once: the cache rows are repeated after the prompt;
- a row that ends (EOS, stop string, its token room) leaves the batch at once, the last running
  rows moving into its place (only their keys and values are copied, in place);
- keys and values are written into buffers sized for the whole batch, not concatenated each step
  (transformers' DynamicCache copies the entire cache per token: 57% of a step at 40 rows x 1,000
  tokens on CPU).
Rows are padded between the shared prefix and their own suffix; the attention mask hides the
padding and position ids count only real tokens, so each row sees exactly its own prompt.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from transformers import DynamicCache
from transformers.cache_utils import DynamicLayer

from promptkit.engines.hf_soft_prompt import learned_length, prefix_cache
from promptkit.files.learned_prompt import LearnedPrompt
from promptkit.types import Sampling

MIN_SHARED_PREFIX = 16
"""Shorter common prefixes (a BOS token, "Q:") are not worth a separate forward pass."""

RowDone = Callable[[int, list[int]], None]


def shared_prefix_length(prompts: Sequence[Sequence[int]]) -> int:
    """Tokens every prompt starts with, leaving each prompt at least one token of its own.

    The own token is what gives each row its first logits, so a prompt never ends in the prefix.
    """
    if len(prompts) < 2:
        return 0
    # the lexicographic extremes bound every common prefix
    low, high = min(prompts), max(prompts)  # type: ignore[type-var]
    common = next((i for i, (a, b) in enumerate(zip(low, high)) if a != b), min(len(low), len(high)))
    common = min(common, min(len(p) for p in prompts) - 1)
    return common if common >= MIN_SHARED_PREFIX else 0


class _BufferedLayer(DynamicLayer):
    """A DynamicLayer whose keys and values live in preallocated buffers, grown only when full.

    update() writes the new positions in place and returns views of the filled part, so a step
    costs the same whatever the length so far; attention still sees only the filled positions.
    """

    def __init__(self, capacity: int) -> None:
        super().__init__()
        self.capacity = capacity
        self.length = 0

    def update(self, key_states: torch.Tensor, value_states: torch.Tensor, *args, **kwargs):
        if not self.is_initialized:
            self.is_initialized = True
            self.dtype, self.device = key_states.dtype, key_states.device
            self.keys = self.values = None
        end = self.length + key_states.shape[-2]
        if self.keys is None or end > self.keys.shape[-2]:
            self._grow(key_states, value_states, max(end, self.capacity, 2 * self.length))
        self.keys[:, :, self.length : end] = key_states  # type: ignore[index]
        self.values[:, :, self.length : end] = value_states  # type: ignore[index]
        self.length = end
        return self.keys[:, :, :end], self.values[:, :, :end]  # type: ignore[index]

    def _grow(self, key_states: torch.Tensor, value_states: torch.Tensor, size: int) -> None:
        def grown(old: torch.Tensor | None, new: torch.Tensor) -> torch.Tensor:
            buffer = new.new_empty((*new.shape[:2], size, new.shape[-1]))
            if old is not None:
                buffer[:, :, : self.length] = old[:, :, : self.length]
            return buffer

        self.keys, self.values = grown(self.keys, key_states), grown(self.values, value_states)

    def get_seq_length(self) -> int:
        return self.length

    def batch_repeat_interleave(self, repeats: int) -> None:
        if self.length:
            self.keys, self.values = self._repeated(self.keys, repeats), self._repeated(self.values, repeats)  # type: ignore[arg-type]

    def _repeated(self, old: torch.Tensor, repeats: int) -> torch.Tensor:
        """Each row repeated, into a buffer of the same capacity: only the filled positions are copied."""
        rows, heads, capacity, dim = old.shape
        new = old.new_empty((rows * repeats, heads, capacity, dim))
        new.view(rows, repeats, heads, capacity, dim)[:, :, :, : self.length] = old[:, None, :, : self.length]
        return new

    def move_rows(self, targets: torch.Tensor, sources: torch.Tensor, rows: int) -> None:
        """Copy rows sources into rows targets, in place and over the filled positions only, then keep
        the first `rows` rows (a view: the buffer is not reallocated)."""
        if self.length:
            for buffer in (self.keys, self.values):
                buffer[targets, :, : self.length] = buffer[sources, :, : self.length]  # type: ignore[index]
            self.keys, self.values = self.keys[:rows], self.values[:rows]  # type: ignore[index]

    def crop(self, tokens_to_remove: int) -> None:
        raise NotImplementedError("promptkit's decoding never crops its cache")


def buffered_cache(config, capacity: int) -> DynamicCache:
    """The model's DynamicCache with its full-attention layers buffered (sliding ones kept as they are)."""
    cache = DynamicCache(config=config)
    cache.layers = [_BufferedLayer(capacity) if type(layer) is DynamicLayer else layer for layer in cache.layers]
    return cache


@dataclass
class _Rows:
    """The rows still generating: their ids, attention mask and next positions, cache alongside."""

    ids: list[int]
    mask: torch.Tensor
    positions: torch.Tensor

    def drop(self, ended: list[int], cache: DynamicCache) -> list[int]:
        """Remove the batch positions `ended` (ascending); return the old position of each row kept.

        The last rows still running move into the places the ended rows leave, so a row that ends
        costs the copy of one row's keys and values, not of the whole batch's.
        """
        count = len(self.ids) - len(ended)
        gone = set(ended)
        holes = [j for j in ended if j < count]
        movers = [j for j in range(count, len(self.ids)) if j not in gone]
        order = list(range(count))
        for hole, mover in zip(holes, movers):
            order[hole] = mover
        index = torch.tensor(order, device=self.mask.device)
        if all(isinstance(layer, _BufferedLayer) for layer in cache.layers):
            targets, sources = (torch.tensor(x, device=self.mask.device, dtype=torch.long) for x in (holes, movers))
            for layer in cache.layers:
                layer.move_rows(targets, sources, count)  # type: ignore[union-attr]
        else:  # a model with sliding-window layers: transformers' own selection, whole buffers copied
            cache.batch_select_indices(index)
        self.ids = [self.ids[j] for j in order]
        self.mask = self.mask[index]
        self.positions = self.positions[index]
        return order


class BatchDecoder:
    """Runs one batch: prefill with the shared prefix once, then decode, dropping finished rows."""

    def __init__(self, model, device: str, pad_id: int, learned: LearnedPrompt | None = None) -> None:
        self.model = model
        self.device = device
        self.pad_id = pad_id
        self.learned = learned

    @torch.inference_mode()
    def run(
        self,
        prompts: list[list[int]],
        rows_each: int,
        sampling: Sampling,
        seeds: list[int],
        finished: Callable[[int, list[int]], bool],
        on_row_done: RowDone,
    ) -> None:
        """Generate rows_each rows per prompt (row r * rows_each + k is prompt r's k-th sample).

        finished(row, tokens) says whether a row has ended after its latest token; on_row_done gets
        each row's tokens the moment it ends.
        """
        longest = max(len(p) for p in prompts) + sampling.max_tokens + learned_length(self.learned)
        cache = buffered_cache(self.model.config, longest)
        logits, rows = self._prefill(prompts, cache)
        if rows_each > 1:
            cache.batch_repeat_interleave(rows_each)
            logits = logits.repeat_interleave(rows_each, dim=0)
            rows.mask = rows.mask.repeat_interleave(rows_each, dim=0)
            rows.positions = rows.positions.repeat_interleave(rows_each, dim=0)
        rows.ids = list(range(len(prompts) * rows_each))
        pick = _Picker(sampling, seeds, self.device)
        tokens: list[list[int]] = [[] for _ in rows.ids]
        while True:
            chosen = pick(logits, rows.ids).tolist()
            ended = []
            for j, (row, token) in enumerate(zip(rows.ids, chosen)):
                tokens[row].append(token)
                if finished(row, tokens[row]):
                    on_row_done(row, tokens[row])
                    ended.append(j)
            if len(ended) == len(rows.ids):
                return
            if ended:
                chosen = [chosen[j] for j in rows.drop(ended, cache)]
            rows.mask = torch.cat([rows.mask, rows.mask.new_ones((len(chosen), 1))], dim=1)
            out = self.model(
                input_ids=torch.tensor(chosen, device=self.device)[:, None],
                attention_mask=rows.mask,
                position_ids=rows.positions[:, None],
                past_key_values=cache,
                use_cache=True,
            )
            rows.positions = rows.positions + 1
            logits = out.logits[:, -1, :]

    def _prefill(self, prompts: list[list[int]], cache: DynamicCache) -> tuple[torch.Tensor, _Rows]:
        # a learned prompt's keys and values come first; the tokens continue at its length
        learned = prefix_cache(self.model, self.learned, cache, self.device) if self.learned else 0
        shared = shared_prefix_length(prompts)
        if shared:
            prefix = torch.tensor([prompts[0][:shared]], device=self.device)
            self.model(input_ids=prefix, past_key_values=cache, use_cache=True, logits_to_keep=1)
        if shared or learned:
            cache.batch_repeat_interleave(len(prompts))
        before = learned + shared
        own = [p[shared:] for p in prompts]
        width = max(len(s) for s in own)
        ids = torch.full((len(prompts), width), self.pad_id, dtype=torch.long)
        mask = torch.zeros((len(prompts), before + width), dtype=torch.long)
        mask[:, :before] = 1
        for r, suffix in enumerate(own):
            ids[r, width - len(suffix) :] = torch.tensor(suffix, dtype=torch.long)
            mask[r, before + width - len(suffix) :] = 1
        mask = mask.to(self.device)
        positions = (mask.cumsum(-1) - 1).clamp(min=0)
        out = self.model(
            input_ids=ids.to(self.device),
            attention_mask=mask,
            position_ids=positions[:, before:],
            past_key_values=cache,
            use_cache=True,
            logits_to_keep=1,
        )
        return out.logits[:, -1, :], _Rows([], mask, mask.sum(-1))


class _Picker:
    """Greedy argmax, or each sampled row's token drawn from that row's own generator.

    Temperature, then top-p; the generator is seeded per sample, so a row's draws do not depend on
    which other rows share (or have left) the batch.
    """

    def __init__(self, sampling: Sampling, seeds: list[int], device: str) -> None:
        self.sampling = sampling
        self.generators = [torch.Generator(device=device).manual_seed(s) for s in seeds]

    def __call__(self, logits: torch.Tensor, rows: list[int]) -> torch.Tensor:
        if self.sampling.greedy:
            return logits.argmax(dim=-1)
        probs = torch.softmax(logits.float() / self.sampling.temperature, dim=-1)
        if self.sampling.top_p < 1.0:
            ordered, order = probs.sort(dim=-1, descending=True)
            outside = ordered.cumsum(dim=-1) - ordered > self.sampling.top_p  # keeps the token that crosses top_p
            probs = probs.scatter(-1, order, ordered.masked_fill(outside, 0.0))
        # torch.multinomial's own one-draw method (argmax of p / q, q ~ Exp(1)), with each row's noise
        # from that row's generator: the same tokens as a multinomial call per row, in one argmax.
        return (probs / self._noise(probs, rows)).argmax(dim=-1)

    def _noise(self, like: torch.Tensor, rows: list[int]) -> torch.Tensor:
        """Exp(1) noise shaped like `like`, row j's drawn by rows[j]'s generator as exponential_ draws it."""
        if like.device.type != "cpu":
            noise = torch.empty_like(like)
            for j, row in enumerate(rows):
                noise[j].exponential_(generator=self.generators[row])
            return noise
        # On CPU exponential_ draws one float64 uniform u per value and returns -log1p(-u) (tested):
        # the same values, with the logarithm taken once for the batch (half the time at 40 rows).
        uniform = torch.empty(like.shape, dtype=torch.float64)
        for j, row in enumerate(rows):
            uniform[j].uniform_(generator=self.generators[row])
        return uniform.neg_().log1p_().neg_().to(like.dtype)
