"""The ray engine with vLLM (its CPU build) inside: 2 replicas, each pinned to a core of its own, small KV space."""

from __future__ import annotations

import importlib.util
import os
import time

from conftest import unavailable
from test_process_cleanup import alive, descendants
from tests_support import VLLM_ARGS

from promptkit.engines.engine_kinds import ENGINE_KINDS, RayEngineSpec
from promptkit.types import GenRequest, Sampling


def test_vllm_replicas_give_the_single_engines_texts_greedy_and_sampled(vllm_engine):
    if importlib.util.find_spec("ray") is None:
        unavailable("Ray is not installed: pip install 'promptkit[ray]'")
    spec = RayEngineSpec.model_validate(
        {
            "kind": "ray",
            "replicas": 2,
            "batch_size": 2,
            "resources": {"num_cpus": 1, "pin_cores": True},
            "inner": {"kind": "vllm", "dtype": "float32", "engine_args": VLLM_ARGS},
        }
    )
    requests = [GenRequest(f"Q: What is {i} plus {i}?\nA:", Sampling(max_tokens=16)) for i in range(8)]
    requests += [
        GenRequest(f"A word about {w}:", Sampling(max_tokens=12, temperature=0.8, n=2, seed=3)) for w in "abcd"
    ]
    expected = [c.texts for c in vllm_engine.generate(requests)]
    before = descendants(os.getpid())  # the in-process engine's processes included
    engine = ENGINE_KINDS.get("ray").build(spec, False)
    try:
        assert engine.identity == vllm_engine.identity
        # Two calls: the engine a replica starts in its first serves its second.
        results = engine.generate(requests[:8]) + engine.generate(requests[8:])
        assert all(n > 0 for n in engine.served), f"both replicas worked: {engine.served}"
    finally:
        engine.close()
    assert [c.texts for c in results] == expected
    deadline = time.time() + 120  # bounded against a hang: a busy machine is slower, not wrong
    while [p for p in descendants(os.getpid()) - before if alive(p)] and time.time() < deadline:
        time.sleep(0.2)
    assert not [p for p in descendants(os.getpid()) - before if alive(p)], "no Ray or vLLM process is left"
