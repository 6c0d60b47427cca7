"""Batched local generation with transformers, on CPU or GPU."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

import torch
from tqdm.auto import tqdm
from transformers import AutoModelForCausalLM, AutoTokenizer, StoppingCriteria, StoppingCriteriaList
from transformers.utils import logging as hf_logging

from ..errors import EngineUnavailable, PromptkitError
from ..types import Completion, GenRequest, Prompt, Sampling
from .base import EngineIdentity, OnComplete, cut_at_stop

_DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}


class HFEngine:
    """transformers generate() over length-sorted, left-padded batches capped by a token budget.

    max_batch_tokens caps rows x (longest prompt + max_tokens) per batch, which bounds the KV cache.
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
        if not progress:
            # transformers' own loading bars have no per-call switch; --quiet means quiet.
            hf_logging.disable_progress_bar()
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(
                model, revision=revision, trust_remote_code=trust_remote_code
            )
            self.model = AutoModelForCausalLM.from_pretrained(
                model, revision=revision, dtype=_DTYPES[dtype], trust_remote_code=trust_remote_code
            )
        except OSError as exc:
            raise EngineUnavailable(f"cannot load model {model!r}: {str(exc).splitlines()[0]}") from None
        self.model.to(self.device).eval()
        self.tokenizer.padding_side = "left"
        self.pad_id = (
            self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else self.tokenizer.eos_token_id
        )
        self.eos_ids = _eos_ids(self.model, self.tokenizer)
        self.max_batch_tokens = max_batch_tokens
        self.max_batch_size = max_batch_size
        self.progress = progress
        self.identity = EngineIdentity("hf", model, _revision(model, revision, self.model), dtype)

    # -- optional abilities -------------------------------------------------------------------
    @property
    def context_window(self) -> int:
        return int(getattr(self.model.config, "max_position_embeddings", 0) or self.tokenizer.model_max_length)

    def count_tokens(self, prompt: Prompt) -> int:
        return len(self._encode(prompt))

    def render_chat(self, messages: Prompt) -> str:
        return self.tokenizer.apply_chat_template(
            [dict(m) for m in messages], add_generation_prompt=True, tokenize=False
        )

    # -- generation -----------------------------------------------------------------------------
    def _encode(self, prompt: Prompt) -> list[int]:
        if isinstance(prompt, str):
            return self.tokenizer(prompt)["input_ids"]
        # The chat template already carries the special tokens it wants.
        return self.tokenizer(self.render_chat(prompt), add_special_tokens=False)["input_ids"]

    def generate(self, requests: Sequence[GenRequest], on_complete: OnComplete | None = None) -> list[Completion]:
        encoded = [self._encode(r.prompt) for r in requests]
        self._check_window(requests, encoded)
        results: list[Completion | None] = [None] * len(requests)
        with tqdm(
            total=len(requests), desc="generate", unit="req", disable=None if self.progress else True, leave=False
        ) as bar:
            for batch in self._batches(requests, encoded):
                sampling = requests[batch[0]].sampling
                for i, completion in zip(batch, self._run_batch([encoded[i] for i in batch], sampling)):
                    results[i] = completion
                    if on_complete:
                        on_complete(i, completion)
                bar.update(len(batch))
        return results  # type: ignore[return-value]

    def _check_window(self, requests: Sequence[GenRequest], encoded: list[list[int]]) -> None:
        """A prompt that fills the window is an error before anything runs: never a silent truncation."""
        window = self.context_window
        for r, ids in zip(requests, encoded):
            if len(ids) >= window:
                start = r.prompt if isinstance(r.prompt, str) else str(r.prompt[-1]["content"])
                raise PromptkitError(
                    f"a prompt of {len(ids)} tokens does not fit {self.identity.model}'s {window}-token window "
                    f"(it starts {start[:60]!r})"
                )

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
    def _run_batch(self, prompts: list[list[int]], sampling: Sampling) -> list[Completion]:
        width = max(len(p) for p in prompts)
        ids = torch.full((len(prompts), width), self.pad_id, dtype=torch.long)
        mask = torch.zeros((len(prompts), width), dtype=torch.long)
        for row, p in enumerate(prompts):
            ids[row, width - len(p) :] = torch.tensor(p, dtype=torch.long)
            mask[row, width - len(p) :] = 1
        # Greedy samples are identical, so one row per request is generated and repeated.
        rows_each = 1 if sampling.greedy else sampling.n
        # Each row stops where its own prompt plus generation reaches the window (finish reason: length).
        room = [min(sampling.max_tokens, self.context_window - len(p)) for p in prompts for _ in range(rows_each)]
        tracker = _FinishTracker(self.tokenizer, sampling.stop, self.eos_ids, room, width)
        kwargs = dict(
            max_new_tokens=max(room),
            do_sample=not sampling.greedy,
            num_return_sequences=rows_each,
            pad_token_id=self.pad_id,
            eos_token_id=self.eos_ids or None,
            stopping_criteria=StoppingCriteriaList([tracker]),
        )
        if not sampling.greedy:
            kwargs.update(temperature=sampling.temperature, top_p=sampling.top_p, top_k=0)
        else:
            kwargs.update(temperature=None, top_p=None, top_k=None)
        if sampling.seed is not None:
            torch.manual_seed(sampling.seed)
        out = self.model.generate(input_ids=ids.to(self.device), attention_mask=mask.to(self.device), **kwargs).cpu()
        completions = []
        for r, prompt in enumerate(prompts):
            texts, reasons, counts = [], [], []
            for row in range(r * rows_each, (r + 1) * rows_each):
                length = tracker.length(row, out.shape[1] - width)
                tokens = out[row, width : width + length].tolist()
                text, hit_stop = cut_at_stop(self.tokenizer.decode(tokens, skip_special_tokens=True), sampling.stop)
                ended = hit_stop or (bool(tokens) and tokens[-1] in self.eos_ids)
                texts.append(text)
                reasons.append("stop" if ended else "length")
                counts.append(length)
            k = 1 if rows_each == sampling.n else sampling.n
            completions.append(
                Completion(
                    tuple(texts * k), tuple(reasons * k), prompt_tokens=len(prompt), sample_tokens=tuple(counts * k)
                )
            )
        return completions


