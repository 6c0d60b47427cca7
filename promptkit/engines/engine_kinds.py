"""Every engine kind: its spec model (the `engine:` section of a spec) and its factory, in one registry.

Factories import their engine's module (torch, vLLM, the openai client) only when called. Adding an
engine is adding its module and one entry here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, get_args

from pydantic import BaseModel, Field, field_validator

from promptkit.engines.base import Engine
from promptkit.engines.model_files import BUILTIN_MODEL
from promptkit.engines.text_prompt import TextPromptEngine
from promptkit.errors import PromptkitError
from promptkit.files.learned_prompt import check_model, load_learned_prompt, model_key
from promptkit.registry import Registry
from promptkit.schema import Count, CountFromZero
from promptkit.schema import SpecModel as _Spec


class _TakesLearnedPrompt(_Spec):
    soft_prompt: str | None = Field(
        None, description="a learned prompt (the file `promptkit tune` writes): a soft prompt (hf) or a text "
        "prompt (bdpl, every engine) that every prompt is scored and continued after",
    )  # fmt: skip


class LocalModelSpec(_TakesLearnedPrompt):
    """What the engines that load a model themselves (hf, vllm) share."""

    kind: str
    model: str = Field(
        BUILTIN_MODEL,
        description="local folder, GGUF file (hf) or hub id; the embedded SmolLM2-135M-Instruct by default",
    )
    revision: str | None = Field(None, description="hub revision (branch, tag or commit)")
    dtype: str = Field("auto", description="auto, float32, float16 or bfloat16")
    adapter: str | None = Field(
        None, description="a LoRA adapter folder (what `promptkit tune --method lora` writes, or any peft LoRA "
        "adapter): merged into the weights (hf), or sent with every request (vllm's LoRA requests)",
    )  # fmt: skip


class HFEngineSpec(LocalModelSpec):
    kind: Literal["hf"] = "hf"
    device: str = Field("auto", pattern=r"^(auto|cpu|mps|cuda(:\d+)?)$", description="auto, cpu, mps, cuda, cuda:N")
    max_batch_tokens: Count | None = Field(
        None,
        description="rows x (longest prompt + max tokens) per batch (default: what a 4 GiB KV cache holds for the model)",
    )
    max_batch_size: Count = Field(64, description="requests per batch at most")
    trust_remote_code: bool = Field(False, description="allow model code from the hub")


class VLLMEngineSpec(LocalModelSpec):
    kind: Literal["vllm"] = "vllm"
    tensor_parallel_size: Count = Field(1, description="GPUs per model")
    engine_args: dict[str, Any] = Field(default_factory=dict, description="further vllm.LLM arguments")


class ReplayEngineSpec(_TakesLearnedPrompt):
    kind: Literal["replay"] = "replay"
    path: str = Field(description="JSONL recording: {prompt, completions} per line")
    model: str | None = Field(None, description="the recorded model's name, for the summary")


class OpenAIEngineSpec(_TakesLearnedPrompt):
    kind: Literal["openai"] = "openai"
    model: str = Field(description="the model name the server knows")
    base_url: list[str] = Field(
        default_factory=lambda: ["http://127.0.0.1:8000/v1"],
        min_length=1,
        description="the server's OpenAI-compatible root, or a list of servers of the same model (a fleet)",
    )
    api_key_env: str = Field("OPENAI_API_KEY", description="environment variable holding the API key")
    concurrency: Count = Field(16, description="requests in flight at once, per server")
    max_retries: CountFromZero = Field(5, description="retries on rate limits, timeouts and server errors")
    timeout: float = Field(120.0, gt=0, description="seconds per request")

    @field_validator("base_url", mode="before")
    @classmethod
    def _one_server(cls, value: Any) -> Any:
        """A single address is a fleet of one."""
        return [value] if isinstance(value, str) else value


class ReplicaResources(_Spec):
    num_cpus: float = Field(1.0, gt=0, description="CPUs each replica reserves (its torch threads on a CPU)")
    num_gpus: float | None = Field(
        None, ge=0, description="GPUs each replica reserves (default: the inner engine's tensor_parallel_size, or 1, "
        "where the cluster has GPUs; else none)",
    )  # fmt: skip
    custom: dict[str, float] = Field(default_factory=dict, description="Ray custom resources each replica needs")
    pin_cores: bool = Field(
        False, description="replicas sharing a machine each bind to their own num_cpus cores (vLLM's CPU build binds "
        "every replica to the same cores otherwise)",
    )  # fmt: skip


InnerEngineSpec = HFEngineSpec | VLLMEngineSpec
INNER_KINDS = tuple(get_args(m.model_fields["kind"].annotation)[0] for m in get_args(InnerEngineSpec))
"""The engines a ray replica can hold."""


class RayEngineSpec(_Spec):
    kind: Literal["ray"] = "ray"
    inner: InnerEngineSpec = Field(
        default_factory=HFEngineSpec, discriminator="kind", description="the engine each replica holds (hf or vllm)"
    )
    replicas: Count = Field(2, description="copies of the inner engine, one Ray actor each")
    address: str | None = Field(
        None, description="the Ray cluster to join (e.g. auto, ray://host:10001); none: a local one"
    )
    resources: ReplicaResources = Field(default_factory=ReplicaResources, description="what each replica reserves")
    batch_size: Count | None = Field(
        None, description="requests per call to a replica (default: a call's requests split 4 ways per replica)"
    )
    max_restarts: CountFromZero = Field(3, description="times Ray restarts a replica that dies before the run stops")


def _hf(spec: HFEngineSpec, progress: bool) -> Engine:
    from promptkit.engines.hf import HFEngine

    return HFEngine(spec.model, progress=progress, **spec.model_dump(exclude={"kind", "model"}))


def _plain(spec: BaseModel) -> BaseModel:
    return spec.model_copy(update={"soft_prompt": None})


def _vllm(spec: VLLMEngineSpec, progress: bool) -> Engine:
    from promptkit.engines.vllm import VLLMEngine

    return VLLMEngine(spec.model, progress=progress, **spec.model_dump(exclude={"kind", "model", "soft_prompt"}))


def _replay(spec: ReplayEngineSpec, progress: bool) -> Engine:
    from promptkit.engines.replay import ReplayEngine

    return ReplayEngine(spec.path, spec.model)


def _openai(spec: OpenAIEngineSpec, progress: bool) -> Engine:
    from promptkit.engines.openai import OpenAIEngine

    return OpenAIEngine(spec.model, progress=progress, **spec.model_dump(exclude={"kind", "model", "soft_prompt"}))


def _ray(spec: RayEngineSpec, progress: bool) -> Engine:
    from promptkit.engines.ray_cluster import RayEngine

    factory = SpecFactory(spec.inner)
    r = spec.resources
    return RayEngine(
        factory(), factory, replicas=spec.replicas, address=spec.address, num_cpus=r.num_cpus, num_gpus=r.num_gpus,
        custom_resources=r.custom, pin_cores=r.pin_cores, batch_size=spec.batch_size,
        max_restarts=spec.max_restarts, tensor_parallel_size=getattr(spec.inner, "tensor_parallel_size", 1),
        progress=progress,
    )  # fmt: skip


@dataclass(frozen=True)
class SpecFactory:
    """A picklable recipe for an engine (what a Ray replica is given): built where it is called, from its spec."""

    spec: BaseModel

    def __call__(self) -> Engine:
        return build_engine(self.spec, False)


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
            EngineKind(RayEngineSpec, _ray),
        )
    },
)


def build_engine(spec: BaseModel, progress: bool) -> Engine:
    """The engine a spec describes, with its learned prompt: a soft prompt goes to the hf engine (the only one
    that takes tensors: anywhere else it is one line before anything starts), a text prompt before every
    prompt of any engine, once the engine's model is checked to be the one it was learned on."""
    kind = ENGINE_KINDS.get(spec.kind)  # type: ignore[attr-defined]
    path = getattr(spec, "soft_prompt", None)
    if not path:
        return kind.build(spec, progress)
    learned = load_learned_prompt(Path(path))
    if learned.tensor is not None:
        if kind.name != "hf":
            raise PromptkitError(
                f"{path}: a {learned.method} prompt is a learned tensor, which only the hf engine takes (engine "
                f"{kind.name} takes text prompts: bdpl)"
            )
        return kind.build(spec, progress)
    engine = kind.build(_plain(spec), progress)
    identity = engine.identity
    check_model(learned, model_key(identity.model, identity.revision), str(path))
    return TextPromptEngine(engine, learned)
