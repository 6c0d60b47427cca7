"""A learned prompt as the key-value prefix every row of the hf engine starts from.

Soft embeddings (prompt tuning, P-tuning, BBT) run through the model once, at batch size 1, and
leave their keys and values in a cache; a learned prefix (prefix tuning) is those keys and values
already. Either way every row then continues at position P, as peft's models do, and the engine's
own batching, padding and shared-prefix reuse work after it unchanged. Feeding the prefix through
the cache, rather than peft's forward, also avoids peft's known fault of dropping the prompt when a
cache is passed in.
"""

from __future__ import annotations

import torch
from transformers import AutoConfig, DynamicCache

from promptkit.engines.hf_attention import kv_layout
from promptkit.errors import PromptkitError
from promptkit.files.learned_prompt import LearnedPrompt


def model_config(source: str, revision: str | None, gguf_file: str | None, trust_remote_code: bool):
    """The model's config, read without its weights (for the shape check)."""
    kwargs = {"revision": revision, "trust_remote_code": trust_remote_code}
    if gguf_file:
        kwargs["gguf_file"] = gguf_file
    return AutoConfig.from_pretrained(source, **kwargs)


def check_fits(prompt: LearnedPrompt, config, where: str) -> None:
    """One line if the prompt's shapes are not this model's (before any weight loads)."""
    layers, heads, head_dim = kv_layout(config)
    if prompt.is_prefix:
        expected = {"layers": layers, "kv_heads": heads, "head_dim": head_dim}
    elif prompt.tensor is not None:
        expected = {"hidden": config.get_text_config(decoder=True).hidden_size}
    else:
        return
    wrong = {k: v for k, v in expected.items() if prompt.shapes.get(k) != v}
    if wrong:
        got = ", ".join(f"{k} {prompt.shapes.get(k)}" for k in wrong)
        want = ", ".join(f"{k} {v}" for k, v in wrong.items())
        raise PromptkitError(f"{where}: learned for another shape ({got}); this model has {want}")


def prefix_cache(model, prompt: LearnedPrompt, cache: DynamicCache, device: str) -> int:
    """Fill an empty cache with the prompt's keys and values for one row; return its length P (0 for
    a text prompt, which goes before the prompt's text instead)."""
    if prompt.tensor is None:
        return 0
    dtype = model.get_input_embeddings().weight.dtype
    tensor = torch.from_numpy(prompt.tensor).to(device=device, dtype=dtype)
    if prompt.is_prefix:
        for layer in range(tensor.shape[0]):  # [layers, keys/values, kv_heads, P, head_dim]
            cache.update(tensor[layer, 0][None], tensor[layer, 1][None], layer)
        return tensor.shape[3]
    model(inputs_embeds=tensor[None], past_key_values=cache, use_cache=True, logits_to_keep=1)
    return tensor.shape[0]


def learned_length(prompt: LearnedPrompt | None) -> int:
    """The positions a learned prompt takes before the tokens (0 without one, or for a text prompt)."""
    if prompt is None or prompt.tensor is None:
        return 0
    return prompt.shapes["tokens"]