class _FinishTracker(StoppingCriteria):
    """Stops each row at EOS or at a stop string, and remembers how many tokens it generated.

    Only the tail of the generated text is decoded each step, so the cost does not grow with length.
    """

    def __init__(
        self, tokenizer, stops: tuple[str, ...], eos_ids: list[int], room: list[int], prompt_width: int
    ) -> None:
        self.tokenizer = tokenizer
        self.stops = [s for s in stops if s]
        self.window = max((len(s) for s in self.stops), default=0) + 2
        self.eos = torch.tensor(eos_ids or [-1])
        self.prompt_width = prompt_width
        self.room = room
        self.done_at = [0] * len(room)

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor, **kwargs) -> torch.BoolTensor:
        generated = input_ids.shape[1] - self.prompt_width
        last = input_ids[:, -1].cpu()
        is_eos = torch.isin(last, self.eos)
        done = torch.zeros(input_ids.shape[0], dtype=torch.bool)
        tails = input_ids[:, -min(self.window, generated) :].cpu().tolist() if self.stops else None
        for row in range(input_ids.shape[0]):
            if self.done_at[row]:
                done[row] = True
                continue
            hit = bool(is_eos[row])
            if not hit and tails is not None:
                tail = self.tokenizer.decode(tails[row], skip_special_tokens=True)
                hit = any(s in tail for s in self.stops)
            if hit or generated >= self.room[row]:
                self.done_at[row] = generated
                done[row] = True
        return done.to(input_ids.device)

    def length(self, row: int, generated: int) -> int:
        return self.done_at[row] or generated


def _eos_ids(model, tokenizer) -> list[int]:
    eos = getattr(model.generation_config, "eos_token_id", None)
    if eos is None:
        eos = tokenizer.eos_token_id
    if eos is None:
        return []
    return list(eos) if isinstance(eos, (list, tuple)) else [int(eos)]


def _revision(model: str, revision: str | None, loaded) -> str:
    """A hub commit when known; for a local folder, a fingerprint of its files so a changed model is a new identity."""
    path = Path(model)
    if path.is_dir():
        h = hashlib.sha256()
        for f in sorted(path.iterdir()):
            if f.is_file():
                stat = f.stat()
                h.update(f"{f.name}:{stat.st_size}:{stat.st_mtime_ns};".encode())
        return "local-" + h.hexdigest()[:16]
    return getattr(loaded.config, "_commit_hash", None) or revision or "main"
