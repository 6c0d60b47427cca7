"""Every engine kind: its spec model (the `engine:` section of a spec) and its factory, in one registry.

Factories import their engine's module (torch, vLLM, the openai client) only when called. Adding an
engine is adding its module and one entry here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, get_args

from pydantic import BaseModel, Field

from promptkit.engines.base import Engine
from promptkit.engines.model_files import BUILTIN_MODEL
from promptkit.registry import Registry
from promptkit.schema import SpecModel as _Spec


class HFEngineSpec(_Spec):
    kind: Literal["hf"] = "hf"
    model: str = Field(
        BUILTIN_MODEL, description="local folder, GGUF file or hub id; the embedded SmolLM2-135M-Instruct by default"
    )
    revision: str | None = Field(None, description="hub revision (branch, tag or commit)")
    dtype: str = Field("auto", description="auto, float32, float16 or bfloat16")
    device: str = Field("auto", pattern=r"^(auto|cpu|mps|cuda(:\d+)?)$", description="auto, cpu, mps, cuda, cuda:N")
    max_batch_tokens: int | None = Field(
        None,
        ge=1,
        description="rows x (longest prompt + max tokens) per batch (default: what a 4 GiB KV cache holds for the model)",
    )
    max_batch_size: int = Field(64, ge=1, description="requests per batch at most")
    trust_remote_code: bool = Field(False, description="allow model code from the hub")


class VLLMEngineSpec(_Spec):
    kind: Literal["vllm"] = "vllm"
    model: str = Field(
        BUILTIN_MODEL, description="local folder or hub id; the embedded SmolLM2-135M-Instruct by default"
    )
    revision: str | None = Field(None, description="hub revision")
    dtype: str = Field("auto", description="vLLM dtype")
    tensor_parallel_size: int = Field(1, ge=1, description="GPUs per model")
    engine_args: dict[str, Any] = Field(default_factory=dict, description="further vllm.LLM arguments")


class ReplayEngineSpec(_Spec):
    kind: Literal["replay"] = "replay"
    path: str = Field(description="JSONL recording: {prompt, completions} per line")
    model: str | None = Field(None, description="the recorded model's name, for the summary")


class OpenAIEngineSpec(_Spec):
    kind: Literal["openai"] = "openai"
    model: str = Field(description="the model name the server knows")
    base_url: str = Field("http://127.0.0.1:8000/v1", description="the server's OpenAI-compatible root")
    api_key_env: str = Field("OPENAI_API_KEY", description="environment variable holding the API key")
    concurrency: int = Field(16, ge=1, description="requests in flight at once")
    max_retries: int = Field(5, ge=0, description="retries on rate limits, timeouts and server errors")
    timeout: float = Field(120.0, gt=0, description="seconds per request")


def _hf(spec: HFEngineSpec, progress: bool) -> Engine:
    from promptkit.engines.hf import HFEngine

    return HFEngine(spec.model, progress=progress, **spec.model_dump(exclude={"kind", "model"}))


def _vllm(spec: VLLMEngineSpec, progress: bool) -> Engine:
    from promptkit.engines.vllm import VLLMEngine

    return VLLMEngine(spec.model, progress=progress, **spec.model_dump(exclude={"kind", "model"}))


def _replay(spec: ReplayEngineSpec, progress: bool) -> Engine:
    from promptkit.engines.replay import ReplayEngine

    return ReplayEngine(spec.path)


def _openai(spec: OpenAIEngineSpec, progress: bool) -> Engine:
    from promptkit.engines.openai import OpenAIEngine

    return OpenAIEngine(spec.model, progress=progress, **spec.model_dump(exclude={"kind", "model"}))


@dataclass(frozen=True)
class EngineKind:
    spec: type[BaseModel]
    build: Callable[[Any, bool], Engine]
    """build(spec, progress): the engine, its model not loaded yet."""

    @property
    def name(self) -> str:
        return get_args(self.spec.model_fields["kind"].annotation)[0]


ENGINE_KINDS: Registry[EngineKind] = Registry(
    "engine",
    {
        kind.name: kind
        for kind in (
            EngineKind(HFEngineSpec, _hf),
            EngineKind(VLLMEngineSpec, _vllm),
            EngineKind(ReplayEngineSpec, _replay),
            EngineKind(OpenAIEngineSpec, _openai),
        )
    },
)
