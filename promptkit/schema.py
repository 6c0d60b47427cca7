"""The pydantic base of every spec model (stages, engines, runs): frozen, unknown fields refused."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from promptkit.errors import PromptkitError

SEED_MAX = 2**64 - 1
Seed = Annotated[int, Field(ge=0, le=SEED_MAX)]
"""Seeds are unsigned 64-bit numbers."""
MOST = 10**9
"""The most of anything countable a flag, a spec or a task file may ask for (examples, demonstrations, samples,
seeds, tokens, engine calls, steps): more is a mistake, and past a machine integer it would fail deep in a library."""
Count = Annotated[int, Field(ge=1, le=MOST)]
"""How many of something, at least one."""
CountFromZero = Annotated[int, Field(ge=0, le=MOST)]
"""How many of something, where zero is a choice (zero demonstrations, no retries)."""


def check_count(name: str, value: int, least: int = 1) -> None:
    """A count outside [least, MOST], as one line naming it (for settings that are not pydantic models)."""
    if not least <= value <= MOST:
        raise PromptkitError(f"{name}: {value}; {least} to {MOST:,}")


class SpecModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


M = TypeVar("M", bound=BaseModel)


def check_model(model: type[M], data: Mapping[str, Any], source: str) -> M:
    """`data` as a checked `model`; every problem is named by its dotted field, on one line after `source`."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = [f"{_dotted(e['loc'], data)}: {_message(e)}" for e in exc.errors()]
        raise PromptkitError(f"{source}: " + "; ".join(problems)) from None


def _message(error: Mapping[str, Any]) -> str:
    if error["type"] == "union_tag_invalid":
        ctx = error.get("ctx", {})
        return f"unknown kind {ctx.get('tag')!r} (known: {ctx.get('expected_tags', '').replace(chr(39), '')})"
    if error["type"] == "extra_forbidden":
        return "unknown field (Extra inputs are not permitted)"
    return error["msg"]


def _dotted(loc: Sequence[Any], data: Any) -> str:
    """pydantic's location without the union tags it inserts: pipeline.1.max_tokns, not pipeline.1.generate.max_tokns."""
    parts: list[str] = []
    node = data
    for part in loc:
        if isinstance(node, dict) and node.get("kind") == part and part not in node:
            continue  # the discriminator's tag, not a key of the input
        parts.append(str(part))
        if isinstance(node, dict):
            node = node.get(part)
        elif isinstance(node, list) and isinstance(part, int) and part < len(node):
            node = node[part]
        else:
            node = None
    return ".".join(parts) or "(spec)"
