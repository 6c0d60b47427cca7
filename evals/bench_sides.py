"""The sides evals/bench.py times on the same recorded calls: the bare engine libraries (transformers'
generate and generate_batch, vLLM's LLM.generate), promptkit's engine alone, and the clock that splits
a side's time into its model's forward passes and the host work around them.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace

from promptkit.types import GenRequest


# -- the bare engines ---------------------------------------------------------------------------
def with_sdpa(model, run: Callable[[list[list[GenRequest]]], int]) -> Callable[[list[list[GenRequest]]], int]:
    """run with transformers' own sdpa attention: not the hf engine's grouped variant on CPU, which
    neither generate's baseline nor generate_batch (sdpa, eager or flash only) should use."""

    def wrapped(calls: list[list[GenRequest]]) -> int:
        own = model.config._attn_implementation
        model.set_attn_implementation("sdpa")
        try:
            return run(calls)
        finally:
            model.set_attn_implementation(own)

    return wrapped


def bare_hf(engine) -> Callable[[list[list[GenRequest]]], int]:
    """Plain transformers generate() over the hf engine's own batches; returns tokens generated.

    The same loaded weights; transformers' own sdpa attention and DynamicCache.
    """
    import torch

    model, tokenizer = engine.model, engine.tokenizer
    pad = engine.pad_id
    ends = {pad, *engine.eos_ids}

    @torch.inference_mode()
    def generate_all(calls: list[list[GenRequest]]) -> int:
        tokens = 0
        for requests in calls:
            encoded = [engine.encode(r.prompt) for r in requests]
            for batch in engine._batches(requests, encoded):
                s = requests[batch[0]].sampling
                width = max(len(encoded[i]) for i in batch)
                ids = torch.full((len(batch), width), pad, dtype=torch.long)
                mask = torch.zeros_like(ids)
                for row, i in enumerate(batch):
                    ids[row, width - len(encoded[i]) :] = torch.tensor(encoded[i])
                    mask[row, width - len(encoded[i]) :] = 1
                sampled = {"do_sample": True, "temperature": s.temperature, "top_p": s.top_p}
                out = model.generate(
                    input_ids=ids.to(engine.device),
                    attention_mask=mask.to(engine.device),
                    max_new_tokens=s.max_tokens,
                    num_return_sequences=1 if s.greedy else s.n,
                    pad_token_id=pad,
                    eos_token_id=engine.eos_ids or None,
                    **({"stop_strings": list(s.stop), "tokenizer": tokenizer} if s.stop else {}),
                    **(
                        {"do_sample": False, "temperature": None, "top_p": None, "top_k": None} if s.greedy else sampled
                    ),
                )
                for row in out[:, width:].tolist():
                    tokens += next((j + 1 for j, t in enumerate(row) if t in ends), len(row))
        return tokens

    return with_sdpa(model, generate_all)


def bare_vllm(engine) -> Callable[[list[list[GenRequest]]], int]:
    """One plain vllm.LLM.generate per recorded call; returns tokens generated."""
    from vllm import SamplingParams
    from vllm.inputs import TokensPrompt

    engine.engine  # noqa: B018 (starts vLLM)
    llm = engine._llm

    def run(calls: list[list[GenRequest]]) -> int:
        tokens = 0
        for requests in calls:
            prompts, params = [], []
            for r in requests:
                s = r.sampling
                prompts.append(TokensPrompt(prompt_token_ids=engine.encode(r.prompt)))
                params.append(
                    SamplingParams(
                        n=1 if s.greedy else s.n,
                        temperature=s.temperature,
                        top_p=s.top_p,
                        max_tokens=s.max_tokens,
                        stop=list(s.stop) or None,
                        seed=None,  # vLLM's CPU build refuses seeded requests with n > 1
                    )
                )
            for out in llm.generate(prompts, params, use_tqdm=False):
                tokens += sum(len(o.token_ids) for o in out.outputs)
        return tokens

    return run


def without_stops(calls: list[list[GenRequest]]) -> list[list[GenRequest]]:
    """The calls with their stop strings dropped: transformers' generate_batch has none to honour."""
    return [[replace(r, sampling=replace(r.sampling, stop=())) for r in requests] for requests in calls]


