"""Every stage kind, found in the modules of this package that declare `KINDS` (see `promptkit.stages.kind`).

The registry is built from those declarations, never by import side effects: adding a stage kind is
adding a module here with its spec model, its factory and `KINDS`.
"""

from __future__ import annotations

import importlib
import pkgutil

import promptkit.stages as package
from promptkit.registry import Registry
from promptkit.stages.kind import StageKind


def _declared() -> dict[str, StageKind]:
    kinds: dict[str, StageKind] = {}
    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{package.__name__}.{info.name}")
        for kind in getattr(module, "KINDS", ()):
            if kind.name in kinds:
                raise RuntimeError(f"stage kind {kind.name!r} is declared twice ({info.name})")
            kinds[kind.name] = kind
    return kinds


STAGE_KINDS: Registry[StageKind] = Registry("stage kind", _declared())
MODEL_CALLING: tuple[str, ...] = tuple(name for name in STAGE_KINDS if STAGE_KINDS.get(name).calls_model)
