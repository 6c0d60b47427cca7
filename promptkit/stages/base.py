"""The stage protocol: states in, states out, same length and order."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from ..engines.base import Engine
from ..types import State


class Stage(Protocol):
    name: str

    def __call__(self, states: Sequence[State], engine: Engine) -> list[State]: ...
