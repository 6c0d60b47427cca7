"""An engine driven by a Python function, for tests of pipelines and users' own tests."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from promptkit.engines.base import Engine, EngineIdentity, OnComplete
from promptkit.engines.implementing import cut_at_stop
from promptkit.types import Completion, GenRequest, Prompt, Score, ScoreRequest

Script = Callable[[Prompt], "str | Sequence[str]"]
Scorer = Callable[[str, str], float]
"""scorer(context, continuation) -> the continuation's log-probability."""


class ScriptedEngine(Engine):
    """Answers each prompt with script(prompt); records every call it receives.

    A script that returns a list gives sample k the list's k-th item. With a scorer, it scores too:
    each continuation's log-probability is scorer(context, continuation), its tokens its words.
    """

    def __init__(self, script: Script | None = None, name: str = "scripted", *, scorer: Scorer | None = None) -> None:
        self.script = script or (lambda prompt: "")
        self.scorer = scorer
        self.scores = scorer is not None
        self.identity = EngineIdentity("scripted", name)
        self.calls: list[list[GenRequest]] = []
        self.score_calls: list[list[ScoreRequest]] = []

    def score(self, requests: Sequence[ScoreRequest]) -> list[Score]:
        if self.scorer is None:
            return super().score(requests)
        self.score_calls.append(list(requests))
        return [
            Score(float(self.scorer(r.context, r.continuation)), max(1, len(r.continuation.split())), False)
            for r in requests
        ]

    def generate(self, requests: Sequence[GenRequest], on_complete: OnComplete | None = None) -> list[Completion]:
        self.calls.append(list(requests))
        results = []
        for i, r in enumerate(requests):
            answer = self.script(r.prompt)
            first = r.first_sample
            texts = [answer] * r.sampling.n if isinstance(answer, str) else list(answer)[first : first + r.sampling.n]
            cut = [cut_at_stop(t, r.sampling.stop) for t in texts]
            completion = Completion(
                texts=tuple(t for t, _ in cut),
                finish_reasons=tuple("stop" for _ in cut),
                prompt_tokens=len(str(r.prompt).split()),
                sample_tokens=tuple(len(t.split()) for t, _ in cut),
            )
            results.append(completion)
            if on_complete:
                on_complete(i, completion)
        return results
