"""The vllm engine against vLLM itself (its CPU build in CI) on SmolLM2-135M-Instruct."""

from __future__ import annotations

import sys
from dataclasses import replace

import pytest

from promptkit.cli import main
from promptkit.engines import CachedEngine, make_engine
from promptkit.engines.vllm import VLLMEngine, sampling_params_kwargs
from promptkit.errors import EngineUnavailable
from promptkit.runspec import VLLMEngineSpec
from promptkit.types import GenRequest, Sampling

PROMPTS = [
    "Q: Tom has 3 apples and buys 4 more. How many apples does he have?\nA:",
    'Take the last letters of each words in "Whitney Erika" and concatenate them.',
    "The capital of France is",
]


def test_sampling_translates_to_one_sample_of_vllm_params():
    s = Sampling(max_tokens=7, temperature=0.7, top_p=0.9, n=3, stop=("Q:",), seed=5)
    assert sampling_params_kwargs(s, seed=11, max_tokens=6) == {
        "n": 1, "max_tokens": 6, "temperature": 0.7, "top_p": 0.9, "stop": ["Q:"], "seed": 11,
    }  # fmt: skip
    greedy = sampling_params_kwargs(Sampling(), seed=11)
    assert greedy["stop"] is None and greedy["seed"] is None


def test_missing_vllm_is_a_one_line_error(monkeypatch, capsys, tmp_path):
    monkeypatch.setitem(sys.modules, "vllm", None)  # import vllm now fails, installed or not
    with pytest.raises(EngineUnavailable, match=r"pip install 'promptkit\[vllm\]'"):
        make_engine(VLLMEngineSpec())
    data = tmp_path / "d.json"
    data.write_text('{"examples": [{"question": "Take the last letters of \\"Ab Cd\\".", "answer": "bd"}]}')
    code = main(["eval", "--task", "last_letters", "--method", "direct", "--engine", "vllm", "--data", str(data),
                 "--no-cache", "--out", str(tmp_path / "out"), "--quiet"])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "needs vLLM" in err


def test_each_request_is_reported_as_it_finishes_in_input_order(vllm_engine):
    requests = [GenRequest(p, Sampling(max_tokens=24, stop=("\n\n",))) for p in PROMPTS]
    seen = {}
    out = vllm_engine.generate(requests, on_complete=lambda i, c: seen.__setitem__(i, c))
    assert [seen[i] for i in range(len(PROMPTS))] == out
    assert sum(bool(c.text.strip()) for c in out) >= 2, "the real model writes something"
    assert [c.prompt_tokens for c in out] == [len(vllm_engine.encode(p)) for p in PROMPTS]
    assert [len(c.token_ids[0]) for c in out] == [c.sample_tokens[0] for c in out]
    assert "\n\n" not in "".join(c.text for c in out)


def test_chat_prompts_reach_vllm_as_the_templates_own_ids(vllm_engine, smol_hf):
    messages = ({"role": "user", "content": "What is 2 + 3?"},)
    ids = vllm_engine.encode(messages)
    assert ids == smol_hf.encode(messages), "both engines feed the model the same ids"
    assert ids[0] == 1 and ids[1] != 1, "one <|im_start|>, as the chat template writes it"
    # The engine checks that vLLM's prompt_token_ids are exactly these ids, and fails otherwise.
    out = vllm_engine.generate([GenRequest(messages, Sampling(max_tokens=8))])[0]
    assert out.prompt_tokens == len(ids)


def test_a_prompt_longer_than_the_window_is_an_error_before_anything_runs(vllm_engine):
    from promptkit.errors import PromptkitError

    with pytest.raises(PromptkitError, match=r"does not fit .*4096-token window"):
        vllm_engine.generate([GenRequest("apples " * 5000)])


def test_identity_is_exact_and_no_model_starts_before_a_request_needs_it(smollm2):
    from promptkit.engines.model_files import BUILTIN_MODEL, folder_digest

    engine = VLLMEngine(
        BUILTIN_MODEL, dtype="float32", engine_args={"max_model_len": 2048, "gpu_memory_utilization": 0.1}
    )
    assert not engine.loaded
    assert engine.identity.revision == "sha256:" + folder_digest(smollm2)
    assert '"max_model_len": 2048' in engine.identity.settings and "gpu_memory" not in engine.identity.settings
    assert engine.context_window == 2048 and engine.count_tokens("The capital of France is") > 3
    assert not engine.loaded, "tokenizing and counting need no model"
    other = VLLMEngine(BUILTIN_MODEL, dtype="bfloat16", engine_args={"max_model_len": 2048})
    assert other.identity.key() != engine.identity.key()


def test_a_cached_run_never_starts_vllm(vllm_engine, tmp_path):
    from tests_support import VLLM_ARGS

    from promptkit.engines.model_files import BUILTIN_MODEL

    requests = [GenRequest(p, Sampling(max_tokens=8)) for p in PROMPTS]
    first = CachedEngine(vllm_engine, tmp_path / "c.sqlite").generate(requests)
    fresh = VLLMEngine(BUILTIN_MODEL, dtype="float32", engine_args=VLLM_ARGS, progress=False)
    cached = CachedEngine(fresh, tmp_path / "c.sqlite")
    assert cached.generate(requests) == first
    assert cached.stats().hits == 3 and cached.stats().model_calls == 0
    assert not fresh.loaded


