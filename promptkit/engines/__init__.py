"""Engines by kind; heavy modules are imported only when their engine is built."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import PromptkitError
from ..registry import Registry
from .base import CountingEngine, Engine, EngineIdentity, OnComplete, TokenCounter
from .cache import CachedEngine, default_cache_path
from .replay import ReplayEngine
from .scripted import ScriptedEngine


@dataclass(frozen=True)
class EngineSettings:
    kind: str
    model: str | None = None
    replay: str | None = None
    """Recording file, for the replay engine."""
    options: Mapping[str, Any] = field(default_factory=dict)
    """Keyword arguments of the engine's constructor (dtype, device, max_batch_tokens, ...)."""


def _need_model(s: EngineSettings) -> str:
    if not s.model:
        raise PromptkitError(f"the {s.kind} engine needs --model (a local path or a hub id)")
    return s.model


def _hf(s: EngineSettings) -> Engine:
    from .hf import HFEngine

    return HFEngine(_need_model(s), **s.options)


def _vllm(s: EngineSettings) -> Engine:
    from .vllm import VLLMEngine

    return VLLMEngine(_need_model(s), **s.options)


def _replay(s: EngineSettings) -> Engine:
    if not s.replay:
        raise PromptkitError("the replay engine needs --replay FILE (a JSONL recording)")
    return ReplayEngine(s.replay)


ENGINES: Registry[Callable[[EngineSettings], Engine]] = Registry(
    "engine", {"hf": _hf, "vllm": _vllm, "replay": _replay}
)


def make_engine(settings: EngineSettings, cache: str | Path | None = None) -> Engine:
    """Build the engine; wrap it in the persistent cache when a cache file is given."""
    engine = ENGINES.get(settings.kind)(settings)
    return CachedEngine(engine, cache) if cache is not None else engine


__all__ = [
    "ENGINES",
    "CachedEngine",
    "CountingEngine",
    "Engine",
    "EngineIdentity",
    "EngineSettings",
    "OnComplete",
    "ReplayEngine",
    "ScriptedEngine",
    "TokenCounter",
    "default_cache_path",
    "make_engine",
]
