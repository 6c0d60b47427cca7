"""Batched local generation with transformers, on CPU or GPU."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from pathlib import Path

import torch
from tqdm.auto import tqdm
from transformers import AutoModelForCausalLM

from promptkit.engines.base import Engine, EngineIdentity, OnComplete
from promptkit.engines.hf_attention import kv_layout, use_grouped_sdpa
from promptkit.engines.hf_decode import BatchDecoder
from promptkit.engines.hf_output_head import contiguous_output_head
from promptkit.engines.hf_score import score_pairs
from promptkit.engines.hf_soft_prompt import (
    check_fits,
    learned_length,
    model_config,
)
from promptkit.engines.implementing import (
    CPU_DTYPE,
    LocalTokenization,
    call_lock,
    completion_of,
    cut_at_stop,
    one_call_at_a_time,
    sample_seeds,
)
from promptkit.engines.model_files import is_gguf, local_model, model_revision, require_gguf, transformers_bars
from promptkit.engines.tokenization import Tokenization
from promptkit.errors import EngineUnavailable, PromptkitError
from promptkit.files.adapter import checked_adapter, merged, with_adapter
from promptkit.files.learned_prompt import LearnedPrompt, check_model, learned_digest, load_learned_prompt, model_key
from promptkit.types import Completion, GenRequest, Sampling, Score, ScoreRequest

_DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}
KV_CACHE_BYTES = 4 << 30
"""The default batch budget: rows x length whose keys and values fit in this many bytes (SmolLM2-135M
in float32: 93k tokens; an 8B model with 8 key-value heads in bfloat16: 32k)."""


def kv_bytes_per_token(config, dtype: torch.dtype) -> int:
    """Bytes of keys and values one token takes in the cache, from the model's config."""
    layers, heads, head_dim = kv_layout(config)
    return layers * 2 * heads * head_dim * torch.finfo(dtype).bits // 8


