from __future__ import annotations

import importlib.util

import pytest

from promptkit.engines import make_engine
from promptkit.engines.vllm import sampling_params_kwargs
from promptkit.errors import EngineUnavailable
from promptkit.spec import VLLMEngineSpec
from promptkit.types import Sampling


def test_sampling_translates_to_vllm_params():
    s = Sampling(max_tokens=7, temperature=0.7, top_p=0.9, n=3, stop=("Q:",), seed=5)
    assert sampling_params_kwargs(s) == {
        "n": 3,
        "max_tokens": 7,
        "temperature": 0.7,
        "top_p": 0.9,
        "stop": ["Q:"],
        "seed": 5,
    }
    assert sampling_params_kwargs(Sampling())["stop"] is None


@pytest.mark.skipif(importlib.util.find_spec("vllm") is not None, reason="vLLM is installed here")
def test_missing_vllm_names_the_extra():
    with pytest.raises(EngineUnavailable, match=r"pip install 'promptkit\[vllm\]'"):
        make_engine(VLLMEngineSpec(model="some/model"))


class _FakeVLLM:
    """A stand-in for the vllm module (not installable here): records how the engine drives it."""

    def __init__(self):
        self.llm_kwargs = None
        self.generate_calls = []

        fake = self

        class SamplingParams:
            def __init__(self, **kwargs):
                self.kwargs = kwargs

        class Output:
            def __init__(self, text, reason, ids):
                self.text, self.finish_reason, self.token_ids = text, reason, ids

        class RequestOutput:
            def __init__(self, prompt, n):
                self.prompt_token_ids = [1, 2, 3]
                self.outputs = [
                    Output(f"{prompt[-3:]}#{k}", "length" if k else "stop", [7] * (k + 1)) for k in range(n)
                ]

        class Tokenizer:
            def apply_chat_template(self, messages, add_generation_prompt, tokenize):
                return "".join(f"<{m['role']}>{m['content']}" for m in messages) + "<assistant>"

        class LLM:
            def __init__(self, **kwargs):
                fake.llm_kwargs = kwargs

            def get_tokenizer(self):
                return Tokenizer()

            def generate(self, prompts, params, use_tqdm):
                fake.generate_calls.append((prompts, params))
                return [
                    RequestOutput(p if isinstance(p, str) else p["prompt"], sp.kwargs["n"])
                    for p, sp in zip(prompts, params)
                ]

        self.SamplingParams, self.LLM = SamplingParams, LLM


def test_vllm_engine_sends_every_request_in_one_generate_call(monkeypatch):
    import sys

    from promptkit.types import GenRequest

    fake = _FakeVLLM()
    monkeypatch.setitem(sys.modules, "vllm", fake)
    engine = make_engine(VLLMEngineSpec(model="org/model", tensor_parallel_size=2, engine_args={"max_model_len": 4096}))
    assert fake.llm_kwargs == {
        "model": "org/model", "revision": None, "dtype": "auto", "tensor_parallel_size": 2,
        "enable_prefix_caching": True, "max_model_len": 4096,
    }  # fmt: skip
    requests = [
        GenRequest("Q: one", Sampling(max_tokens=5)),
        GenRequest(({"role": "user", "content": "hi"},), Sampling(n=2, temperature=0.8, seed=3)),
    ]
    seen = []
    out = engine.generate(requests, on_complete=lambda i, c: seen.append(i))
    assert len(fake.generate_calls) == 1
    prompts, params = fake.generate_calls[0]
    assert prompts == ["Q: one", {"prompt": "<user>hi<assistant>"}]
    assert [p.kwargs for p in params] == [sampling_params_kwargs(r.sampling) for r in requests]
    assert out[0].texts == ("one#0",) and out[0].finish_reasons == ("stop",)
    assert out[1].texts == ("nt>#0", "nt>#1") and out[1].finish_reasons == ("stop", "length")
    assert out[1].sample_tokens == (1, 2) and out[1].prompt_tokens == 3
    assert seen == [0, 1]
    assert engine.identity.kind == "vllm" and engine.identity.model == "org/model"
