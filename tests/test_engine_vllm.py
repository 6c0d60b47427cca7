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
