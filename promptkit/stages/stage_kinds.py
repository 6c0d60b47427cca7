"""Every stage kind, found in the modules of `promptkit.stages.kinds` that declare `KINDS` (see
`promptkit.stages.framework.declaration`), and what they record and measure, gathered once.

The registry is built from those declarations, never by import side effects: adding a stage kind is
adding a module to `promptkit/stages/kinds/` with its spec model, its factory and `KINDS`.
"""

from __future__ import annotations

import importlib
import pkgutil

import promptkit.stages.kinds as package
from promptkit.registry import Registry
from promptkit.stages.framework.declaration import Metric, Recorded, StageKind


def _declared() -> dict[str, StageKind]:
    kinds: dict[str, StageKind] = {}
    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{package.__name__}.{info.name}")
        for kind in getattr(module, "KINDS", ()):
            if kind.name in kinds:
                raise RuntimeError(f"stage kind {kind.name!r} is declared twice ({info.name})")
            kinds[kind.name] = kind
    return kinds


def _unique(kind: str, items: list, key: str) -> tuple:
    """One declaration per name: kinds that share a field or metric (vote and first) share the object."""
    seen: dict[str, object] = {}
    for item in items:
        name = getattr(item, key)
        if seen.setdefault(name, item) is not item:
            raise RuntimeError(f"{kind} {name!r} is declared twice, differently")
    return tuple(seen.values())


STAGE_KINDS: Registry[StageKind] = Registry("stage kind", _declared())
MODEL_CALLING: tuple[str, ...] = tuple(name for name in STAGE_KINDS if STAGE_KINDS.get(name).calls_model)
RECORDED: tuple[Recorded, ...] = _unique(
    "recorded field", [r for k in STAGE_KINDS.values() for r in k.records], "field"
)
"""Every field a prediction row keeps beside the common ones, in the kinds' order."""
METRICS: tuple[Metric, ...] = _unique("metric", [m for k in STAGE_KINDS.values() for m in k.metrics], "name")
"""Every figure summary.json's `metrics` may hold."""
