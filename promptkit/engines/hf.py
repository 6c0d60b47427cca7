"""Batched local generation with transformers, on CPU or GPU."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import torch
from tqdm.auto import tqdm
from transformers import (
    AutoModelForCausalLM,
    LogitsProcessor,
    LogitsProcessorList,
    StoppingCriteria,
    StoppingCriteriaList,
)
from transformers.utils import logging as hf_logging

from ..errors import EngineUnavailable
from ..types import Completion, GenRequest, Prompt, Sampling
from .base import EngineIdentity, OnComplete, cut_at_stop, sample_seeds
from .model_files import is_gguf, local_model, model_revision, require_gguf
from .tokenization import Tokenization

_DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}


class HFEngine:
    """transformers generate() over length-sorted, left-padded batches capped by a token budget.

    max_batch_tokens caps rows x (longest prompt + max_tokens) per batch, which bounds the KV cache.
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
        max_batch_tokens: int = 16384,
        max_batch_size: int = 64,
        progress: bool = True,
        trust_remote_code: bool = False,
    ) -> None:
        self.device = ("cuda" if torch.cuda.is_available() else "cpu") if device == "auto" else device
        if dtype == "auto":
            dtype = "bfloat16" if self.device.startswith("cuda") else "float32"
        if dtype not in _DTYPES:
            raise EngineUnavailable(f"unknown dtype {dtype!r} (known: {', '.join(_DTYPES)}, auto)")
        self.dtype = dtype
        self.progress = progress
        self.revision = revision
        self.trust_remote_code = trust_remote_code
        if not progress:
            # transformers' own loading bars have no per-call switch; --quiet means quiet.
            hf_logging.disable_progress_bar()
        source = local_model(model, progress)
        gguf_file = None
        if is_gguf(source):
            require_gguf()
            source, gguf_file = str(Path(source).parent), Path(source).name
        elif not Path(source).exists() and model.startswith((".", "/", "~")):
            raise EngineUnavailable(f"cannot load model {model!r}: no such folder or file")
        self.source, self.gguf_file = source, gguf_file
        self.tokens = Tokenization(source, revision=revision, gguf_file=gguf_file, trust_remote_code=trust_remote_code)
        self.max_batch_tokens = max_batch_tokens
        self.max_batch_size = max_batch_size
        revision_id = model_revision(str(Path(source) / gguf_file) if gguf_file else source, revision)
        # The device kind is part of the identity: GPU and CPU kernels round differently.
        self.identity = EngineIdentity("hf", model, revision_id, f"{dtype}@{self.device.split(':')[0]}")
        self._model = None

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
                model = AutoModelForCausalLM.from_pretrained(self.source, **kwargs)
            except OSError as exc:
                raise EngineUnavailable(
                    f"cannot load model {self.identity.model!r}: {str(exc).splitlines()[0]}"
                ) from None
            self._model = model.to(self.device).eval()
            self._eos = _eos_ids(self._model, self.tokenizer)
        return self._model

    @property
    def loaded(self) -> bool:
        return self._model is not None

    @property
    def tokenizer(self):
        return self.tokens.tokenizer

    # -- optional abilities -------------------------------------------------------------------
    @property
    def context_window(self) -> int:
        return self.tokens.context_window

    def encode(self, prompt: Prompt) -> list[int]:
        return self.tokens.encode(prompt)

    def count_tokens(self, prompt: Prompt) -> int:
        return len(self.tokens.encode(prompt))

    def render_chat(self, messages: Prompt) -> str:
        return self.tokens.render_chat(messages)

    # -- generation -----------------------------------------------------------------------------
    def generate(self, requests: Sequence[GenRequest], on_complete: OnComplete | None = None) -> list[Completion]:
        encoded = [self.encode(r.prompt) for r in requests]
        self.tokens.check_fits(list(requests), encoded, self.identity.model)
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
                    [requests[i] for i in batch], [encoded[i] for i in batch], lambda j, c, b=batch: done(b[j], c)
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

    @torch.inference_mode()
    def _run_batch(self, requests: list[GenRequest], prompts: list[list[int]], report: OnComplete) -> None:
        """Generate one batch; each request is reported the moment its last row ends."""
        model, window = self.model, self.context_window
        sampling = requests[0].sampling
        # Greedy samples are identical, so one row per request is generated and repeated.
        rows_each = 1 if sampling.greedy else sampling.n
        row_prompts = [p for p in prompts for _ in range(rows_each)]
        width = max(len(p) for p in prompts)
        ids = torch.full((len(row_prompts), width), self.pad_id, dtype=torch.long)
        mask = torch.zeros((len(row_prompts), width), dtype=torch.long)
        for row, p in enumerate(row_prompts):
            ids[row, width - len(p) :] = torch.tensor(p, dtype=torch.long)
            mask[row, width - len(p) :] = 1
        # Each row stops where its own prompt plus generation reaches the window (finish reason: length).
        room = [min(sampling.max_tokens, window - len(p)) for p in row_prompts]
        seeds = [] if sampling.greedy else [s for r in requests for s in sample_seeds(r)]
        rows_left = [rows_each] * len(requests)
        finished: dict[int, tuple[list[int], str, str]] = {}

        def row_done(row: int, tokens: list[int]) -> None:
            finished[row] = self._finish(tokens, sampling)
            r = row // rows_each
            rows_left[r] -= 1
            if rows_left[r] == 0:
                report(
                    r,
                    self._completion(
                        prompts[r], [finished[k] for k in range(r * rows_each, (r + 1) * rows_each)], sampling
                    ),
                )

        tracker = _FinishTracker(self.tokenizer, sampling.stop, self.eos_ids, room, width, row_done)
        processors = LogitsProcessorList([_RowSampler(sampling, seeds, self.device)] if seeds else [])
        model.generate(
            input_ids=ids.to(self.device),
            attention_mask=mask.to(self.device),
            max_new_tokens=max(room),
            do_sample=False,  # sampled rows are drawn by _RowSampler, each from its own generator
            temperature=None,
            top_p=None,
            top_k=None,
            pad_token_id=self.pad_id,
            eos_token_id=self.eos_ids or None,
            stopping_criteria=StoppingCriteriaList([tracker]),
            logits_processor=processors,
        )
        tracker.flush()

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
        k = sampling.n // len(rows)  # greedy: the one row stands for every sample
        return Completion(
            texts=tuple(text for _, text, _ in rows) * k,
            finish_reasons=tuple(reason for _, _, reason in rows) * k,  # type: ignore[arg-type]
            prompt_tokens=len(prompt),
            sample_tokens=tuple(len(tokens) for tokens, _, _ in rows) * k,
            token_ids=tuple(tuple(tokens) for tokens, _, _ in rows) * k,
        )


