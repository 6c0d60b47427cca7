"""SDPA attention that keeps grouped-query heads grouped when a padding mask is given, on CPU.

transformers' own sdpa path copies every key and value head out to the query heads (repeat_kv)
whenever there is an attention mask, which a batch of prompts of different lengths always has:
for SmolLM2 at 40 rows x 1,000 tokens on CPU that copy is 70 ms of attention per layer and step
against 5 ms with torch's enable_gqa, which gives the same numbers.
"""

from __future__ import annotations

import torch
from transformers import AttentionInterface
from transformers.integrations.sdpa_attention import sdpa_attention_forward
from transformers.masking_utils import AttentionMaskInterface, sdpa_mask

NAME = "promptkit_sdpa_gqa"


def kv_layout(config) -> tuple[int, int, int]:
    """(layers, key-value heads, head dim) of a model's key-value cache, from its config."""
    text = config.get_text_config(decoder=True)
    heads = getattr(text, "num_key_value_heads", None) or text.num_attention_heads
    head_dim = getattr(text, "head_dim", None) or text.hidden_size // text.num_attention_heads
    return text.num_hidden_layers, heads, head_dim


def sdpa_gqa_forward(module, query, key, value, attention_mask, dropout=0.0, scaling=None, **kwargs):
    grouped = getattr(module, "num_key_value_groups", 1) > 1
    if attention_mask is None or not grouped or query.device.type != "cpu" or kwargs.get("position_bias") is not None:
        return sdpa_attention_forward(module, query, key, value, attention_mask, dropout, scaling, **kwargs)
    out = torch.nn.functional.scaled_dot_product_attention(
        query, key, value, attn_mask=attention_mask, dropout_p=dropout, scale=scaling, enable_gqa=True
    )
    return out.transpose(1, 2).contiguous(), None


def use_grouped_sdpa(model) -> None:
    """Switch a CPU model that runs transformers' sdpa to the grouped variant (same numbers, no copies)."""
    if getattr(model.config, "_attn_implementation", None) != "sdpa":
        return
    if NAME not in AttentionInterface._global_mapping:  # registered once; other models are unaffected
        AttentionInterface.register(NAME, sdpa_gqa_forward)
        AttentionMaskInterface.register(NAME, sdpa_mask)  # the masks transformers builds for sdpa
    model.set_attn_implementation(NAME)
