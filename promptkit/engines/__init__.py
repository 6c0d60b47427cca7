"""Engines by kind; heavy modules are imported only when their engine is built."""

from __future__ import annotations

from pathlib import Path

from promptkit.engines.base import Engine, EngineIdentity, OnComplete, TokenCounter
from promptkit.engines.cache import CachedEngine, default_cache_path
from promptkit.engines.engine_kinds import build_engine
from promptkit.engines.implementing import CountingEngine
from promptkit.engines.replay import ReplayEngine
from promptkit.engines.scripted import ScriptedEngine


def make_engine(spec, cache: str | Path | None = None, *, progress: bool = True) -> Engine:
    """Build the engine an engine spec describes; wrap it in the persistent cache when a file is given."""
    engine = build_engine(spec, progress)
    return CachedEngine(engine, cache) if cache is not None else engine


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
