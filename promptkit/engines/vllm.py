"""vLLM in-process, driven request by request: its own step loop, token ids in, each request out as it ends.

- promptkit tokenizes (chat template included) and hands vLLM the ids, so what packing counts is
  exactly what the model is fed, and a template that writes BOS never gets a second one.
- Every sample of a sampled request is its own vLLM request (n = 1) with a seed drawn from
  (seed, prompt, sample index): a sample does not depend on what else is in flight. Prefix caching
  shares the prompt's KV cache between them.
- The engine starts on the first request that reaches it: a run served from the cache never starts it.
- Small runs start fast: unless engine_args sets enforce_eager, vLLM runs eagerly (no torch.compile,
  no CUDA graphs: a start of seconds, not a minute) when the first call that reaches it asks for
  fewer than EAGER_BELOW_TOKENS tokens in all (requests x samples x max_tokens).
- On vLLM's CPU build, prompts are prefilled whole (no chunked prefill): its seeded sampling dies
  on a prompt split across steps (see whole_prefills).
"""

from __future__ import annotations

import contextlib
import itertools
import json
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from tqdm.auto import tqdm

from promptkit.engines.base import Engine, EngineIdentity, Follow, OnComplete
from promptkit.engines.hf_soft_prompt import model_config
from promptkit.engines.implementing import (
    CPU_DTYPE,
    LocalTokenization,
    completion_of,
    draw_seeds,
    in_order,
    one_call_at_a_time,
)
from promptkit.engines.lifetime import keeper, marked_children
from promptkit.engines.model_files import is_gguf, local_model, model_revision
from promptkit.engines.tokenization import Tokenization
from promptkit.errors import EngineUnavailable
from promptkit.files.adapter import checked_adapter, with_adapter
from promptkit.files.learned_prompt import model_key
from promptkit.types import Completion, GenRequest, Sampling, Score, ScoreRequest

# Engine arguments that size memory, the scheduler or how the same kernels are launched (eager or
# compiled); every other one is part of the identity.
_RESOURCE_ARGS = frozenset(
    {"gpu_memory_utilization", "kv_cache_memory_bytes", "swap_space", "disable_log_stats", "max_num_seqs",
     "enforce_eager", "enable_chunked_prefill", "max_num_batched_tokens"}
)  # fmt: skip

EAGER_BELOW_TOKENS = 100_000
"""A first call asking for less than this many tokens starts vLLM eagerly: compiling would cost a
minute (35-60 s measured on 2 CPU cores, similar on a GPU) to save less than that."""


def generation_budget(requests: Sequence[GenRequest]) -> int:
    """Tokens a call may generate at most: every sample of every request to its max_tokens."""
    return sum((1 if r.sampling.greedy else r.sampling.n) * r.sampling.max_tokens for r in requests)


def sampling_params_kwargs(
    sampling: Sampling, seed: int | None = None, max_tokens: int | None = None
) -> dict[str, Any]:
    """One sample of our Sampling as vllm.SamplingParams keyword arguments."""
    return {
        "n": 1,
        "max_tokens": max_tokens or sampling.max_tokens,
        "temperature": sampling.temperature,
        "top_p": sampling.top_p,
        "stop": list(sampling.stop) or None,
        "seed": None if sampling.greedy else seed,
    }


LORA_RANKS = (8, 16, 32, 64, 128, 256, 320, 512)
"""The max_lora_rank values vLLM takes."""


def lora_rank_slot(rank: int) -> int:
    """The smallest rank vLLM reserves room for that holds the adapter's."""
    return next((r for r in LORA_RANKS if r >= rank), LORA_RANKS[-1])


def _import_vllm():
    try:
        import vllm
    except ImportError:
        raise EngineUnavailable(
            "the vllm engine needs vLLM, which is not installed: pip install 'promptkit[vllm]' "
            "(on a CPU: see the README for vLLM's CPU build)"
        ) from None
    return vllm


def _on_cpu() -> bool:
    from vllm.platforms import current_platform

    return current_platform.is_cpu()


def whole_prefills(args: Mapping[str, Any], context_window: int) -> dict[str, Any]:
    """Engine arguments under which vLLM never splits a prompt's prefill across steps.

    vLLM rewinds a seeded request's generator after a partial prefill, and the CPU build's torch
    generators cannot rewind: the engine dies ("CPU Generator does not use offset") as soon as the
    prompts in flight exceed one step's token budget. So on CPU every prefill is whole, and a step
    holds the longest prompt (and at least 4,096 tokens, the CPU build's own default).
    """
    return {
        "enable_chunked_prefill": False,
        "max_num_batched_tokens": max(int(args.get("max_num_batched_tokens") or 0), context_window, 4096),
    }