@pytest.mark.parametrize("engine_fixture", ["smol_hf", "vllm_engine"])
def test_samples_depend_only_on_seed_prompt_and_index(request, engine_fixture, tmp_path):
    engine = request.getfixturevalue(engine_fixture)
    sampling = Sampling(max_tokens=12, temperature=0.7, n=5, seed=3)
    target = GenRequest(PROMPTS[0], sampling)
    others = [GenRequest(f"Q: What is {k} plus {k + 1}?\nA:", sampling) for k in range(15)]
    alone = engine.generate([target])[0].texts
    assert len(set(alone)) > 1, "samples at temperature 0.7 should differ"
    in_batch = engine.generate([*others[:7], target, *others[7:]])[7].texts
    assert in_batch == alone, "a batch of 16 must not change the samples"
    cached = CachedEngine(engine, tmp_path / "c.sqlite")
    cached.generate([replace(target, sampling=replace(sampling, n=2))])  # a run cut short after 2 samples
    assert cached.generate([target])[0].texts == alone, "a resume tops up with the same samples"
    reseeded = engine.generate([GenRequest(PROMPTS[0], replace(sampling, seed=4))])[0].texts
    assert reseeded != alone


def test_a_small_first_call_starts_vllm_eagerly_and_a_large_one_compiled(smollm2, vllm_engine, monkeypatch):
    """vLLM itself is started both ways: the eager engine of the session, and here a compiled one (the threshold
    lowered so that a short call counts as large), with the same texts and the same cache identity."""
    from tests_support import VLLM_ARGS

    from promptkit.engines import vllm as vllm_module
    from promptkit.engines.model_files import BUILTIN_MODEL

    args = {k: v for k, v in VLLM_ARGS.items() if k != "enforce_eager"}
    requests = [GenRequest(p, Sampling(max_tokens=8)) for p in PROMPTS]
    small = VLLMEngine(BUILTIN_MODEL, dtype="float32", engine_args=args, progress=False)
    small._choose_eager(requests)
    assert small.args["enforce_eager"] is True, "a small first call would start eagerly"
    monkeypatch.setattr(vllm_module, "EAGER_BELOW_TOKENS", len(requests) * 8)  # this call is "large"
    engine = VLLMEngine(BUILTIN_MODEL, dtype="float32", engine_args=args, progress=False)
    try:
        out = engine.generate(requests)
        assert engine.engine.vllm_config.model_config.enforce_eager is False, "vLLM itself was started compiled"
        assert [c.text for c in out] == [c.text for c in vllm_engine.generate(requests)]
        assert engine.identity == vllm_engine.identity, "eager or compiled, the same cache entries"
    finally:
        engine.close()
    chosen = VLLMEngine(BUILTIN_MODEL, engine_args={**args, "enforce_eager": True}, progress=False)
    chosen._choose_eager(requests)
    assert chosen.args["enforce_eager"] is True, "the user's choice stands"


def test_chains_stream_through_vllm_with_the_completions_of_rounds(vllm_engine):
    from promptkit.engines.base import generate_chains

    links = {0: 1, 1: 3, 2: 2}  # chain -> how many requests it makes

    def run(pipelined):
        texts = {i: [] for i in links}

        def follow(i, completion):
            texts[i].append(completion.text)
            if len(texts[i]) == links[i]:
                return None
            prompt = f"{PROMPTS[i]}{''.join(texts[i])}\nQ: And then?\nA:"
            return GenRequest(prompt, Sampling(max_tokens=12, stop=("\n",)))

        first = [GenRequest(p, Sampling(max_tokens=12, stop=("\n",))) for p in PROMPTS]
        generate_chains(vllm_engine, first, follow, pipelined=pipelined)
        return texts

    streamed = run(True)
    assert [len(streamed[i]) for i in links] == list(links.values())
    assert streamed == run(False)


def test_on_cpu_prefills_are_whole_so_seeded_samples_survive_a_full_step():
    from promptkit.engines.vllm import whole_prefills

    assert whole_prefills({}, 8192) == {"enable_chunked_prefill": False, "max_num_batched_tokens": 8192}
    assert whole_prefills({"max_num_batched_tokens": 16384}, 2048)["max_num_batched_tokens"] == 16384


def test_sampled_prompts_beyond_one_steps_token_budget(vllm_engine):
    # Six ~1,000-token prompts exceed vLLM's 4,096-token step: with chunked prefill, the CPU build
    # died rewinding a seeded request's generator ("CPU Generator does not use offset").
    story = " ".join(PROMPTS[0] for _ in range(40))
    sampling = Sampling(max_tokens=3, temperature=0.7, n=2, seed=1)
    requests = [GenRequest(f"Story {k}: {story}", sampling) for k in range(6)]
    assert all(vllm_engine.count_tokens(r.prompt) > 900 for r in requests)
    together = vllm_engine.generate(requests)
    assert [len(c.texts) for c in together] == [2] * 6
    assert together[5].texts == vllm_engine.generate([requests[5]])[0].texts, "seeded samples, batch or not"


def test_auto_on_a_cpu_is_float32_and_a_greedy_call_repeats_exactly(vllm_engine, smollm2):
    """The default dtype reproduces: the same greedy call twice, the second in another batch order (docs/engines.md
    has the figures for bfloat16, which does not)."""
    from tests_support import VLLM_ARGS

    from promptkit.engines.model_files import BUILTIN_MODEL

    default = VLLMEngine(BUILTIN_MODEL, engine_args=VLLM_ARGS, progress=False)
    assert '"dtype": "float32"' in default.identity.settings
    assert default.identity == vllm_engine.identity, "auto on a CPU is the session's float32 engine"
    questions = [f"Q: A shop sells {k} apples a day for {k + 3} days. How many apples?\nA:" for k in range(2, 18)]
    requests = [GenRequest(q + " Let's think step by step.", Sampling(max_tokens=48)) for q in questions]
    first = [c.text for c in vllm_engine.generate(requests)]
    again = [c.text for c in vllm_engine.generate(requests[::-1])][::-1]
    assert again == first
    assert len(set(first)) > 1
