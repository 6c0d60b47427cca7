"""Generated task data: last-letter concatenation sets (Wei et al., 2022; Kojima et al.'s format)."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

from promptkit.errors import PromptkitError

NAMES_FILE = Path(__file__).with_name("names.txt")
QUESTION = 'Take the last letters of each words in "{words}" and concatenate them.'


def shipped_names() -> list[str]:
    return [n for n in NAMES_FILE.read_text(encoding="utf-8").split() if n]


def generate_last_letters(count: int = 500, words: int = 4, seed: int = 0) -> dict[str, Any]:
    """A new set in the file format: `count` questions of `words` distinct names each."""
    if words < 1 or count < 1:
        raise PromptkitError(f"last-letter sets need words >= 1 and count >= 1 (got words={words}, count={count})")
    names = shipped_names()
    rng = random.Random(f"last_letters:{words}:{seed}")
    examples = []
    for _ in range(count):
        picked = rng.sample(names, words)
        examples.append(
            {"question": QUESTION.format(words=" ".join(picked)), "answer": "".join(n[-1].lower() for n in picked)}
        )
    return {"examples": examples, "generator": {"words": words, "count": count, "seed": seed}}
