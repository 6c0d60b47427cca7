"""A learned prompt in the hf engine: its key-value prefix gives what one plain forward gives."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from transformers import AutoConfig, AutoModelForCausalLM

from promptkit.engines.hf_decode import buffered_cache
from promptkit.engines.hf_soft_prompt import check_fits, prefix_cache
from promptkit.errors import PromptkitError
from promptkit.files.learned_prompt import LearnedPrompt


@pytest.fixture(scope="module")
def tiny(tiny_model):
    return AutoModelForCausalLM.from_pretrained(tiny_model).eval()


def test_tokens_after_soft_embeddings_score_as_one_forward_over_both(tiny):
    hidden = tiny.config.hidden_size
    soft = np.random.default_rng(0).normal(0, 0.05, (5, hidden)).astype(np.float32)
    tokens = torch.tensor([[3, 17, 42, 8, 99, 5]])
    with torch.inference_mode():
        whole = torch.cat([torch.from_numpy(soft)[None], tiny.get_input_embeddings()(tokens)], dim=1)
        reference = tiny(inputs_embeds=whole).logits[:, 5:]
        cache = buffered_cache(tiny.config, 32)
        length = prefix_cache(tiny, LearnedPrompt("prompt_tuning", "m@r", soft), cache, "cpu")
        after = tiny(input_ids=tokens, past_key_values=cache, use_cache=True).logits
    assert length == 5
    assert torch.allclose(after, reference, atol=1e-4)


def test_a_prompt_for_another_shape_is_one_line(tiny_model):
    config = AutoConfig.from_pretrained(tiny_model)
    wide = LearnedPrompt("bbt", "m@r", np.zeros((4, config.hidden_size + 1), dtype=np.float32))
    with pytest.raises(
        PromptkitError, match=rf"p.safetensors: learned for another shape \(hidden {config.hidden_size + 1}\)"
    ):
        check_fits(wide, config, "p.safetensors")
    deep = LearnedPrompt("prefix_tuning", "m@r", np.zeros((config.num_hidden_layers + 2, 2, 1, 3, 4), dtype=np.float32))
    with pytest.raises(PromptkitError, match=r"another shape .*layers"):
        check_fits(deep, config, "p.safetensors")


def _greedy_over_embeddings(model, soft: torch.Tensor, prompt: list[int], steps: int) -> list[int]:
    """The plain reference: every step one forward over [soft prompt; the tokens so far], no cache."""
    tokens = list(prompt)
    for _ in range(steps):
        embedded = torch.cat([soft[None], model.get_input_embeddings()(torch.tensor([tokens]))], dim=1)
        tokens.append(int(model(inputs_embeds=embedded).logits[0, -1].argmax()))
    return tokens[len(prompt) :]


def test_greedy_generation_after_soft_embeddings_is_the_plain_loops(tiny):
    """Through the decoder's batching, left padding and shared-prefix reuse, after the learned prompt."""
    from promptkit.engines.hf_decode import BatchDecoder
    from promptkit.types import Sampling

    soft = np.random.default_rng(1).normal(0, 0.05, (4, tiny.config.hidden_size)).astype(np.float32)
    shared = list(range(20, 40))  # 20 tokens every prompt starts with: encoded once
    prompts = [[*shared, 5, 6, 7], [*shared, 9], [*shared, 11, 12, 13, 14, 15]]
    done: dict[int, list[int]] = {}
    decoder = BatchDecoder(tiny, "cpu", pad_id=0, learned=LearnedPrompt("prompt_tuning", "m@r", soft))
    decoder.run(
        prompts, 1, Sampling(max_tokens=6), [], lambda row, t: len(t) >= 6, lambda row, t: done.update({row: t})
    )
    with torch.inference_mode():
        expected = [_greedy_over_embeddings(tiny, torch.from_numpy(soft), p, 6) for p in prompts]
    assert [done[r] for r in range(3)] == expected


def test_scores_after_soft_embeddings_equal_one_forward_over_each_pair(tiny):
    """Contexts behind shared demonstrations, contexts alone, one-token and longer continuations, small batches."""
    from promptkit.engines.hf_score import score_pairs

    soft = np.random.default_rng(2).normal(0, 0.05, (3, tiny.config.hidden_size)).astype(np.float32)
    demos = list(range(50, 90))  # 40 tokens: past MIN_SHARED_TOKENS, so run once (passes counted free)
    pairs = [
        ([*demos, 7, 8], [9]),
        ([*demos, 7, 8], [10, 11, 12]),
        ([*demos, 13], [14, 15]),
        ([3, 4, 5], [6]),
        ([30, 31], [32, 33]),
    ]
    learned = LearnedPrompt("prompt_tuning", "m@r", soft)
    with torch.inference_mode():
        scores = score_pairs(tiny, pairs, "cpu", max_batch_tokens=120, max_batch_size=2, learned=learned, pass_tokens=0)
        for (context, continuation), score in zip(pairs, scores):
            ids = torch.tensor([context + continuation])
            embedded = torch.cat([torch.from_numpy(soft)[None], tiny.get_input_embeddings()(ids)], dim=1)
            logp = torch.log_softmax(tiny(inputs_embeds=embedded).logits[0].float(), dim=-1)
            start = len(soft) + len(context) - 1
            expected = sum(float(logp[start + j, t]) for j, t in enumerate(continuation))
            assert abs(score.logprob - expected) < 1e-4, (context, continuation)
