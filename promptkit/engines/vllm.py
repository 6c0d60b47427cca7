"""vLLM in-process: every request in one generate() call, prefix caching on."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..errors import EngineUnavailable
from ..types import Completion, GenRequest, Prompt, Sampling
from .base import EngineIdentity, OnComplete


def sampling_params_kwargs(sampling: Sampling) -> dict[str, Any]:
    """Our Sampling as vllm.SamplingParams keyword arguments."""
    return {
        "n": sampling.n,
        "max_tokens": sampling.max_tokens,
        "temperature": sampling.temperature,
        "top_p": sampling.top_p,
        "stop": list(sampling.stop) or None,
        "seed": sampling.seed,
    }


def _import_vllm():
    try:
        import vllm
    except ImportError:
        raise EngineUnavailable(
            "the vllm engine needs vLLM, which is not installed: pip install 'promptkit[vllm]'"
        ) from None
    return vllm


class VLLMEngine:
    def __init__(
        self,
        model: str,
        *,
        revision: str | None = None,
        dtype: str = "auto",
        tensor_parallel_size: int = 1,
        engine_args: Mapping[str, Any] | None = None,
    ) -> None:
        vllm = _import_vllm()
        self._vllm = vllm
        args = {"enable_prefix_caching": True, **(engine_args or {})}
        self.llm = vllm.LLM(
            model=model, revision=revision, dtype=dtype, tensor_parallel_size=tensor_parallel_size, **args
        )
        self.tokenizer = self.llm.get_tokenizer()
        self.identity = EngineIdentity("vllm", model, revision or "main", dtype)

    @property
    def context_window(self) -> int:
        return int(self.llm.llm_engine.model_config.max_model_len)

    def render_chat(self, messages: Prompt) -> str:
        return self.tokenizer.apply_chat_template(
            [dict(m) for m in messages], add_generation_prompt=True, tokenize=False
        )

    def count_tokens(self, prompt: Prompt) -> int:
        if isinstance(prompt, str):
            return len(self.tokenizer(prompt)["input_ids"])
        return len(self.tokenizer(self.render_chat(prompt), add_special_tokens=False)["input_ids"])

    def generate(self, requests: Sequence[GenRequest], on_complete: OnComplete | None = None) -> list[Completion]:
        prompts = [r.prompt if isinstance(r.prompt, str) else {"prompt": self.render_chat(r.prompt)} for r in requests]
        params = [self._vllm.SamplingParams(**sampling_params_kwargs(r.sampling)) for r in requests]
        outputs = self.llm.generate(prompts, params, use_tqdm=True)
        results = []
        for i, out in enumerate(outputs):
            completion = Completion(
                texts=tuple(o.text for o in out.outputs),
                finish_reasons=tuple("length" if o.finish_reason == "length" else "stop" for o in out.outputs),
                prompt_tokens=len(out.prompt_token_ids or ()),
                sample_tokens=tuple(len(o.token_ids) for o in out.outputs),
            )
            results.append(completion)
            if on_complete:
                on_complete(i, completion)
        return results