class VLLMEngine(LocalTokenization, Engine):
    streams = True  # generate_chains submits each chain's next request the moment its last one ends

    def __init__(
        self,
        model: str,
        *,
        revision: str | None = None,
        dtype: str = "auto",
        tensor_parallel_size: int = 1,
        engine_args: Mapping[str, Any] | None = None,
        progress: bool = True,
        adapter: str | None = None,
    ) -> None:
        self._vllm = _import_vllm()
        source = local_model(model, progress)
        if is_gguf(source):
            raise EngineUnavailable(
                f"{model}: the vllm engine takes a model folder or hub id; run GGUF files with --engine hf"
            )
        self.source = source
        self.revision = revision
        if dtype == "auto" and _on_cpu():
            dtype = CPU_DTYPE  # vLLM's own auto takes the model's dtype, bfloat16 for most: not reproducible on a CPU
        self.args = {
            "model": source,
            "revision": revision,
            "dtype": dtype,
            "tensor_parallel_size": tensor_parallel_size,
            "enable_prefix_caching": True,
            **(engine_args or {}),
        }
        self.progress = progress
        self.tokens = Tokenization(
            source,
            revision=revision,
            trust_remote_code=bool(self.args.get("trust_remote_code")),
            max_model_len=self.args.get("max_model_len"),
        )
        if _on_cpu() and "enable_chunked_prefill" not in self.args:
            self.args.update(whole_prefills(self.args, self.tokens.context_window))
        revision_id = model_revision(source, revision)
        self.lora = None
        if adapter is not None:  # checked before vLLM starts; every request then names it (vLLM's LoRA requests)
            config = model_config(source, revision, None, bool(self.args.get("trust_remote_code")))
            found = checked_adapter(adapter, model_key(model, revision_id), config)
            self.args.update(enable_lora=True, max_lora_rank=lora_rank_slot(found.rank), max_loras=1)
            from vllm.lora.request import LoRARequest

            self.lora = LoRARequest("promptkit-adapter", 1, str(found.path))
            revision_id = with_adapter(revision_id, found.digest)
        settings = {k: v for k, v in self.args.items() if k not in _RESOURCE_ARGS and k not in ("model", "revision")}
        self.identity = EngineIdentity("vllm", model, revision_id, json.dumps(settings, sort_keys=True, default=str))
        self._llm = None
        self._keeper: ThreadPoolExecutor | None = None
        self._ids = itertools.count()
        self.eager_auto = "enforce_eager" not in self.args

    @property
    def engine(self):
        """vLLM's LLMEngine (started on first use), driven by our own step loop."""
        if self._llm is None:
            try:
                self._keeper = self._keeper or keeper("promptkit-vllm")
                self._llm = self._keeper.submit(self._start).result()
            except (OSError, ValueError, TypeError) as exc:
                message = str(exc).splitlines()[0] if str(exc) else exc.__class__.__name__
                raise EngineUnavailable(f"vLLM cannot start {self.identity.model!r}: {message}") from None
        return self._llm.llm_engine

    def _start(self):
        with marked_children():  # vLLM's processes die with this one (promptkit's plugin), and with the keeper
            return self._vllm.LLM(**self.args)

    @property
    def loaded(self) -> bool:
        return self._llm is not None

    def _choose_eager(self, requests: Sequence[GenRequest]) -> None:
        """Before a start, unless the user chose: eager when the first call asks for little."""
        if self.eager_auto and self._llm is None:
            self.args["enforce_eager"] = generation_budget(requests) < EAGER_BELOW_TOKENS

    @one_call_at_a_time
    def close(self) -> None:
        """Stop the engine (and its processes) and free its memory; the next request starts it again."""
        if self._llm is not None:
            self._llm.llm_engine.engine_core.shutdown()
            self._llm = None
        if self._keeper is not None:
            self._keeper.shutdown()
            self._keeper = None

    # -- optional abilities -------------------------------------------------------------------
    @property
    def context_window(self) -> int:
        if self._llm is not None:
            return int(self._llm.llm_engine.model_config.max_model_len)
        return self.tokens.context_window

    # -- scoring --------------------------------------------------------------------------------
    scores = True

    @one_call_at_a_time
    def score(self, requests: Sequence[ScoreRequest]) -> list[Score]:
        """Log-likelihoods through vLLM's prompt log-probabilities (rank 1 = the greedy token)."""
        from vllm.inputs import TokensPrompt
        from vllm.sampling_params import RequestOutputKind

        pairs = [self.tokens.encode_pair(r.context, r.continuation) for r in requests]
        asks = [GenRequest(r.context, Sampling(max_tokens=1)) for r in requests]
        self.tokens.check_fits(asks, [c + k for c, k in pairs], self.identity.model)
        self._choose_eager(asks)
        engine = self.engine
        params = self._vllm.SamplingParams(max_tokens=1, temperature=0.0, prompt_logprobs=1)
        params.output_kind = RequestOutputKind.FINAL_ONLY
        owner: dict[str, int] = {}
        results: list[Score | None] = [None] * len(requests)
        # With a LoRA adapter, vLLM (0.32's CPU build, measured) mixes up the prompt log-probabilities of the
        # sequences that share a step (3e-3 off, or a shape error): then one request is scored at a time.
        waves = [list(range(len(pairs)))] if self.lora is None else [[i] for i in range(len(pairs))]
        try:
            for wave in waves:
                for i in wave:
                    rid = f"pk-{next(self._ids)}"
                    owner[rid] = i
                    prompt = TokensPrompt(prompt_token_ids=pairs[i][0] + pairs[i][1])  # type: ignore[typeddict-item]
                    engine.add_request(rid, prompt, params, lora_request=self.lora)
                while engine.has_unfinished_requests():
                    for out in engine.step():
                        if out.finished and out.request_id in owner:
                            i = owner.pop(out.request_id)
                            results[i] = _score(out, *pairs[i])
        except BaseException:
            if owner:
                with contextlib.suppress(Exception):
                    engine.abort_request(list(owner))
            raise
        return results  # type: ignore[return-value]

    # -- generation -----------------------------------------------------------------------------
    @one_call_at_a_time
    def generate(self, requests: Sequence[GenRequest], on_complete: OnComplete | None = None) -> list[Completion]:
        return in_order(len(requests), lambda done: self._drive(requests, done), on_complete)

    @one_call_at_a_time
    def generate_chains(self, first: Sequence[GenRequest], follow: Follow) -> None:
        """Each chain's next request joins the running batch the moment its previous one ends."""
        self._drive(first, follow)

    def _drive(self, first: Sequence[GenRequest], finished: Follow | OnComplete) -> None:
        """Add the requests, step vLLM until all have ended; a request's successor (if any) joins at once."""
        from vllm.inputs import TokensPrompt
        from vllm.sampling_params import RequestOutputKind

        encoded = [self.encode(r.prompt) for r in first]
        self.tokens.check_fits(list(first), encoded, self.identity.model)
        self._choose_eager(first)
        engine = self.engine
        window = self.context_window
        owner: dict[str, tuple[int, int]] = {}  # vLLM request id -> (chain index, sample slot)
        slots: dict[int, list[Any]] = {}
        live: dict[int, tuple[GenRequest, list[int]]] = {}

        def submit(i: int, request: GenRequest, ids: list[int]) -> None:
            s = request.sampling
            seeds = draw_seeds(request)
            live[i], slots[i] = (request, ids), [None] * len(seeds)
            room = min(s.max_tokens, window - len(ids))
            for k, seed in enumerate(seeds):
                params = self._vllm.SamplingParams(**sampling_params_kwargs(s, seed, room))
                params.output_kind = RequestOutputKind.FINAL_ONLY
                rid = f"pk-{next(self._ids)}"
                owner[rid] = (i, k)
                engine.add_request(rid, TokensPrompt(prompt_token_ids=ids), params, lora_request=self.lora)  # type: ignore[typeddict-item]

        bar = tqdm(total=len(first), desc="generate", unit="req", disable=None if self.progress else True, leave=False)
        try:
            for i, (request, ids) in enumerate(zip(first, encoded)):
                submit(i, request, ids)
            while engine.has_unfinished_requests():
                for out in engine.step():
                    if not out.finished or out.request_id not in owner:
                        continue
                    i, k = owner.pop(out.request_id)
                    request, ids = live[i]
                    if list(out.prompt_token_ids or ()) != ids:
                        raise RuntimeError(f"vLLM was fed other token ids than promptkit sent (request {i})")
                    slots[i][k] = out.outputs[0]
                    if any(o is None for o in slots[i]):
                        continue
                    bar.update(1)
                    following = finished(i, _completion(len(ids), slots[i], request.sampling.n))
                    if following is not None:
                        following_ids = self.encode(following.prompt)
                        self.tokens.check_fits([following], [following_ids], self.identity.model)
                        bar.total += 1
                        submit(i, following, following_ids)
        except BaseException:
            if owner:  # an interrupted call must not leave its requests running in the engine
                with contextlib.suppress(Exception):
                    engine.abort_request(list(owner))
            raise
        finally:
            bar.close()


def _score(out: Any, context: list[int], continuation: list[int]) -> Score:
    logprob, greedy = 0.0, True
    positions = out.prompt_logprobs
    for j, token in enumerate(continuation):
        entry = positions[len(context) + j][token]
        logprob += entry.logprob
        greedy = greedy and entry.rank == 1
    return Score(logprob, len(continuation), greedy)


def _completion(prompt_tokens: int, outputs: list[Any], n: int) -> Completion:
    finish = ["length" if o.finish_reason == "length" else "stop" for o in outputs]
    return completion_of(
        [(o.text, f, len(o.token_ids), o.token_ids) for o, f in zip(outputs, finish)], n, prompt_tokens
    )
