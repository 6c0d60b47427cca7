"""An engine that calls no model: every completion is a visible placeholder (for `promptkit render`)."""

from __future__ import annotations

from collections.abc import Sequence

from promptkit.engines.base import Engine, EngineIdentity, OnComplete
from promptkit.types import Completion, GenRequest, Score, ScoreRequest

PLACEHOLDER = "<<model output>>"


class PlaceholderEngine(Engine):
    identity = EngineIdentity("placeholder", "none")
    scores = True

    def score(self, requests: Sequence[ScoreRequest]) -> list[Score]:
        """Every choice equally likely: render shows the prompt, not a verdict."""
        return [Score(0.0, 1, False) for _ in requests]

    def generate(self, requests: Sequence[GenRequest], on_complete: OnComplete | None = None) -> list[Completion]:
        out = []
        for i, r in enumerate(requests):
            completion = Completion((PLACEHOLDER,) * r.sampling.n, ("stop",) * r.sampling.n)  # type: ignore[arg-type]
            out.append(completion)
            if on_complete:
                on_complete(i, completion)
        return out
