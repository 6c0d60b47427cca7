"""A persistent generation cache around any engine, in one SQLite file.

Rows are keyed by (engine identity, prompt, sampling without n) and the sample index, and written
as each request finishes, so a killed run loses nothing and a rerun asks only for what is missing.
Scores (log-likelihoods) are rows of the same table, keyed by (identity, context, continuation),
with finish 'score', so they share its writing, its checks and its rescue.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, replace
from pathlib import Path
from typing import TypeVar

from promptkit.engines.base import Engine, EngineStats, Follow, OnComplete
from promptkit.errors import CacheFailed, PromptkitError
from promptkit.files.paths import state_dir
from promptkit.types import Completion, GenRequest, Score, ScoreRequest, prompt_key

T = TypeVar("T")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS generations (
    request TEXT NOT NULL,
    idx INTEGER NOT NULL,
    engine TEXT NOT NULL,
    text TEXT NOT NULL,
    finish TEXT NOT NULL,
    prompt_tokens INTEGER NOT NULL,
    tokens INTEGER NOT NULL,
    PRIMARY KEY (request, idx)
)
"""


def default_cache_path() -> Path:
    """$PROMPTKIT_CACHE, else generations.sqlite in promptkit's folder (PROMPTKIT_HOME, or ~/.cache/promptkit)."""
    if env := os.environ.get("PROMPTKIT_CACHE"):
        return Path(env)
    return state_dir() / "generations.sqlite"


_COLUMNS = ["request", "idx", "engine", "text", "finish", "prompt_tokens", "tokens"]
LOCK_WAIT_SECONDS = 60.0
# SQLite's quick_check reads every page: about 0.1 s for 200 MB from the page cache. Larger caches
# are not checked on open; a damaged page met later stops the run, keeping its work (CacheDamaged).
QUICK_CHECK_MAX_BYTES = 1 << 30


def open_cache(path: Path, label: str = "cache") -> sqlite3.Connection:
    """Open (or create) a promptkit cache; anything else at that path is a one-line error naming it (as `label`)."""
    if path.is_dir():
        raise PromptkitError(f"{label} {path}: a folder, not a cache file")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(path, timeout=0.2)  # short: patiently() does the waiting
    except (OSError, sqlite3.Error) as exc:
        raise PromptkitError(f"{label} {path}: cannot open it ({exc})") from None
    try:
        patiently(path, lambda: _prepare(db))
        if path.stat().st_size <= QUICK_CHECK_MAX_BYTES:
            problems = patiently(path, lambda: [row[0] for row in db.execute("PRAGMA quick_check(3)")])
            if problems != ["ok"]:
                raise sqlite3.DatabaseError("; ".join(problems))
    except sqlite3.DatabaseError as exc:
        db.close()
        raise PromptkitError(f"{label} {path}: not a promptkit cache, or damaged ({_short(exc)})") from None
    columns = [row[1] for row in db.execute("PRAGMA table_info(generations)")]
    if columns != _COLUMNS:
        db.close()
        raise PromptkitError(f"{label} {path}: an SQLite file of another kind (its 'generations' table differs)")
    return db


def _short(exc: BaseException, limit: int = 200) -> str:
    text = " ".join(str(exc).split())
    return text if len(text) <= limit else text[:limit] + "..."


def _prepare(db: sqlite3.Connection) -> None:
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute(_SCHEMA)
    db.commit()
    db.execute("SELECT request FROM generations LIMIT 1").fetchall()


def patiently(path: Path, work: Callable[[], T], wait: float | None = None) -> T:
    """work(), waiting with backoff while another process holds the cache's lock (saying so), then an error."""
    wait = LOCK_WAIT_SECONDS if wait is None else wait
    deadline, delay, told = time.monotonic() + wait, 0.05, False
    while True:
        try:
            return work()
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) and "busy" not in str(exc):
                raise
            if time.monotonic() >= deadline:
                raise PromptkitError(
                    f"cache {path}: locked by another process for over {wait:g} s; finished rows are saved, "
                    "run again when it is free"
                ) from None
            if not told:
                print(
                    f"promptkit: cache {path} is locked by another process; waiting up to {wait:g} s", file=sys.stderr
                )
                told = True
            time.sleep(delay)
            delay = min(delay * 2, 2.0)


