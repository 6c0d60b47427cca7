"""An lm-eval task built by lm-eval itself, over local files or the dataset its YAML names.

lm-eval reads a task's data while it builds the task, so where the data lies is decided first. Local files
are given to lm-eval as its own YAML would take them: a task file that `include:`s the shipped one and sets
`dataset_path: json` (or csv, parquet) with `data_files` per split; the splits given no file are set to null,
so lm-eval never asks for them. `process_docs`, `!function` hooks and filters come from the shipped file.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from promptkit.errors import PromptkitError
from promptkit.tasks.lm_eval.facts import RUNS, LmEvalFacts
from promptkit.tasks.lm_eval.library import lm_eval, quiet

SPLITS = ("test_split", "validation_split", "training_split", "fewshot_split")
BUILDERS = {".jsonl": "json", ".json": "json", ".csv": "csv", ".parquet": "parquet"}
"""A data file's suffix -> the `datasets` builder that reads it."""


def config_of(yaml_path: Path) -> Any:
    """lm-eval's TaskConfig of a YAML file, includes merged, its hooks not imported: no data is read."""
    lm_eval()
    from lm_eval.config.task import TaskConfig
    from lm_eval.tasks._yaml_loader import load_yaml

    with quiet():
        raw = load_yaml(yaml_path, resolve_func=False)
        known = {k: v for k, v in raw.items() if k in TaskConfig.__dataclass_fields__}
        return TaskConfig(**known)


def facts_of(name: str, yaml_path: Path, config: Any, data_files: Mapping[str, str] | None) -> LmEvalFacts:
    """What promptkit keeps of a task's configuration (an lm-eval TaskConfig)."""
    if config.output_type not in RUNS:
        raise PromptkitError(
            f"lm-eval task {name!r} is a {config.output_type} task: promptkit runs multiple_choice and "
            "generate_until tasks"
        )
    gen = dict(config.generation_kwargs or {})
    filters = [f["name"] for f in config.filter_list or () if isinstance(f, Mapping)] or ["none"]
    metrics = [m["metric"] for m in config.metric_list or () if isinstance(m, Mapping) and "metric" in m]
    # Multiple choice: promptkit's accuracy is lm-eval's acc (the best option by log-likelihood is the gold one).
    metric = "acc" if config.output_type == "multiple_choice" else metrics[0] if metrics else "exact_match"
    return LmEvalFacts(
        task=name,
        yaml=str(yaml_path),
        output_type=config.output_type,
        num_fewshot=config.num_fewshot or 0,
        until=[str(u) for u in gen.get("until") or ()],
        max_gen_toks=int(gen.get("max_gen_toks") or 256),
        temperature=float(gen.get("temperature") or 0.0),
        filters=filters,
        metric=metric if isinstance(metric, str) else str(metric),
        data_files=dict(data_files) if data_files is not None else None,
        labels=fixed_labels(config.doc_to_choice),
    )


def fixed_labels(choices: Any) -> list[str] | None:
    """doc_to_choice written as a list of distinct words: options the same for every document, usable as labels."""
    if not isinstance(choices, list) or not 1 < len(choices) <= 26:
        return None
    words = [str(c) for c in choices]
    return words if len(set(words)) == len(words) and all(w.strip() == w and w for w in words) else None


def eval_split(config: Any) -> str | None:
    """The split lm-eval evaluates: test when the task has one, else validation."""
    return config.test_split or config.validation_split


def local_files(name: str, config: Any, data: Path) -> dict[str, str]:
    """--data as files per split: a folder holding SPLIT.jsonl (.json, .csv, .parquet) for the task's split names,
    or one file, evaluated."""
    wanted = {getattr(config, s) for s in SPLITS if getattr(config, s)}
    if data.is_file():
        split = eval_split(config)
        if split is None:
            raise PromptkitError(f"lm-eval task {name!r} names no test or validation split")
        return {split: str(data.resolve())}
    if not data.is_dir():
        raise PromptkitError(f"--data {data}: no such file or folder")
    found = {
        split: str(path.resolve())
        for split in sorted(wanted)
        for path in [next((data / f"{split}{s}" for s in BUILDERS if (data / f"{split}{s}").is_file()), None)]
        if path is not None
    }
    if not found:
        names = ", ".join(f"{s}.jsonl" for s in sorted(wanted))
        raise PromptkitError(f"--data {data}: holds none of lm-eval task {name!r}'s split files ({names})")
    return found


def check_files(name: str, config: Any, files: Mapping[str, str]) -> None:
    split = eval_split(config)
    if split not in files:
        raise PromptkitError(
            f"lm-eval task {name!r} evaluates its {split!r} split, and no file is given for it "
            f"(given: {', '.join(sorted(files)) or 'none'})"
        )
    builders = {BUILDERS.get(Path(f).suffix) for f in files.values()}
    if None in builders or len(builders) != 1:
        raise PromptkitError(
            f"lm-eval task {name!r}: its data files must all be one of {', '.join(BUILDERS)} "
            f"(given: {', '.join(sorted(Path(f).name for f in files.values()))})"
        )
    for split, file in files.items():
        if not Path(file).is_file():
            raise PromptkitError(f"lm-eval task {name!r}: {split} file {file} not found")


def built_task(facts: LmEvalFacts) -> Any:
    """lm-eval's Task object (its documents read), built once per process for the same files."""
    files = tuple(sorted((facts.data_files or {}).items()))
    stamps = tuple(Path(f).stat().st_mtime_ns for _, f in files)
    return _built(facts.task, facts.yaml, files, stamps)


@lru_cache(maxsize=8)
def _built(name: str, yaml_path: str, files: tuple[tuple[str, str], ...], _stamps: tuple[int, ...]) -> Any:
    from lm_eval.tasks import TaskManager

    wrapper: dict[str, Any] = {"include": yaml_path, "task": name}
    if files:
        given = dict(files)
        config = config_of(Path(yaml_path))
        wrapper |= {
            "dataset_path": BUILDERS[Path(files[0][1]).suffix],
            "dataset_name": None,
            "dataset_kwargs": {"data_files": given},
        }
        wrapper |= {s: None for s in SPLITS if getattr(config, s) and getattr(config, s) not in given}
    with tempfile.TemporaryDirectory(prefix="promptkit-lm-eval-") as folder, quiet():
        Path(folder, "task.yaml").write_text(yaml.safe_dump(wrapper), encoding="utf-8")
        try:
            loaded = TaskManager(include_path=folder, include_defaults=False).load(name)
            return loaded["tasks"][name]
        except Exception as exc:  # lm-eval and datasets raise many types; each means the task cannot be built
            raise PromptkitError(_cannot_build(name, yaml_path, bool(files), exc)) from None


def _cannot_build(name: str, yaml_path: str, local: bool, exc: Exception) -> str:
    reason = " ".join(str(exc).split())[:300] or type(exc).__name__
    if local:
        return f"lm-eval task {name!r} cannot be built over the files given: {reason}"
    config = config_of(Path(yaml_path))
    dataset = config.dataset_path + (f" ({config.dataset_name})" if config.dataset_name else "")
    splits = ", ".join(f"{getattr(config, s)} ({s.removesuffix('_split')})" for s in SPLITS if getattr(config, s))
    return (
        f"lm-eval task {name!r}: its dataset {dataset} cannot be read here ({reason}); it uses the splits {splits}: "
        f"point it at local files with --data FOLDER holding SPLIT.jsonl per split, or a task file with data_files "
        "(docs/lm_eval.md)"
    )