class _RowSampler(LogitsProcessor):
    """Draws each sampled row's next token from that row's own generator (temperature, then top-p).

    The token is forced by leaving it the only finite score, so generate's greedy step picks it.
    """

    def __init__(self, sampling: Sampling, seeds: list[int], device: str) -> None:
        self.temperature = sampling.temperature
        self.top_p = sampling.top_p
        self.generators = [torch.Generator(device=device).manual_seed(s) for s in seeds]

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        probs = torch.softmax(scores.float() / self.temperature, dim=-1)
        if self.top_p < 1.0:
            ordered, order = probs.sort(dim=-1, descending=True)
            outside = ordered.cumsum(dim=-1) - ordered > self.top_p  # keeps the token that crosses top_p
            probs = probs.scatter(-1, order, ordered.masked_fill(outside, 0.0))
        chosen = torch.stack([torch.multinomial(probs[row], 1, generator=g) for row, g in enumerate(self.generators)])
        forced = torch.full_like(scores, float("-inf"))
        return forced.scatter(-1, chosen, 0.0)


class _FinishTracker(StoppingCriteria):
    """Stops each row at EOS, at a stop string or at its room, and reports it at once.

    Only the tail of the generated text is decoded each step, so the cost does not grow with length.
    """

    def __init__(self, tokenizer, stops: tuple[str, ...], eos_ids: list[int], room: list[int], prompt_width: int,
                 on_row_done: Callable[[int, list[int]], None]) -> None:  # fmt: skip
        self.tokenizer = tokenizer
        self.stops = [s for s in stops if s]
        self.window = max((len(s) for s in self.stops), default=0) + 2
        self.eos = torch.tensor(eos_ids or [-1])
        self.prompt_width = prompt_width
        self.room = room
        self.on_row_done = on_row_done
        self.done = [False] * len(room)
        self.last_ids: torch.Tensor | None = None

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor, **kwargs) -> torch.BoolTensor:
        generated = input_ids.shape[1] - self.prompt_width
        last = input_ids[:, -1].cpu()
        is_eos = torch.isin(last, self.eos)
        tails = input_ids[:, -min(self.window, generated) :].cpu().tolist() if self.stops else None
        self.last_ids = input_ids
        for row in range(input_ids.shape[0]):
            if self.done[row]:
                continue
            hit = bool(is_eos[row])
            if not hit and tails is not None:
                tail = self.tokenizer.decode(tails[row], skip_special_tokens=True)
                hit = any(s in tail for s in self.stops)
            if hit or generated >= self.room[row]:
                self._report(row, input_ids, generated)
        return torch.tensor(self.done, dtype=torch.bool, device=input_ids.device)

    def _report(self, row: int, input_ids: torch.Tensor, generated: int) -> None:
        self.done[row] = True
        self.on_row_done(row, input_ids[row, self.prompt_width : self.prompt_width + generated].tolist())

    def flush(self) -> None:
        """Rows generate() ended without asking us (it stops when every row is done or at max length)."""
        if self.last_ids is None:
            return
        for row in range(len(self.done)):
            if not self.done[row]:
                self._report(row, self.last_ids, self.last_ids.shape[1] - self.prompt_width)


def _eos_ids(model, tokenizer) -> list[int]:
    eos = getattr(model.generation_config, "eos_token_id", None)
    if eos is None:
        eos = tokenizer.eos_token_id
    if eos is None:
        return []
    return list(eos) if isinstance(eos, (list, tuple)) else [int(eos)]
