"""Engines for a set of runs: one per distinct engine spec, opened when first needed, all closed on any way out."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from promptkit.engines import make_engine
from promptkit.engines.base import Engine
from promptkit.runspec.models import RunSpec

CacheFor = Callable[[RunSpec], "Path | None"]
"""Which cache file a run's engine uses (None: no cache)."""


def no_cache(spec: RunSpec) -> Path | None:
    return None


class EnginePool:
    """`with EnginePool(...) as pool: pool.engine(spec)`: runs on the same engine spec share one engine
    (the model loads once); every engine is closed when the block ends, by error or interrupt too."""

    def __init__(self, cache: CacheFor | Path | None = None, *, progress: bool = False) -> None:
        self._cache = cache if callable(cache) else (lambda spec, path=cache: path)
        self._progress = progress
        self._engines: dict[str, Engine] = {}

    def engine(self, spec: RunSpec) -> Engine:
        key = spec.engine.model_dump_json()
        if key not in self._engines:
            self._engines[key] = make_engine(spec.engine, self._cache(spec), progress=self._progress)
        return self._engines[key]

    def close(self) -> None:
        engines, self._engines = list(self._engines.values()), {}
        errors = []
        for engine in engines:  # each one closes even when another fails to
            try:
                engine.close()
            except Exception as exc:
                errors.append(exc)
        if errors:
            raise errors[0]

    def __enter__(self) -> EnginePool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
