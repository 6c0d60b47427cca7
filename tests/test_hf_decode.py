"""The hf engine's decoding loop: its shortcuts give the tokens the plain ways give."""

from __future__ import annotations

import torch
from transformers import AutoConfig, DynamicCache

from promptkit.engines.hf import HFEngine
from promptkit.engines.hf_decode import _Picker, _Rows, buffered_cache
from promptkit.types import GenRequest, Sampling


def test_sampled_rows_draw_what_torch_multinomial_draws_from_their_generators():
    """One argmax over the batch, the same tokens as torch.multinomial row by row (so no completion changed)."""
    seeds = [11, 12, 13, 14, 15, 16]
    picker = _Picker(Sampling(max_tokens=1, temperature=0.8, n=6, seed=1), seeds, "cpu")
    reference = [torch.Generator().manual_seed(s) for s in seeds]
    logits = torch.randn(6, 3000, generator=torch.Generator().manual_seed(0)) * 4
    rows = [5, 0, 3, 1, 4, 2]  # batch positions hold rows in any order
    for _ in range(25):
        probs = torch.softmax(logits / 0.8, dim=-1)
        expected = [int(torch.multinomial(probs[j], 1, generator=reference[row])) for j, row in enumerate(rows)]
        assert picker(logits, rows).tolist() == expected
        logits = logits.roll(7, dims=-1)
        rows = rows[1:]  # a row leaves; the others keep drawing from their own generators
        logits = logits[1:]
        if not rows:
            break


def _filled_cache(tiny_model, rows: int, length: int, buffered: bool = True):
    config = AutoConfig.from_pretrained(tiny_model)
    cache = buffered_cache(config, capacity=length + 4) if buffered else DynamicCache(config=config)
    heads = config.num_key_value_heads
    dim = config.hidden_size // config.num_attention_heads
    for layer in range(config.num_hidden_layers):
        # row r holds r everywhere, so where each row went can be read back
        keys = torch.arange(rows, dtype=torch.float32).view(rows, 1, 1, 1).expand(rows, heads, length, dim).clone()
        cache.update(keys, keys + 100, layer)
    return cache


def test_ending_rows_are_replaced_by_the_last_running_rows_in_place(tiny_model):
    cache = _filled_cache(tiny_model, rows=6, length=5)
    buffers = [layer.keys.data_ptr() for layer in cache.layers]
    rows = _Rows(ids=[10, 11, 12, 13, 14, 15], mask=torch.ones(6, 5, dtype=torch.long), positions=torch.arange(6))
    order = rows.drop([1, 3], cache)
    assert order == [0, 4, 2, 5], "rows 4 and 5 fill the places of rows 1 and 3"
    assert rows.ids == [10, 14, 12, 15] and rows.positions.tolist() == order
    for layer, buffer in zip(cache.layers, buffers):
        assert layer.keys.data_ptr() == buffer, "the buffer is kept, not reallocated"
        assert layer.keys[:, 0, :5, 0].tolist() == [[float(r)] * 5 for r in order]
        assert layer.values[:, 0, :5, 0].tolist() == [[float(r) + 100] * 5 for r in order]
    assert rows.drop([2, 3], cache) == [0, 1], "ending at the end moves nothing"
    assert [layer.keys.shape[0] for layer in cache.layers] == [2] * len(cache.layers)


def test_rows_ending_mid_batch_leave_the_others_tokens_as_they_were_alone(tmp_path):
    """The longest prompt has the least room, so it ends first and the last row moves into its place."""
    from promptkit.testing.tiny_model import build_tiny_model

    engine = HFEngine(str(build_tiny_model(tmp_path / "m", context=64)), device="cpu", progress=False)
    prompts = ["apples " * 40 + "Q: Janet", "Q: Janet", "apples " * 20 + "Q: Janet", "pears " * 10 + "Q: Tom"]
    for sampling in (Sampling(max_tokens=100), Sampling(max_tokens=100, temperature=1.0, n=3, seed=4)):
        together = engine.generate([GenRequest(p, sampling) for p in prompts])
        alone = [engine.generate([GenRequest(p, sampling)])[0] for p in prompts]
        assert [c.token_ids for c in together] == [c.token_ids for c in alone], sampling
        assert len({c.completion_tokens for c in together}) > 1, "rows ended at different steps"


def test_a_cache_with_layers_of_its_own_kind_drops_rows_in_the_same_order(tiny_model):
    """Models with sliding-window layers keep transformers' layers: their rows follow the same order."""
    cache = _filled_cache(tiny_model, rows=6, length=5, buffered=False)
    rows = _Rows(ids=[10, 11, 12, 13, 14, 15], mask=torch.ones(6, 5, dtype=torch.long), positions=torch.arange(6))
    order = rows.drop([1, 3], cache)
    assert order == [0, 4, 2, 5] and rows.ids == [10, 14, 12, 15]
    for layer in cache.layers:
        assert layer.keys[:, 0, :5, 0].tolist() == [[float(r)] * 5 for r in order]
