"""The pydantic base of every spec model (stages, engines, runs): frozen, unknown fields refused."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

Seed = Annotated[int, Field(ge=0, le=2**64 - 1)]
"""Seeds are unsigned 64-bit numbers."""


class SpecModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