def bare_generate_batch(engine) -> Callable[[list[list[GenRequest]]], int]:
    """transformers' own continuous batching (generate_batch: paged attention, prefix block sharing).

    One generate_batch per recorded call and sampling setting, on the same weights. It stops at the
    end-of-sequence tokens only (it takes no stop strings), so compare it with `engine_nostop`: the
    hf engine on the same calls without their stop strings.
    """
    from transformers import ContinuousBatchingConfig, GenerationConfig

    BLOCK = 256
    model = engine.model

    def sized(inputs: list[list[int]], max_tokens: int) -> ContinuousBatchingConfig | None:
        """On CPU, a cache for this call's requests: left to itself it takes 90% of the machine's RAM."""
        if engine.device != "cpu":
            return None  # on a GPU, transformers sizes it from free memory (as the H200 figures were taken)
        blocks = sum(-(-(len(ids) + max_tokens) // BLOCK) for ids in inputs)
        return ContinuousBatchingConfig(block_size=BLOCK, num_blocks=blocks + 1, max_batch_tokens=4096)

    def generate_all(calls: list[list[GenRequest]]) -> int:  # generate_batch manages its own inference mode
        tokens = 0
        for requests in calls:
            groups: dict = {}
            for r in requests:
                groups.setdefault(r.sampling, []).append(engine.encode(r.prompt))
            for s, inputs in groups.items():
                # Each sample as its own request: generate_batch (5.17) returns only the first of a
                # request's num_return_sequences; its prefix block sharing still shares the prompt.
                inputs = [ids for ids in inputs for _ in range(1 if s.greedy else s.n)]
                config = GenerationConfig(
                    max_new_tokens=s.max_tokens,
                    eos_token_id=engine.eos_ids or None,
                    pad_token_id=engine.pad_id,
                    **(
                        {"do_sample": False}
                        if s.greedy
                        else {"do_sample": True, "temperature": s.temperature, "top_p": s.top_p}
                    ),
                )
                out = model.generate_batch(
                    inputs,
                    generation_config=config,
                    continuous_batching_config=sized(inputs, s.max_tokens),
                    progress_bar=False,
                )
                failed = [o.error for o in out.values() if o.error]
                if len(out) < len(inputs) or failed:
                    raise RuntimeError(f"generate_batch returned {len(out)} of {len(inputs)} requests: {failed[:1]}")
                tokens += sum(len(o.generated_tokens) for o in out.values())
        return tokens

    return with_sdpa(model, generate_all)


def engine_alone(engine) -> Callable[[list[list[GenRequest]]], int]:
    """promptkit's engine on the recorded calls, without the pipeline around it."""

    def run(calls: list[list[GenRequest]]) -> int:
        return sum(sum(c.sample_tokens) for requests in calls for c in engine.generate(requests))

    return run


class ForwardClock:
    """The time a side spends inside its model's forward passes, and their count, from hooks on the model.

    The rest of the side's time, per pass, is its host work per decoding step: batching, sampling,
    stop checks, cache bookkeeping (and on promptkit's side the pipeline around the engine). On a
    CPU the forward's own Python (transformers' modules) counts as forward, on both sides alike.
    """

    def __init__(self, model) -> None:
        self.model = model
        self.seconds, self.passes, self._started = 0.0, 0, 0.0

    def __enter__(self) -> ForwardClock:
        self.seconds, self.passes = 0.0, 0
        self._hooks = [
            self.model.register_forward_pre_hook(self._start),
            self.model.register_forward_hook(self._stop),
        ]
        return self

    def __exit__(self, *exc) -> None:
        for hook in self._hooks:
            hook.remove()

    def _start(self, *_args) -> None:
        self._started = time.perf_counter()

    def _stop(self, *_args) -> None:
        self.seconds += time.perf_counter() - self._started
        self.passes += 1

    def host_ms_per_step(self, wall: float) -> float | None:
        return (wall - self.seconds) / self.passes * 1000 if self.passes else None


def forward_clock(engine) -> ForwardClock | None:
    """A clock on the engine's model where it runs in this process (hf; vLLM's runs in its own)."""
    import torch

    model = getattr(engine, "model", None)
    return ForwardClock(model) if isinstance(model, torch.nn.Module) else None
