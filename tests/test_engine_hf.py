from __future__ import annotations

import pytest

from promptkit.engines.hf import HFEngine
from promptkit.types import GenRequest, Sampling

PROMPTS = [
    "Q: Janet",
    'Take the last letters of each words in "Whitney Erika" and concatenate them.',
    "A:",
    "Q: Janet has 3 apples and buys 4 more. How many apples does she have?\nA:",
]


def test_batched_greedy_equals_one_at_a_time(hf_engine):
    sampling = Sampling(max_tokens=12)
    batched = hf_engine.generate([GenRequest(p, sampling) for p in PROMPTS])
    single = [hf_engine.generate([GenRequest(p, sampling)])[0] for p in PROMPTS]
    assert [c.texts for c in batched] == [c.texts for c in single]
    assert [c.sample_tokens for c in batched] == [c.sample_tokens for c in single]
    assert all(c.finish_reasons in (("length",), ("stop",)) for c in batched)


def test_small_token_budget_splits_batches_without_changing_outputs(tiny_model):
    sampling = Sampling(max_tokens=8)
    big = HFEngine(str(tiny_model), device="cpu", progress=False)
    small = HFEngine(str(tiny_model), device="cpu", progress=False, max_batch_tokens=40)
    requests = [GenRequest(p, sampling) for p in PROMPTS]
    assert len(small._batches(requests, [small.encode(p) for p in PROMPTS])) > 1
    assert [c.texts for c in big.generate(requests)] == [c.texts for c in small.generate(requests)]


def test_results_come_back_in_input_order_and_callbacks_fire(hf_engine):
    seen = {}
    requests = [GenRequest(p, Sampling(max_tokens=4)) for p in PROMPTS]
    results = hf_engine.generate(requests, on_complete=lambda i, c: seen.__setitem__(i, c))
    assert sorted(seen) == list(range(len(PROMPTS)))
    assert [seen[i] for i in range(len(PROMPTS))] == results
    assert [c.prompt_tokens for c in results] == [hf_engine.count_tokens(p) for p in PROMPTS]


def test_stop_string_ends_generation_and_is_cut(hf_engine):
    prompt = PROMPTS[3]
    free = hf_engine.generate([GenRequest(prompt, Sampling(max_tokens=20))])[0]
    text = free.text
    assert len(text) > 6, "the random model should produce some text"
    stop = text[4:6]
    stopped = hf_engine.generate([GenRequest(prompt, Sampling(max_tokens=20, stop=(stop,)))])[0]
    assert stopped.text == text[: text.find(stop)]
    assert stop not in stopped.text
    assert stopped.finish_reasons == ("stop",)
    assert stopped.completion_tokens < free.completion_tokens


def test_stop_strings_are_per_row_in_a_batch(hf_engine):
    sampling = Sampling(max_tokens=16)
    free = [c.text for c in hf_engine.generate([GenRequest(p, sampling) for p in PROMPTS])]
    stop = free[0][3:5]
    stopped = hf_engine.generate([GenRequest(p, Sampling(max_tokens=16, stop=(stop,))) for p in PROMPTS])
    for full, got in zip(free, stopped):
        expected = full[: full.find(stop)] if stop in full else full
        assert got.text == expected


def test_max_tokens_gives_length_finish(hf_engine):
    c = hf_engine.generate([GenRequest(PROMPTS[0], Sampling(max_tokens=3))])[0]
    assert c.finish_reasons == ("length",)
    assert c.completion_tokens == 3


def test_n_samples_with_seed_are_reproducible(hf_engine):
    sampling = Sampling(max_tokens=8, temperature=1.0, n=4, seed=123)
    first = hf_engine.generate([GenRequest(p, sampling) for p in PROMPTS[:2]])
    again = hf_engine.generate([GenRequest(p, sampling) for p in PROMPTS[:2]])
    assert [c.texts for c in first] == [c.texts for c in again]
    assert all(len(c.texts) == 4 for c in first)
    assert len(set(first[0].texts)) > 1, "samples at temperature 1 should differ"
    other = hf_engine.generate(
        [GenRequest(p, Sampling(max_tokens=8, temperature=1.0, n=4, seed=7)) for p in PROMPTS[:2]]
    )
    assert [c.texts for c in other] != [c.texts for c in first]


