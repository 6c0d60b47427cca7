"""The budget: engine calls spent by every engine the search uses, with the tokens they took."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tqdm.auto import tqdm

from promptkit.errors import PromptkitError


class BudgetSpent(PromptkitError):
    """The next piece of work would take more calls than are left."""


@dataclass
class Ledger:
    budget: int
    calls: int = 0
    cache_hits: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    bar: Any = None

    @classmethod
    def open(cls, budget: int, progress: bool, label: str) -> Ledger:
        return cls(budget, bar=tqdm(total=budget, desc=label, unit="call", disable=None if progress else True))

    def left(self) -> int:
        return self.budget - self.calls

    def afford(self, calls: int) -> bool:
        return self.calls + calls <= self.budget

    def spend(self, entry: dict[str, Any]) -> None:
        """Count a logged piece of work (done now, or replayed from the log)."""
        self.calls += int(entry.get("calls", 0))
        self.cache_hits += int(entry.get("cache_hits", 0))
        self.prompt_tokens += int(entry.get("prompt_tokens", 0))
        self.completion_tokens += int(entry.get("completion_tokens", 0))
        if self.bar is not None:
            self.bar.update(int(entry.get("calls", 0)))

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()

    def totals(self) -> dict[str, int]:
        return {
            "calls": self.calls,
            "cache_hits": self.cache_hits,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
        }