class HFEngine(LocalTokenization, Engine):
    """transformers generate() over length-sorted, left-padded batches capped by a token budget.

    max_batch_tokens caps rows x (longest prompt + max_tokens) per batch, which bounds the KV cache;
    by default it is what KV_CACHE_BYTES hold for the model (its layers, key-value heads, dtype).
    The weights load on the first request that reaches the engine: a run served from the cache never
    loads them. Each sampled row draws from its own generator, seeded from (seed, prompt, sample
    index), so a sample does not depend on what else shares its batch.
    """

    def __init__(
        self,
        model: str,
        *,
        revision: str | None = None,
        device: str = "auto",
        dtype: str = "auto",
        max_batch_tokens: int | None = None,
        max_batch_size: int = 64,
        progress: bool = True,
        trust_remote_code: bool = False,
        soft_prompt: str | Path | LearnedPrompt | None = None,
        adapter: str | Path | None = None,
    ) -> None:
        self.device = ("cuda" if torch.cuda.is_available() else "cpu") if device == "auto" else device
        if dtype == "auto":
            dtype = "bfloat16" if self.device.startswith("cuda") else CPU_DTYPE
        if dtype not in _DTYPES:
            raise EngineUnavailable(f"unknown dtype {dtype!r} (known: {', '.join(_DTYPES)}, auto)")
        self.dtype = dtype
        self.progress = progress
        self.revision = revision
        self.trust_remote_code = trust_remote_code
        source = local_model(model, progress)
        gguf_file = None
        if is_gguf(source):
            require_gguf()
            source, gguf_file = str(Path(source).parent), Path(source).name
        elif not Path(source).exists() and model.startswith((".", "/", "~")):
            raise EngineUnavailable(f"cannot load model {model!r}: no such folder or file")
        self.source, self.gguf_file = source, gguf_file
        self.tokens = Tokenization(source, revision=revision, gguf_file=gguf_file, trust_remote_code=trust_remote_code)
        self._max_batch_tokens = max_batch_tokens
        self.max_batch_size = max_batch_size
        revision_id = model_revision(str(Path(source) / gguf_file) if gguf_file else source, revision)
        self.adapter = None
        if adapter is not None:  # checked against the model before its weights load; then the weights are others
            config = model_config(self.source, self.revision, self.gguf_file, self.trust_remote_code)
            self.adapter = checked_adapter(adapter, model_key(model, revision_id), config)
            revision_id = with_adapter(revision_id, self.adapter.digest)
        # The device kind is part of the identity: GPU and CPU kernels round differently.
        self._model = None
        self._plain = EngineIdentity("hf", model, revision_id, f"{dtype}@{self.device.split(':')[0]}")
        self._set_learned(soft_prompt)

    def _set_learned(self, soft_prompt: str | Path | LearnedPrompt | None) -> None:
        """The learned prompt, checked against this model's identity and shapes before any weight loads; it
        is part of the identity, so two prompts never share cached rows."""
        self.learned: LearnedPrompt | None = None
        self.identity = self._plain
        if soft_prompt is None:
            return
        where = str(soft_prompt) if not isinstance(soft_prompt, LearnedPrompt) else "soft prompt"
        learned = soft_prompt if isinstance(soft_prompt, LearnedPrompt) else load_learned_prompt(Path(soft_prompt))
        check_model(learned, self.model_key, where)
        if learned.tensor is None:
            raise PromptkitError(
                f"{where}: a {learned.method} prompt is text: it goes before the prompts of any engine "
                "(promptkit.engines.text_prompt.TextPromptEngine; the soft_prompt field does this)"
            )
        config = self._model.config if self._model is not None else None
        config = config or model_config(self.source, self.revision, self.gguf_file, self.trust_remote_code)
        check_fits(learned, config, where)
        self.learned = learned
        self.identity = self._plain.with_learned(learned_digest(learned))

    @property
    def model_key(self) -> str:
        """The model and its weights' identity, as a learned prompt records what it was learned on."""
        return model_key(self._plain.model, self._plain.revision)

    def with_soft_prompt(self, soft_prompt: str | Path | LearnedPrompt | None) -> HFEngine:
        """This engine with another learned prompt (or none): the same loaded model and tokenizer, one call
        at a time across both, its own identity."""
        call_lock(self)  # made before the copy, so the two share it: they drive one model
        other = copy.copy(self)
        other._set_learned(soft_prompt)
        return other

    # -- loading --------------------------------------------------------------------------------
    @property
    def model(self):
        if self._model is None:
            kwargs = {
                "revision": self.revision,
                "dtype": _DTYPES[self.dtype],
                "trust_remote_code": self.trust_remote_code,
            }
            if self.gguf_file:
                kwargs["gguf_file"] = self.gguf_file
            try:
                with transformers_bars(self.progress):
                    model = AutoModelForCausalLM.from_pretrained(self.source, **kwargs)
            except OSError as exc:
                raise EngineUnavailable(
                    f"cannot load model {self.identity.model!r}: {str(exc).splitlines()[0]}"
                ) from None
            if self.adapter is not None:
                model = merged(model, self.adapter.path)
            self._model = model.to(self.device).eval()
            if self.device == "cpu":
                use_grouped_sdpa(self._model)
                contiguous_output_head(self._model)
            self._eos = _eos_ids(self._model, self.tokenizer)
        return self._model

    @property
    def max_batch_tokens(self) -> int:
        if self._max_batch_tokens is None:
            self._max_batch_tokens = max(
                1, KV_CACHE_BYTES // kv_bytes_per_token(self.model.config, _DTYPES[self.dtype])
            )
        return self._max_batch_tokens

    @property
    def context_window(self) -> int:
        """The model's window less the positions a learned prompt takes."""
        return int(self.tokens.context_window) - learned_length(self.learned)

    @property
    def loaded(self) -> bool:
        return self._model is not None

    @property
    def tokenizer(self):
        return self.tokens.tokenizer

    # -- scoring --------------------------------------------------------------------------------
    scores = True

    @one_call_at_a_time
    def score(self, requests: Sequence[ScoreRequest]) -> list[Score]:
        """Log-likelihoods of continuations; each distinct context runs once, in batches under the same token
        budget and row cap as generation (promptkit.engines.hf_score)."""
        pairs = [self.tokens.encode_pair(r.context, r.continuation) for r in requests]
        window = self.context_window
        for i, (context, continuation) in enumerate(pairs):
            if len(context) + len(continuation) > window:
                raise PromptkitError(
                    f"score request {i}: {len(context) + len(continuation)} tokens, past {self.identity.model}'s "
                    f"window of {window}"
                )
        return score_pairs(self.model, pairs, self.device, self.max_batch_tokens, self.max_batch_size, self.learned)

    # -- generation -----------------------------------------------------------------------------
    @one_call_at_a_time
    def generate(self, requests: Sequence[GenRequest], on_complete: OnComplete | None = None) -> list[Completion]:
        encoded = [self.encode(r.prompt) for r in requests]
        self.tokens.check_fits(list(requests), encoded, self.identity.model, self.context_window)
        results: list[Completion | None] = [None] * len(requests)
        with tqdm(
            total=len(requests), desc="generate", unit="req", disable=None if self.progress else True, leave=False
        ) as bar:

            def done(i: int, completion: Completion) -> None:
                results[i] = completion
                bar.update(1)
                if on_complete:
                    on_complete(i, completion)

            for batch in self._batches(requests, encoded):
                self._run_batch(
                    [requests[i] for i in batch],
                    [encoded[i] for i in batch],
                    lambda j, c, b=batch: done(b[j], c),  # type: ignore[misc]
                )
        return results  # type: ignore[return-value]

    def _batches(self, requests: Sequence[GenRequest], encoded: list[list[int]]) -> list[list[int]]:
        """Same sampling settings per batch; longest first; rows x padded length under the budget."""
        by_sampling: dict[Sampling, list[int]] = {}
        for i, r in enumerate(requests):
            by_sampling.setdefault(r.sampling, []).append(i)
        batches: list[list[int]] = []
        for sampling, idxs in by_sampling.items():
            rows_each = 1 if sampling.greedy else sampling.n
            idxs.sort(key=lambda i: -len(encoded[i]))
            current: list[int] = []
            for i in idxs:
                longest = len(encoded[current[0]]) if current else len(encoded[i])
                rows = (len(current) + 1) * rows_each
                if current and (
                    rows * (longest + sampling.max_tokens) > self.max_batch_tokens
                    or len(current) >= self.max_batch_size
                ):
                    batches.append(current)
                    current = []
                current.append(i)
            if current:
                batches.append(current)
        return batches

    def _run_batch(self, requests: list[GenRequest], prompts: list[list[int]], report: OnComplete) -> None:
        """Generate one batch; each request is reported the moment its last row ends."""
        window = self.context_window
        sampling = requests[0].sampling
        # Greedy samples are identical, so one row per request is generated and repeated.
        rows_each = 1 if sampling.greedy else sampling.n
        # Each row stops where its own prompt plus generation reaches the window (finish reason: length).
        room = [min(sampling.max_tokens, window - len(p)) for p in prompts for _ in range(rows_each)]
        seeds = [] if sampling.greedy else [s for r in requests for s in sample_seeds(r)]
        rows_left = [rows_each] * len(requests)
        finished: dict[int, tuple[list[int], str, str]] = {}

        def row_done(row: int, tokens: list[int]) -> None:
            finished[row] = self._finish(tokens, sampling)
            r = row // rows_each
            rows_left[r] -= 1
            if rows_left[r] == 0:
                rows = [finished.pop(k) for k in range(r * rows_each, (r + 1) * rows_each)]
                report(r, self._completion(prompts[r], rows, sampling))

        ended = _EndCheck(self.tokenizer, sampling.stop, self.eos_ids, room)
        BatchDecoder(self.model, self.device, self.pad_id, self.learned).run(
            prompts, rows_each, sampling, seeds, ended, row_done
        )

    @property
    def pad_id(self) -> int:
        tok = self.tokenizer
        return tok.pad_token_id if tok.pad_token_id is not None else (self.eos_ids[0] if self.eos_ids else 0)

    @property
    def eos_ids(self) -> list[int]:
        self.model  # noqa: B018 (the generation config comes with the weights)
        return self._eos

    def _finish(self, tokens: list[int], sampling: Sampling) -> tuple[list[int], str, str]:
        text, hit_stop = cut_at_stop(self.tokenizer.decode(tokens, skip_special_tokens=True), sampling.stop)
        ended = hit_stop or (bool(tokens) and tokens[-1] in self.eos_ids)
        return tokens, text, "stop" if ended else "length"

    @staticmethod
    def _completion(prompt: list[int], rows: list[tuple[list[int], str, str]], sampling: Sampling) -> Completion:
        draws = [(text, reason, len(tokens), tokens) for tokens, text, reason in rows]
        return completion_of(draws, sampling.n, len(prompt))


class _EndCheck:
    """Whether a row has ended: EOS, a stop string in its latest text, or its token room used up.

    Only the tail of the generated text is decoded, so the cost does not grow with length.
    """

    def __init__(self, tokenizer, stops: tuple[str, ...], eos_ids: list[int], room: list[int]) -> None:
        self.tokenizer = tokenizer
        self.stops = [s for s in stops if s]
        self.tail = max((len(s) for s in self.stops), default=0) + 2
        self.eos = set(eos_ids)
        self.room = room

    def __call__(self, row: int, tokens: list[int]) -> bool:
        if tokens[-1] in self.eos or len(tokens) >= self.room[row]:
            return True
        if not self.stops:
            return False
        text = self.tokenizer.decode(tokens[-self.tail :], skip_special_tokens=True)
        return any(s in text for s in self.stops)


def _eos_ids(model, tokenizer) -> list[int]:
    eos = getattr(model.generation_config, "eos_token_id", None)
    if eos is None:
        eos = tokenizer.eos_token_id
    if eos is None:
        return []
    return list(eos) if isinstance(eos, (list, tuple)) else [int(eos)]