def test_greedy_n_repeats_the_greedy_text(hf_engine):
    c = hf_engine.generate([GenRequest(PROMPTS[1], Sampling(max_tokens=5, n=3))])[0]
    one = hf_engine.generate([GenRequest(PROMPTS[1], Sampling(max_tokens=5))])[0]
    assert c.texts == one.texts * 3


def test_chat_messages_go_through_the_chat_template(hf_engine):
    messages = ({"role": "user", "content": "Q: Janet"},)
    assert hf_engine.render_chat(messages) == "<s>user: Q: Janet\nassistant:"
    via_chat = hf_engine.generate([GenRequest(messages, Sampling(max_tokens=6))])[0]
    via_text = hf_engine.generate([GenRequest("<s>user: Q: Janet\nassistant:", Sampling(max_tokens=6))])[0]
    assert via_chat.text == via_text.text


def test_identity_names_kind_model_and_a_local_fingerprint(hf_engine, tiny_model):
    assert hf_engine.identity.kind == "hf"
    assert hf_engine.identity.model == str(tiny_model)
    assert hf_engine.identity.revision.startswith("sha256:")
    assert hf_engine.identity.settings == "float32@cpu"


def test_missing_model_is_a_clear_error(tmp_path):
    from promptkit.errors import EngineUnavailable

    with pytest.raises(EngineUnavailable, match="cannot load model"):
        HFEngine(str(tmp_path / "nope"), device="cpu")


def test_generation_stops_at_the_window_not_past_it(tmp_path):
    from promptkit.testing.tiny_model import build_tiny_model

    engine = HFEngine(str(build_tiny_model(tmp_path / "m", context=64)), device="cpu", progress=False)
    short, longer = "Q: Janet", "Q: Janet has 3 apples and buys 4 more. How"
    out = engine.generate([GenRequest(p, Sampling(max_tokens=200)) for p in (short, longer)])
    for prompt, c in zip((short, longer), out):
        room = 64 - engine.count_tokens(prompt)
        assert c.completion_tokens <= room
        if c.finish_reasons == ("length",):
            assert c.completion_tokens == room


def test_a_prompt_that_fills_the_window_is_an_error(tmp_path):
    from promptkit.errors import PromptkitError
    from promptkit.testing.tiny_model import build_tiny_model

    engine = HFEngine(str(build_tiny_model(tmp_path / "m", context=64)), device="cpu", progress=False)
    with pytest.raises(
        PromptkitError, match=r"a prompt of \d+ tokens does not fit .*64-token window \(it starts 'apples apples"
    ):
        engine.generate([GenRequest("Q: Janet"), GenRequest("apples " * 100)])


# -- shared work: the prefix once, the prompt once per n samples, finished rows leave -----------
SHARED = "Q: Roger has 5 tennis balls. He buys 2 more cans of 3 tennis balls each. How many now?\nA: 11.\n\n"
QUESTIONS = [
    "Q: Janet has 3 apples.\nA:",
    "Q: A robe takes 2 bolts of blue fiber and half that much white.\nA:",
    "Q: 2+2?\nA:",
]


def plain_generate(engine, prompts, max_tokens):
    """transformers' own generate(), one prompt at a time: the reference for greedy outputs."""
    import torch

    out = []
    for p in prompts:
        ids = torch.tensor([engine.encode(p)])
        gen = engine.model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), max_new_tokens=max_tokens,
                                    do_sample=False, temperature=None, top_p=None, top_k=None,
                                    pad_token_id=engine.pad_id, eos_token_id=engine.eos_ids or None)  # fmt: skip
        out.append(tuple(gen[0, ids.shape[1] :].tolist()))
    return out


def forward_batch_shapes(engine):
    """Record the (rows, tokens) of every forward pass of the engine's model."""
    shapes = []
    handle = engine.model.register_forward_pre_hook(
        lambda _m, _a, kw: shapes.append(tuple(kw["input_ids"].shape)), with_kwargs=True
    )
    return shapes, handle


def test_shared_prefix_length_leaves_each_prompt_a_token_and_skips_short_ones():
    from promptkit.engines.hf_decode import MIN_SHARED_PREFIX, shared_prefix_length

    long = list(range(100))
    assert shared_prefix_length([[*long, 1], [*long, 2, 3]]) == 100
    assert shared_prefix_length([long, [*long, 5]]) == 99, "the shorter prompt keeps its last token"
    assert shared_prefix_length([long]) == 0, "one prompt has nothing to share"
    assert shared_prefix_length([[*long[: MIN_SHARED_PREFIX - 1], 7], long]) == 0, "too short to be worth a pass"


