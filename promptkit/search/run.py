"""`promptkit tune --method demo_search | bootstrap | instruction_search`: search the prompt under a budget of
engine calls and write what was chosen as a run spec (best.yaml) that `promptkit run` evaluates, with the
log of every candidate beside it."""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import yaml

from promptkit.engines.base import Engine
from promptkit.errors import PromptkitError
from promptkit.files.atomic import write_text_atomic
from promptkit.runs.build import run_spec
from promptkit.runs.spread import spread_stats
from promptkit.runspec.files import read_spec_file, validate
from promptkit.runspec.models import RunSpec
from promptkit.search.bootstrap import bootstrap
from promptkit.search.budget import Ledger
from promptkit.search.candidate import Candidate
from promptkit.search.data import SearchData, search_data
from promptkit.search.demos import draw_candidates, search_demos
from promptkit.search.instructions import search_instructions, searched_word
from promptkit.search.log import SearchLog, log_path
from promptkit.search.scoring import Scorer
from promptkit.search.settings import SearchSettings
from promptkit.stages.library.demo_pools import definition_of, pool_id
from promptkit.tasks import Task

HEADER = "# search: "
"""The line of best.yaml that records the search, as JSON (read_search_header reads it back)."""


@dataclass(frozen=True)
class SearchResult:
    spec: Path
    log: Path
    best: Candidate
    score: float
    """The best candidate's development accuracy (its GlobalE or LocalE with those criteria)."""
    header: dict[str, Any]
    replayed: int
    """Pieces of work read back from the log of a run this one resumed."""


def is_classification(task: Task) -> bool:
    return bool(task.labels) and definition_of(task).prompts.classification is not None


def default_base(task: Task, method: str) -> str:
    if is_classification(task):
        return "classify"
    return "zero_shot_cot" if method == "instruction_search" else "few_shot_cot"


def method_data(task: Task, settings: SearchSettings, base: str, pool: str | None) -> dict[str, Any]:
    """The searched method's spec data before a candidate's changes."""
    data: dict[str, Any] = {"name": base}
    if base not in ("classify", "few_shot", "few_shot_cot") and settings.method != "instruction_search":
        raise PromptkitError(
            f"{settings.method} searches demonstrations: classify, few_shot or few_shot_cot, not {base}"
        )
    if settings.method == "instruction_search":
        searched_word(base)  # a method without an instruction is refused here, before any call
        if base != "zero_shot_cot":
            data["shots"] = settings.shots  # classify's are drawn from the pool once the split is made
    if settings.criterion != "dev" and base != "classify":
        raise PromptkitError(f"--criterion {settings.criterion}: entropy over class probabilities is classify's")
    if settings.calibrate:
        if base != "classify":
            raise PromptkitError(f"--calibrate: calibration is classify's (the searched method is {base})")
        data["calibrate"] = "content_free"
    if pool and base != "zero_shot_cot" and settings.method != "bootstrap":
        data["pool"] = pool
    return data


def demos_path(spec: Path) -> Path:
    """best.yaml -> best.demos.json: the bootstrapped demonstrations."""
    return spec.with_name(spec.stem + ".demos.json")


def search(
    task: Task,
    engine: Engine,
    settings: SearchSettings,
    out: str | Path,
    *,
    task_spec: dict[str, Any],
    engine_spec: dict[str, Any],
    pool: str | None = None,
    teacher: Engine | None = None,
    proposer: Engine | None = None,
    progress: bool = True,
) -> SearchResult:
    """Search `task`'s prompt on `engine` and write the chosen run spec to `out` (never over an existing file).
    Development examples come from the training pool only; run the same call again after a kill and the log
    beside `out` replays the finished work. `task_spec` and `engine_spec` are what the spec will run."""
    out = Path(out)
    if out.exists():
        raise PromptkitError(f"{out}: exists; give another --out (a chosen prompt is never overwritten)")
    base = settings.base or default_base(task, settings.method)
    method = method_data(task, settings, base, pool)
    data = search_data(task, settings.dev, settings.seed, pool)
    if settings.method == "instruction_search" and base == "classify" and settings.shots:
        # One draw from the pool (never a development example), the same for every instruction.
        ids, labels = _pool_ids(data), [str(e.target) for e in data.pool.examples]
        drawn = draw_candidates(ids, labels, settings.shots, 1, settings.seed, balanced=settings.balanced)[0]
        method = {**{k: v for k, v in method.items() if k != "shots"}, "demos": list(drawn.demos or ())}
    header = _header(task, engine, settings, base, data, teacher, proposer)
    log = SearchLog(log_path(out), header)
    ledger = Ledger.open(settings.budget, progress, f"tune {settings.method}")
    scorer = Scorer(data.dev, method, engine, ledger, log)
    started = time.monotonic()
    try:
        ranked, scorer = _ranked(scorer, data, settings, out, teacher or engine, proposer)
    finally:
        ledger.close()
    best, entry = ranked[0]
    measure = settings.criterion if settings.method == "demo_search" else "dev"
    score = float(entry[measure] if measure != "dev" else entry["score"])
    record = {
        "method": settings.method, "searched": base, "seed": settings.seed, "budget": settings.budget,
        **ledger.totals(), "minutes": round((time.monotonic() - started) / 60, 2),
        "criterion": measure, "score": score, "dev_examples": entry["examples"] if measure == "dev" else 0,
        "candidates": len({e["candidate"] for e in log.entries() if "candidate" in e}), "origin": best.origin,
    }  # fmt: skip
    spec_data = {
        "task": _relative_task(task_spec, out.parent),
        "engine": engine_spec,
        "name": f"{base} ({settings.method})",
        **({"words": dict(best.words)} if best.words else {}),
        "method": _relative_method({**scorer.method, **best.method_options()}, out.parent),
    }
    _write_spec(out, spec_data, record)
    return SearchResult(out, log.path, best, score, record, log.replayed)


