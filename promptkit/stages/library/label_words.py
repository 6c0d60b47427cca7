"""Random English words as a label space (Min et al. 2022, "Rethinking the Role of Demonstrations"): each class
renamed, one to one, in the demonstrations and in what is scored.

The words come from the `english-words` package (its `web2` list, Webster's Second International, lower case,
letters only), the list Min et al.'s code draws from; those of 3 to 8 letters, drawn with a seed.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from functools import cache

from promptkit.errors import PromptkitError

SHORTEST, LONGEST = 3, 8


@cache
def _words() -> tuple[str, ...]:
    try:
        from english_words import get_english_words_set
    except ImportError:
        raise PromptkitError(
            "label_words: random_english needs the english-words package (pip install english-words)"
        ) from None
    words = get_english_words_set(["web2"], lower=True, alpha=True)
    return tuple(sorted(w for w in words if SHORTEST <= len(w) <= LONGEST))


def random_label_words(labels: Sequence[str], seed: int) -> dict[str, str]:
    """Each label's word: distinct, drawn from the list with `seed` (the same seed, the same words)."""
    drawn = random.Random(f"{seed}:label_words").sample(_words(), len(labels))
    return dict(zip(labels, drawn))