class CachedEngine(Engine):
    """Wraps an engine; requests whose samples are all stored never reach it. Passes its tokenization and
    streaming through; counts hits, misses and what the model generated (`stats()`)."""

    def __init__(self, inner: Engine, path: str | Path) -> None:
        self.inner = inner
        self.identity = inner.identity
        self.tokens = inner.tokens
        self.streams = inner.streams
        self.scores = inner.scores
        self.path = Path(path)
        self._db = open_cache(self.path)
        self.counters = EngineStats()
        self._written: list[tuple] = []  # this run's rows, kept elsewhere should the file fail

    def close(self) -> None:
        """Close the file and the engine inside (which stops what it started)."""
        self._db.close()
        self.inner.close()

    def stats(self) -> EngineStats:
        return replace(self.counters)

    def request_key(self, request: GenRequest) -> str:
        sampling = asdict(replace(request.sampling, n=1))
        blob = json.dumps(
            [self.identity.key(), prompt_key(request.prompt), sampling], sort_keys=True, ensure_ascii=False
        )
        return hashlib.sha256(blob.encode("utf-8")).hexdigest()

    def generate(self, requests: Sequence[GenRequest], on_complete: OnComplete | None = None) -> list[Completion]:
        keys = [self.request_key(r) for r in requests]
        stored = [self._load(k, r.first_sample, r.sampling.n) for k, r in zip(keys, requests)]
        results: list[Completion | None] = [None] * len(requests)
        todo: list[int] = []
        for i, rows in enumerate(stored):
            if len(rows) == requests[i].sampling.n:
                results[i] = _merge(rows)
                self.counters.hits += 1
                self.counters.served_tokens += results[i].completion_tokens  # type: ignore[union-attr]
                if on_complete:
                    on_complete(i, results[i])  # type: ignore[arg-type]
            else:
                todo.append(i)
        if not todo:
            return results  # type: ignore[return-value]
        self.counters.misses += len(todo)
        self.counters.model_calls += 1
        # Only the missing samples are asked for, by index: sample k is the same whenever it is made.
        asks = []
        for i in todo:
            have, request = len(stored[i]), requests[i]
            sampling = replace(request.sampling, n=request.sampling.n - have)
            asks.append(replace(request, sampling=sampling, first_sample=request.first_sample + have))

        def store(j: int, completion: Completion) -> None:
            i = todo[j]
            self._save(keys[i], requests[i].first_sample + len(stored[i]), completion)
            self.counters.generated_tokens += completion.completion_tokens
            self.counters.served_tokens += sum(r[3] for r in stored[i])
            results[i] = _merge([*stored[i], *_rows(completion)])
            if on_complete:
                on_complete(i, results[i])  # type: ignore[arg-type]

        self.inner.generate(asks, store)
        missing = [i for i in todo if results[i] is None]
        if missing:
            raise RuntimeError(f"engine {self.identity.kind} returned without completing {len(missing)} requests")
        return results  # type: ignore[return-value]

    def score_key(self, request: ScoreRequest) -> str:
        blob = json.dumps(["score", self.identity.key(), request.context, request.continuation], ensure_ascii=False)
        return hashlib.sha256(blob.encode("utf-8")).hexdigest()

    def score(self, requests: Sequence[ScoreRequest]) -> list[Score]:
        """Stored scores at once; the rest in one call to the engine inside, each stored as the call returns."""
        keys = [self.score_key(r) for r in requests]
        results: list[Score | None] = []
        for key in keys:
            rows = self._load(key, 0, 1)
            results.append(_score_of(rows[0]) if rows and rows[0][1] == "score" else None)
        todo = [i for i, r in enumerate(results) if r is None]
        self.counters.hits += len(requests) - len(todo)
        if todo:
            self.counters.misses += len(todo)
            self.counters.model_calls += 1
            for i, score in zip(todo, self.inner.score([requests[i] for i in todo])):
                text = json.dumps({"logprob": score.logprob, "greedy": score.greedy})
                self._save(
                    keys[i],
                    0,
                    Completion(texts=(text,), finish_reasons=("score",), sample_tokens=(score.tokens,)),  # type: ignore[arg-type]
                )
                results[i] = score
        return results  # type: ignore[return-value]

    def generate_chains(self, first: Sequence[GenRequest], follow: Follow) -> None:
        """Chains through the cache: stored links are served at once, the rest go on to the engine inside."""
        asked: list[tuple[int, GenRequest, str, list]] = []  # inner chain -> (our chain, request, key, stored)

        def serve(i: int, request: GenRequest | None) -> GenRequest | None:
            """Follow chain i through stored links; the first link not stored is asked for (its missing samples)."""
            while request is not None:
                key = self.request_key(request)
                stored = self._load(key, request.first_sample, request.sampling.n)
                if len(stored) < request.sampling.n:
                    self.counters.misses += 1
                    asked.append((i, request, key, stored))
                    have = len(stored)
                    sampling = replace(request.sampling, n=request.sampling.n - have)
                    return replace(request, sampling=sampling, first_sample=request.first_sample + have)
                self.counters.hits += 1
                merged = _merge(stored)
                self.counters.served_tokens += merged.completion_tokens
                request = follow(i, merged)
            return None

        starts, chain_of = [], []
        for i, request in enumerate(first):
            ask = serve(i, request)
            if ask is not None:
                starts.append(ask)
                chain_of.append(len(asked) - 1)
        if not starts:
            return
        self.counters.model_calls += 1

        def store(j: int, completion: Completion) -> GenRequest | None:
            i, request, key, stored = asked[chain_of[j]]
            self._save(key, request.first_sample + len(stored), completion)
            self.counters.generated_tokens += completion.completion_tokens
            self.counters.served_tokens += sum(r[3] for r in stored)
            ask = serve(i, follow(i, _merge([*stored, *_rows(completion)])))
            if ask is not None:
                chain_of[j] = len(asked) - 1
            return ask

        self.inner.generate_chains(starts, store)

    def _load(self, key: str, first: int, n: int) -> list[tuple[str, str, int, int]]:
        """Samples first..first+n-1 as far as they are stored without a gap."""
        found = self._guard(
            lambda: self._db.execute(
                "SELECT idx, text, finish, prompt_tokens, tokens FROM generations "
                "WHERE request = ? AND idx >= ? AND idx < ? ORDER BY idx",
                (key, first, first + n),
            ).fetchall(),
        )
        rows = []
        for expected, (idx, *row) in enumerate(found, start=first):
            if idx != expected:
                break
            rows.append(tuple(row))
        return rows

    def _save(self, key: str, offset: int, completion: Completion) -> None:
        rows = [(key, offset + k, self.identity.key(), *row) for k, row in enumerate(_rows(completion))]

        def write() -> None:
            with self._db:  # one transaction: committed, or rolled back to retry
                self._db.executemany("INSERT OR REPLACE INTO generations VALUES (?, ?, ?, ?, ?, ?, ?)", rows)

        self._guard(write, rows)
        self._written.extend(rows)

    def _guard(self, work: Callable[[], T], pending: Sequence[tuple] = ()) -> T:
        """work() on the file; should the file fail (damaged, full), this run's rows go to a fresh cache."""
        try:
            return patiently(self.path, work)
        except sqlite3.DatabaseError as exc:
            raise CacheFailed(self._rescue(exc, [*self._written, *pending])) from None

    def _rescue(self, exc: sqlite3.DatabaseError, rows: Sequence[tuple]) -> str:
        failed = f"cache {self.path}: failed mid-run ({_short(exc)})"
        if not rows:
            return f"{failed}; this run had finished no generation, so nothing is lost"
        fresh = self.path.with_name(f"{self.path.stem}.rescued-{time.strftime('%Y%m%d-%H%M%S')}{self.path.suffix}")
        try:
            db = open_cache(fresh)
            with db:
                db.executemany("INSERT OR REPLACE INTO generations VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
            db.close()
        except (PromptkitError, sqlite3.Error, OSError) as again:
            return f"{failed}; the {len(rows)} generations this run finished could not be kept either ({again})"
        return (
            f"{failed}; the {len(rows)} generations this run finished are kept in {fresh}: "
            f"run again with --cache {fresh}"
        )


def _rows(completion: Completion) -> list[tuple[str, str, int, int]]:
    tokens = completion.sample_tokens or (0,) * len(completion.texts)
    return [(t, f, completion.prompt_tokens, k) for t, f, k in zip(completion.texts, completion.finish_reasons, tokens)]


def _score_of(row: tuple[str, str, int, int]) -> Score:
    data = json.loads(row[0])
    return Score(float(data["logprob"]), int(row[3]), bool(data["greedy"]))


def _merge(rows: Sequence[tuple[str, str, int, int]]) -> Completion:
    return Completion(
        texts=tuple(r[0] for r in rows),
        finish_reasons=tuple(r[1] for r in rows),  # type: ignore[misc]
        prompt_tokens=rows[0][2] if rows else 0,
        sample_tokens=tuple(r[3] for r in rows),
    )