def test_a_shared_prefix_is_encoded_once_and_outputs_equal_plain_generate(hf_engine):
    prompts = [SHARED * 3 + q for q in QUESTIONS]
    shapes, handle = forward_batch_shapes(hf_engine)
    try:
        out = hf_engine.generate([GenRequest(p, Sampling(max_tokens=10)) for p in prompts])
    finally:
        handle.remove()
    encoded = [hf_engine.encode(p) for p in prompts]
    prefix = next(i for i, column in enumerate(zip(*encoded)) if len(set(column)) > 1)
    assert shapes[0] == (1, prefix), "the demonstrations are encoded once, for one row"
    assert shapes[1][0] == 3 and shapes[1][1] < max(map(len, encoded)) - prefix + 1, "then only each row's own tokens"
    assert [c.token_ids[0] for c in out] == plain_generate(hf_engine, prompts, 10)


def test_n_samples_encode_the_prompt_once_and_do_not_depend_on_the_batch(hf_engine):
    sampling = Sampling(max_tokens=8, temperature=1.0, n=4, seed=5)
    shapes, handle = forward_batch_shapes(hf_engine)
    try:
        alone = hf_engine.generate([GenRequest(QUESTIONS[0], sampling)])[0]
    finally:
        handle.remove()
    assert shapes[0] == (1, hf_engine.count_tokens(QUESTIONS[0])), "one prompt row, not four"
    assert shapes[1][0] == 4, "then the four samples decode side by side"
    together = hf_engine.generate([GenRequest(q, sampling) for q in QUESTIONS])
    assert together[0].texts == alone.texts


def test_finished_rows_leave_the_batch(tmp_path):
    from promptkit.testing.tiny_model import build_tiny_model

    engine = HFEngine(str(build_tiny_model(tmp_path / "m", context=64)), device="cpu", progress=False)
    prompts = ["Q: Janet", "apples " * 20 + "Q: Janet", "apples " * 40 + "Q: Janet"]  # less room, shorter rows
    shapes, handle = forward_batch_shapes(engine)
    try:
        out = engine.generate([GenRequest(p, Sampling(max_tokens=100)) for p in prompts])
    finally:
        handle.remove()
    rows = [r for r, _ in shapes[1:]]
    assert rows[0] == 3 and rows[-1] == 1 and rows == sorted(rows, reverse=True), rows
    assert len(rows) == max(c.completion_tokens for c in out) - 1, "no step runs after the last row ends"


def test_real_model_few_shot_cot_equals_plain_generate(shared_data, smol_hf):
    """SmolLM2, 8-shot CoT prompts batched with the shared prefix: the completions transformers gives."""
    from evals.agreement import compare_greedy
    from evals.engine_agreement import few_shot_cot_requests

    requests = few_shot_cot_requests(str(shared_data / "gsm8k" / "test.jsonl"), 6, 48)
    ours = smol_hf.generate(requests)
    plain = plain_generate(smol_hf, [r.prompt for r in requests], 48)
    reference = [type(c)(texts=(c.texts[0],), finish_reasons=c.finish_reasons, token_ids=(ids[: len(c.token_ids[0])],))
                 for c, ids in zip(ours, plain)]  # fmt: skip
    # plain generate knows no stop strings: it agrees when our completion is the start of its own
    agreement = compare_greedy(smol_hf, requests, reference, ours)
    assert agreement.identical >= 5 and all(d.gap < 1e-3 for d in agreement.differences), agreement.summary()


def test_the_default_batch_budget_is_what_a_kv_cache_of_fixed_bytes_holds(hf_engine, tiny_model):
    from promptkit.engines.hf import KV_CACHE_BYTES

    # the tiny model: 2 layers x (keys + values) x 2 key-value heads x 8 dims x 4 bytes (float32)
    assert hf_engine.max_batch_tokens == KV_CACHE_BYTES // (2 * 2 * 2 * 8 * 4)
    assert HFEngine(str(tiny_model), device="cpu", progress=False, max_batch_tokens=40).max_batch_tokens == 40
