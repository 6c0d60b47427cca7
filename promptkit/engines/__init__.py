"""Engines by kind; heavy modules are imported only when their engine is built."""

from __future__ import annotations

from pathlib import Path

from promptkit.engines.base import CountingEngine, Engine, EngineIdentity, OnComplete, TokenCounter
from promptkit.engines.cache import CachedEngine, default_cache_path
from promptkit.engines.replay import ReplayEngine
from promptkit.engines.scripted import ScriptedEngine


def make_engine(spec, cache: str | Path | None = None, *, progress: bool = True) -> Engine:
    """Build the engine an engine spec describes; wrap it in the persistent cache when a file is given."""
    engine = _build(spec, progress)
    return CachedEngine(engine, cache) if cache is not None else engine


def _build(spec, progress: bool) -> Engine:
    if spec.kind == "hf":
        from promptkit.engines.hf import HFEngine

        options = spec.model_dump(exclude={"kind", "model"})
        return HFEngine(spec.model, progress=progress, **options)
    if spec.kind == "vllm":
        from promptkit.engines.vllm import VLLMEngine

        return VLLMEngine(
            spec.model,
            revision=spec.revision,
            dtype=spec.dtype,
            tensor_parallel_size=spec.tensor_parallel_size,
            engine_args=spec.engine_args,
            progress=progress,
        )
    if spec.kind == "replay":
        return ReplayEngine(spec.path)
    if spec.kind == "openai":
        from promptkit.engines.openai import OpenAIEngine

        return OpenAIEngine(
            spec.model,
            base_url=spec.base_url,
            api_key_env=spec.api_key_env,
            concurrency=spec.concurrency,
            max_retries=spec.max_retries,
            timeout=spec.timeout,
            progress=progress,
        )
    raise ValueError(f"no engine of kind {spec.kind!r}")


__all__ = [
    "CachedEngine",
    "CountingEngine",
    "Engine",
    "EngineIdentity",
    "OnComplete",
    "ReplayEngine",
    "ScriptedEngine",
    "TokenCounter",
    "default_cache_path",
    "make_engine",
]
