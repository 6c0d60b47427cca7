"""hf and vllm, same 32 GSM8K few-shot-CoT prompts, greedy, float32: the same completions."""

from __future__ import annotations

import pytest

from evals.agreement import compare_greedy
from evals.engine_agreement import few_shot_cot_requests

pytestmark = pytest.mark.reproduction


def test_hf_and_vllm_agree_on_32_gsm8k_few_shot_cot_prompts(shared_data, smol_hf, vllm_engine):
    requests = few_shot_cot_requests(str(shared_data / "gsm8k" / "test.jsonl"), 32, 64)
    assert len(requests) == 32 and requests[0].prompt.count("\n\nQ: ") == 8, "8 demonstrations, then the question"
    hf_out = smol_hf.generate(requests)
    vllm_out = vllm_engine.generate(requests)
    agreement = compare_greedy(smol_hf, requests, hf_out, vllm_out)
    assert agreement.identical >= 28, agreement.summary()
    assert all(d.gap < 1e-3 for d in agreement.differences), agreement.summary()
    assert sum(c.completion_tokens for c in hf_out) > 32 * 10, "the real model writes rationales"
