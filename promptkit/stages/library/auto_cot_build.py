"""Auto-CoT (Zhang et al., 2022): demonstrations the model writes for itself.

Cluster the pool's questions (TF-IDF, or sentence embeddings), answer the question nearest each
centroid with zero-shot CoT, keep those that pass the paper's filters (a short question, a short
rationale, a parsed answer), and try the next-nearest question of the clusters that failed. Every
round is one batched zero-shot-CoT run over all clusters still open.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from promptkit.engines.base import Engine
from promptkit.errors import PromptkitError
from promptkit.files.atomic import write_text_atomic
from promptkit.stages.framework.stage import Stage
from promptkit.stages.library.demo_pools import Demo
from promptkit.tasks.base import Task
from promptkit.tasks.definition import COT_TRIGGER
from promptkit.types import Example, State

# The paper's settings per task: (clusters, most reasoning steps); questions of at most 60 words.
TASK_DEFAULTS = {"gsm8k": (8, 5), "last_letters": (4, 7)}


@dataclass(frozen=True)
class AutoCoTSettings:
    clusters: int | None = None
    """Demonstrations wanted (one per cluster); the paper's count for the task when None."""
    max_question_words: int = 60
    max_steps: int | None = None
    """Lines of reasoning at most (the reference code's count); the paper's for the task when None."""
    tries: int = 5
    """Questions tried per cluster, nearest first."""
    seed: int = 0
    embedder: Literal["tfidf", "embedding"] = "tfidf"
    max_tokens: int = 256

    def resolved(self, task: str) -> AutoCoTSettings:
        clusters, steps = TASK_DEFAULTS.get(task, (8, 5))
        return AutoCoTSettings(
            self.clusters or clusters,
            self.max_question_words,
            self.max_steps or steps,
            self.tries,
            self.seed,
            self.embedder,
            self.max_tokens,
        )


@dataclass
class AutoCoTResult:
    demos: list[Demo]
    settings: AutoCoTSettings
    clusters: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self, source: str) -> dict[str, Any]:
        return {
            "source": f"Auto-CoT (Zhang et al., 2022) over {source}",
            "auto_cot": {**asdict(self.settings), "per_cluster": self.clusters},
            "exemplars": [{"question": d.question, "rationale": d.rationale, "answer": d.answer} for d in self.demos],
        }


def reasoning_steps(rationale: str) -> int:
    """Non-empty lines, as the Auto-CoT reference code counts steps."""
    return len([line for line in rationale.replace("\n\n", "\n").split("\n") if line.strip()])


def _vectors(questions: Sequence[str], embedder: str):
    if embedder == "embedding":
        from promptkit.stages.library.embedders import sentence_transformer_embedder

        return np.asarray(sentence_transformer_embedder()(questions))
    from sklearn.feature_extraction.text import TfidfVectorizer

    return TfidfVectorizer(sublinear_tf=True).fit_transform(list(questions))  # sparse: k-means takes it as is


def clusters_by_distance(questions: Sequence[str], k: int, seed: int, embedder: str) -> list[list[int]]:
    """For each of k clusters, its members nearest the centroid first."""
    from sklearn.cluster import KMeans

    if k > len(questions):
        raise PromptkitError(f"auto-cot: {k} clusters asked for, but the pool holds {len(questions)} questions")
    vectors = _vectors(questions, embedder)
    model = KMeans(n_clusters=k, random_state=seed, n_init=10).fit(vectors)
    distances = model.transform(vectors)
    out = []
    for c in range(k):
        members = [i for i in range(len(questions)) if model.labels_[i] == c]
        out.append(sorted(members, key=lambda i: (distances[i, c], i)))
    return out


Reasoner = Callable[[Task, int], Stage]
"""reasoner(questions, max_tokens): a zero-shot-CoT pipeline over those questions, writing 'rationale'
and 'prediction' (the run's builder makes it from the `zero_shot_cot` method)."""


def auto_cot(
    pool: Task, engine: Engine, reasoner: Reasoner, settings: AutoCoTSettings = AutoCoTSettings()
) -> AutoCoTResult:
    """One demonstration per cluster (fewer when a cluster has no question that passes the filters)."""
    settings = settings.resolved(pool.name)
    questions = [str(e.inputs["question"]) for e in pool.examples]
    ranked = clusters_by_distance(questions, settings.clusters or 1, settings.seed, settings.embedder)
    short = [[i for i in members if len(questions[i].split()) <= settings.max_question_words] for members in ranked]
    chosen: dict[int, Demo] = {}
    tried = [0] * len(ranked)
    for attempt in range(settings.tries):
        open_clusters = [c for c in range(len(ranked)) if c not in chosen and attempt < len(short[c])]
        if not open_clusters:
            break
        picks = [short[c][attempt] for c in open_clusters]
        examples = tuple(Example(pool.examples[i].id, pool.examples[i].inputs, None) for i in picks)
        batch = pool.with_examples(examples)
        states = reasoner(batch, settings.max_tokens)([State(e) for e in batch.examples], engine)
        for c, state in zip(open_clusters, states):
            tried[c] += 1
            rationale, answer = str(state.fields.get("rationale", "")), state.fields.get("prediction")
            if answer is None or state.failed or reasoning_steps(rationale) > (settings.max_steps or 5):
                continue
            text = " ".join(f"{COT_TRIGGER} {rationale.strip()}".split())
            chosen[c] = Demo(f"auto-cot-{c}", state.example.inputs["question"], text, str(answer))
    clusters = [
        {"cluster": c, "size": len(members), "tried": tried[c], "chosen": chosen[c].question if c in chosen else None}
        for c, members in enumerate(ranked)
    ]
    return AutoCoTResult([chosen[c] for c in sorted(chosen)], settings, clusters)


def write_exemplars(result: AutoCoTResult, source: str, path: Path) -> None:
    write_text_atomic(path, json.dumps(result.to_json(source), indent=1, ensure_ascii=False) + "\n")
