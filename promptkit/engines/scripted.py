"""An engine driven by a Python function, for tests of pipelines and users' own tests."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from promptkit.engines.base import Engine, EngineIdentity, OnComplete, cut_at_stop
from promptkit.types import Completion, GenRequest, Prompt

Script = Callable[[Prompt], "str | Sequence[str]"]


class ScriptedEngine(Engine):
    """Answers each prompt with script(prompt); records every call it receives.

    A script that returns a list gives sample k the list's k-th item.
    """

    def __init__(self, script: Script, name: str = "scripted") -> None:
        self.script = script
        self.identity = EngineIdentity("scripted", name)
        self.calls: list[list[GenRequest]] = []

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