def _ranked(
    scorer: Scorer, data: SearchData, settings: SearchSettings, out: Path, teacher: Engine, proposer: Engine | None
) -> tuple[list[tuple[Candidate, dict[str, Any]]], Scorer]:
    """The method's candidates, best first, and the scorer they were scored by (bootstrap's names its pool)."""
    if settings.method == "instruction_search":
        return search_instructions(scorer, data.dev, data.pool, settings, proposer), scorer
    if settings.method == "bootstrap":
        ids = bootstrap(scorer, data.pool, settings.bootstrap, settings.seed, teacher, demos_path(out))
        scorer = replace(scorer, method={**scorer.method, "pool": str(demos_path(out).resolve())})
        return search_demos(scorer, data.dev, settings, ids, None), scorer
    labels = [str(e.target) for e in data.pool.examples]
    return search_demos(scorer, data.dev, settings, _pool_ids(data), labels), scorer


def _pool_ids(data: SearchData) -> list[str]:
    return [pool_id(e.id) for e in data.pool.examples]


def _header(task, engine, settings, base, data: SearchData, teacher, proposer) -> dict[str, Any]:
    others = [f"{e.identity.kind}:{e.identity.model}" for e in (teacher, proposer) if e is not None]
    # The engines' whole identities (the weights' revision too): a log is never replayed for another model.
    keys = [e.identity.key() for e in (engine, teacher, proposer) if e is not None]
    on = [task.name, base, *keys]
    on += [f"dev:{','.join(e.id for e in data.dev.examples)}", f"pool:{len(data.pool.examples)}", data.pool.source]
    return {
        "digest": settings.digest(*on), "task": task.name, "searched": base, "engine": engine.identity.kind,
        "model": engine.identity.model, "settings": asdict(settings), "dev": [e.id for e in data.dev.examples],
        "teacher": others[0] if teacher is not None else None,
    }  # fmt: skip


def _relative(path: str, folder: Path) -> str:
    return os.path.relpath(Path(path).resolve(), folder.resolve())


def _relative_task(task_spec: dict[str, Any], folder: Path) -> dict[str, Any]:
    out = dict(task_spec)
    if out.get("data"):
        out["data"] = _relative(out["data"], folder)
    if str(out.get("name", "")).endswith((".yaml", ".yml")):
        out["name"] = _relative(out["name"], folder)
    return out


def _relative_method(method: dict[str, Any], folder: Path) -> dict[str, Any]:
    return {**method, "pool": _relative(method["pool"], folder)} if method.get("pool") else method


def _write_spec(out: Path, data: dict[str, Any], record: dict[str, Any]) -> None:
    lines = [
        f"# Chosen by promptkit tune --method {record['method']} ({record['searched']}): `promptkit run` this file",
        "# (paths outside its folder: name them on the command line, --data DATA or --allow-path PATH).",
        f"# Every candidate and its score: {log_path(out).name}",
        HEADER + json.dumps(record, ensure_ascii=False),
    ]
    validate(json.loads(json.dumps(data)), str(out))  # what is written runs
    body = yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=1000)
    write_text_atomic(out, "\n".join(lines) + "\n" + body)


def read_search_header(spec: str | Path) -> dict[str, Any]:
    """The search record best.yaml's header holds."""
    for line in Path(spec).read_text(encoding="utf-8").splitlines():
        if line.startswith(HEADER):
            return dict(json.loads(line[len(HEADER) :]))
    raise PromptkitError(f"{spec}: no '{HEADER.strip()}' line: not a spec written by promptkit tune")


@dataclass(frozen=True)
class SeedsResult:
    searches: list[SearchResult]
    stats: dict[str, Any]
    """Test accuracy over the searches: spread_stats's mean, std, min and max (spread.json)."""
    folder: Path


def search_seeds(
    task: Task, engine: Engine, settings: SearchSettings, out: str | Path, seeds: int, **kwargs: Any
) -> SeedsResult:
    """The whole search `seeds` times (seeds seed, seed + 1, ...), each chosen spec run on the test set."""
    out = Path(out)
    folder = out.with_name(out.stem + ".seeds")
    runs, searches = [], []
    for k in range(seeds):
        seed = settings.seed + k
        spec_path = out.with_name(f"{out.stem}.seed{seed}{out.suffix}")
        result = search(task, engine, replace(settings, seed=seed), spec_path, **kwargs)
        spec: RunSpec = validate(read_spec_file(spec_path), str(spec_path))
        test = run_spec(spec, engine, folder / f"seed-{seed}", progress=kwargs.get("progress", True))
        runs.append((f"seed-{seed}", test.rows, test.summary))
        searches.append(result)
    stats = spread_stats(runs, seeds=seeds)
    stats["search"] = [s.header for s in searches]
    write_text_atomic(folder / "spread.json", json.dumps(stats, indent=1) + "\n")
    return SeedsResult(searches, stats, folder)
