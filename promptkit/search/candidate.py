"""A candidate prompt: what a search may change in the method it searches (its demonstrations, a task word)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Candidate:
    demos: tuple[str, ...] | None = None
    """Pinned demonstrations, pool record ids in prompt order; None: the searched method's own."""
    words: tuple[tuple[str, str], ...] = ()
    """Task words replaced (the instruction, the prefix, the CoT trigger)."""
    origin: str = ""
    """Where it came from, for the log: 'draw 3', 'current', 'APE', 'OPRO step 2', 'published: OPRO'."""

    @property
    def key(self) -> str:
        """Its identity: the same prompt from two origins is one candidate, scored once."""
        text = json.dumps([self.demos, self.words], ensure_ascii=False)
        return hashlib.sha256(text.encode()).hexdigest()[:12]

    def method_options(self) -> dict[str, Any]:
        return {"demos": list(self.demos)} if self.demos is not None else {}

    def described(self) -> dict[str, Any]:
        out: dict[str, Any] = {"candidate": self.key, "origin": self.origin}
        if self.demos is not None:
            out["demos"] = list(self.demos)
        if self.words:
            out["words"] = dict(self.words)
        return out
