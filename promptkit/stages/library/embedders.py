"""Text embedders for choosing demonstrations by similarity: TF-IDF (scikit-learn) or a sentence-transformers model."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np

from promptkit.errors import EngineUnavailable


class Embedder(Protocol):
    def __call__(self, texts: Sequence[str]) -> np.ndarray: ...


def sentence_transformer_embedder(model: str = "sentence-transformers/all-MiniLM-L6-v2") -> Embedder:
    try:
        from sentence_transformers import SentenceTransformer
    except ImportError:
        raise EngineUnavailable(
            "embedding selection needs sentence-transformers: pip install 'promptkit[embeddings]'"
        ) from None
    encoder = SentenceTransformer(model)
    return lambda texts: encoder.encode(list(texts), normalize_embeddings=True)


def tfidf_embedder(pool_texts: Sequence[str]) -> Embedder:
    # scikit-learn's TF-IDF: one sparse product scores every example against the pool at once.
    from sklearn.feature_extraction.text import TfidfVectorizer

    vectorizer = TfidfVectorizer(sublinear_tf=True).fit(pool_texts)
    return lambda texts: vectorizer.transform(list(texts))
