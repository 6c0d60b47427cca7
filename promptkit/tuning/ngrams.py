"""BDPL's prompt vocabulary: frequent, strongly associated n-grams of the training text (Diao et al. 2023,
after T-DNA's PMI n-grams): adjacent words whose pointwise mutual information clears a bar are merged into
n-grams, which are kept by frequency. Frequent single words fill the list where the text has too few."""

from __future__ import annotations

import itertools
import math
import re
from collections import Counter
from collections.abc import Iterable

MAX_N = 5
MIN_COUNT = 5
MIN_PMI = 1.0
_WORD = re.compile(r"\w", re.UNICODE)


def ngram_vocabulary(
    texts: Iterable[str], size: int, *, min_count: int = MIN_COUNT, min_pmi: float = MIN_PMI
) -> list[str]:
    """The `size` most frequent PMI n-grams (2 to MAX_N words) of the texts, then their most frequent words."""
    sentences = [t.split() for t in texts]
    words = Counter(w for s in sentences for w in s)
    pairs = Counter(p for s in sentences for p in itertools.pairwise(s))
    total = max(sum(pairs.values()), 1)
    strong = {
        (a, b)
        for (a, b), c in pairs.items()
        if c >= min_count and math.log(total * c / (words[a] * words[b])) >= min_pmi
    }
    grams: Counter[str] = Counter()
    for s in sentences:
        i = 0
        while i < len(s):
            j = i
            while j + 1 < len(s) and j + 1 - i < MAX_N and (s[j], s[j + 1]) in strong:
                j += 1
            if j > i:
                grams[" ".join(s[i : j + 1])] += 1
            i = j + 1
    ranked = [g for g, c in grams.most_common() if c >= min_count]
    ranked += [w for w, _ in words.most_common() if _WORD.search(w)]
    chosen: dict[str, None] = {}
    for phrase in ranked:
        phrase = phrase.rstrip(" .,;:!?'\"`-")
        if phrase and _WORD.search(phrase):
            chosen.setdefault(phrase)
        if len(chosen) == size:
            break
    return list(chosen)
