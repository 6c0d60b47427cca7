"""Serves recorded completions from a JSONL file: {"prompt": ..., "completions": [...]} per line.

A line {"context", "continuation", "logprob", "tokens", "greedy"} is a recorded score instead.
"""

from __future__ import annotations

import bisect
import hashlib
import json
from collections.abc import Sequence
from pathlib import Path

from promptkit.engines.base import Engine, EngineIdentity, OnComplete
from promptkit.engines.implementing import common_prefix_length, cut_at_stop
from promptkit.errors import PromptkitError, ReplayMiss
from promptkit.files.jsonl import read_jsonl
from promptkit.types import Completion, GenRequest, Prompt, Score, ScoreRequest


def prompt_text(prompt: Prompt) -> str:
    """A prompt as the recording keys it: the text, or its chat messages as JSON."""
    return prompt if isinstance(prompt, str) else json.dumps([dict(m) for m in prompt], ensure_ascii=False)


def _is_messages(value: object) -> bool:
    return isinstance(value, list) and all(
        isinstance(m, dict) and isinstance(m.get("role"), str) and isinstance(m.get("content"), str) for m in value
    )


class ReplayEngine(Engine):
    def __init__(self, path: str | Path, model: str | None = None) -> None:
        """model: the recorded model's name, for the summary (the recording's file name by default)."""
        self.path = Path(path)
        self._records: dict[str, list[str]] = {}
        self._scores: dict[tuple[str, str], Score] = {}
        for line_no, row in read_jsonl(self.path):
            prompt, completions = row.get("prompt"), row.get("completions")
            where = f"{self.path}:{line_no}"
            if "context" in row:
                self._scores[(_text(row, "context", where), _text(row, "continuation", where))] = _score(row, where)
                continue
            if not (isinstance(prompt, str) or _is_messages(prompt)):
                raise PromptkitError(f"{where}: 'prompt' must be a string or a list of {{role, content}} messages")
            if not isinstance(completions, list) or not all(isinstance(c, str) for c in completions):
                raise PromptkitError(f"{where}: 'completions' must be a list of strings")
            self._records.setdefault(prompt_text(prompt), list(completions))  # type: ignore[arg-type]
        self._sorted = sorted(self._records)
        self.scores = bool(self._scores)
        digest = hashlib.sha256(self.path.read_bytes()).hexdigest()[:16]
        self.identity = EngineIdentity("replay", model or str(self.path.name), digest)

    def generate(self, requests: Sequence[GenRequest], on_complete: OnComplete | None = None) -> list[Completion]:
        results = []
        for i, req in enumerate(requests):
            text = prompt_text(req.prompt)
            recorded = self._records.get(text)
            if recorded is None:
                raise ReplayMiss(self._miss_message(text))
            last = req.first_sample + req.sampling.n
            if len(recorded) < last:
                raise ReplayMiss(
                    f"{self.path}: asked for {last} samples, the recording has {len(recorded)} for prompt {text[:60]!r}"
                )
            cut = [cut_at_stop(t, req.sampling.stop) for t in recorded[req.first_sample : last]]
            completion = Completion(
                texts=tuple(t for t, _ in cut),
                finish_reasons=tuple("stop" for _ in cut),
            )
            results.append(completion)
            if on_complete:
                on_complete(i, completion)
        return results

    def score(self, requests: Sequence[ScoreRequest]) -> list[Score]:
        if not self._scores:
            return super().score(requests)
        out = []
        for r in requests:
            found = self._scores.get((r.context, r.continuation))
            if found is None:
                raise ReplayMiss(
                    f"replay {self.path}: no recorded score for {r.continuation!r} after {r.context[-60:]!r}"
                )
            out.append(found)
        return out

    def _miss_message(self, prompt: str) -> str:
        closest, common = self._closest(prompt)
        start = prompt[:80]
        if closest is None:
            return f"replay {self.path}: no recording for prompt {start!r} (the recording is empty)"
        return (
            f"replay {self.path}: no recording for prompt {start!r}...; closest recorded prompt first differs "
            f"at character {common}: prompt has {prompt[common : common + 40]!r}, recording has {closest[common : common + 40]!r}"
        )

    def _closest(self, prompt: str) -> tuple[str | None, int]:
        """The recorded prompt sharing the longest prefix is a neighbour in sorted order."""
        if not self._sorted:
            return None, 0
        at = bisect.bisect_left(self._sorted, prompt)
        neighbours = self._sorted[max(0, at - 1) : at + 1]
        best = max(neighbours, key=lambda c: common_prefix_length(c, prompt))
        return best, common_prefix_length(best, prompt)


def _text(row: dict, key: str, where: str) -> str:
    value = row.get(key)
    if not isinstance(value, str):
        raise PromptkitError(f"{where}: a recorded score needs '{key}' as a string")
    return value


def _score(row: dict, where: str) -> Score:
    logprob, tokens, greedy = row.get("logprob"), row.get("tokens", 1), row.get("greedy", False)
    if isinstance(logprob, bool) or not isinstance(logprob, (int, float)) or logprob != logprob or logprob > 0:
        raise PromptkitError(f"{where}: 'logprob' must be a number <= 0")
    if isinstance(tokens, bool) or not isinstance(tokens, int) or tokens < 1 or not isinstance(greedy, bool):
        raise PromptkitError(f"{where}: 'tokens' must be an integer >= 1 and 'greedy' true or false")
    return Score(float(logprob), tokens, greedy)
