"""Task files by name or path, and the tasks they load.

`--task svamp` finds promptkit/tasks/shipped/svamp.yaml; `--task path/to/mine.yaml` reads a user's.
A task file's relative paths (its data, exemplars, templates) are read inside its own folder only,
as a spec's are: a task file from someone else cannot read a private file into a prompt.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import replace
from functools import lru_cache
from pathlib import Path

from promptkit.errors import PromptkitError
from promptkit.files.paths import TEXT_LIMIT, FileKind
from promptkit.files.yaml_file import read_yaml_mapping
from promptkit.registry import unknown_name_message
from promptkit.schema import check_model
from promptkit.tasks.base import LeftOut, Task
from promptkit.tasks.definition import DataSource, GeneratedSource, HubSource, TaskDefinition
from promptkit.tasks.download import fetched_folder
from promptkit.tasks.examples import Mapped, Mapper, RecordRules
from promptkit.tasks.generators import generate_last_letters
from promptkit.tasks.lm_eval.convert import lm_eval_definition, load_lm_eval, load_lm_eval_pool, with_data
from promptkit.tasks.lm_eval.facts import PREFIX, is_lm_eval_name
from promptkit.tasks.lm_eval.task_file import KEY as LM_EVAL_KEY
from promptkit.tasks.lm_eval.task_file import read_lm_eval_file
from promptkit.tasks.records import FORMATS, Record, jsonl_records, read_file_records, read_hub_records

SHIPPED_DIR = Path(__file__).with_name("shipped")
SUFFIXES = (".yaml", ".yml")


def shipped_names() -> list[str]:
    return sorted(p.stem for p in SHIPPED_DIR.glob("*.yaml"))


def is_task_file(name: str) -> bool:
    return Path(name).suffix in SUFFIXES


def task_file(name: str) -> Path:
    """The file a --task value names: a shipped task's, or the path given."""
    if is_task_file(name):
        path = Path(name)
        if not path.is_file():
            raise PromptkitError(f"task file not found: {name}")
        return path
    path = SHIPPED_DIR / f"{name}.yaml"
    if not path.is_file():
        raise PromptkitError(unknown_name_message("task", name, shipped_names()) + "; or a task file (.yaml)")
    return path


TASK_FILE = FileKind("a YAML task file", TEXT_LIMIT, lambda path: read_definition(str(path)))
"""What --task names when it names a file: checked (size, encoding, YAML, schema, templates) before any work."""


def read_definition(name: str) -> TaskDefinition:
    if is_lm_eval_name(name):
        return lm_eval_definition(name.removeprefix(PREFIX))
    path = task_file(name).resolve()
    stat = path.stat()
    return _read(str(path), stat.st_mtime_ns, stat.st_size)


@lru_cache(maxsize=64)
def _read(path: str, _mtime: int, _size: int) -> TaskDefinition:
    data = read_yaml_mapping(path, "a task file is a YAML mapping with name, example, answer and prompts")
    if LM_EVAL_KEY in data:
        return read_lm_eval_file(data, Path(path))
    definition = _anchored(check_model(TaskDefinition, data, path), Path(path))
    Mapper(definition.example, definition.answer, path)  # its templates compile, or the file is named now
    for field in ("data", "train"):
        source = getattr(definition, field)
        if source is not None:
            RecordRules(source.keep, source.on_bad_answer, field).compiled(path)
    return definition


def _anchored(definition: TaskDefinition, path: Path) -> TaskDefinition:
    """Relative paths made absolute under the task file's folder, and refused outside it.

    Exemplars and least-to-most templates may instead name shipped ones (exemplars/gsm8k_cot.json,
    gsm8k/l2m_solve): those stay names when no such file lies beside the task file.
    """
    folder = path.parent

    def inside(relative: str, field: str) -> str:
        resolved = (folder / relative).resolve()
        if not resolved.is_relative_to(folder):
            raise PromptkitError(f"{path}: {field}: {relative} is outside the task file's folder; refused")
        return str(resolved)

    def file_or_name(value: str, field: str) -> str:
        as_path = Path(value)
        if as_path.is_absolute() or ".." in as_path.parts or (as_path.suffix and (folder / value).is_file()):
            return inside(value, field)
        return value

    update: dict[str, object] = {}
    for field in ("data", "train"):
        source = getattr(definition, field)
        if source is not None and source.file:
            update[field] = source.model_copy(update={"file": inside(source.file, f"{field}.file")})
    prompts = definition.prompts
    changes: dict[str, object] = {
        "least_to_most": {
            method: steps.model_copy(
                update={
                    "decompose": file_or_name(steps.decompose, f"prompts.least_to_most.{method}.decompose"),
                    "solve": file_or_name(steps.solve, f"prompts.least_to_most.{method}.solve"),
                }
            )
            for method, steps in prompts.least_to_most.items()
        }
    }
    if prompts.exemplars:
        changes["exemplars"] = file_or_name(prompts.exemplars, "prompts.exemplars")
    update["prompts"] = prompts.model_copy(update=changes)
    return definition.model_copy(update=update)


def _definition(task: str | TaskDefinition) -> TaskDefinition:
    return task if isinstance(task, TaskDefinition) else read_definition(task)


def load_task(
    task: str | TaskDefinition, data: str | Path | None = None, *, whole_set: bool = False, limit: int | None = None
) -> Task:
    """The task's examples: from `data` when given (any format it reads, or the folder holding the task's files),
    else from its own source (a folder it downloads, when it lists one); its standard subsample where it has one,
    unless `whole_set`. `limit`: the first N examples; a JSON Lines file is then read only as far as they go,
    where nothing about the task depends on the whole set (no subsample, no facts about every example)."""
    definition = _definition(task)
    if definition.lm_eval is not None:
        return load_lm_eval(with_data(definition, data) if data is not None else definition, limit)
    source = definition.data
    folder = None
    if data is None and source.in_folder and definition.download is not None:
        data = fetched_folder(definition)
    if data is not None and Path(data).is_dir() and source.in_folder:
        folder = Path(data)
    lines = _json_lines_file(definition, source, data, folder, whole_set)
    if limit is not None and lines is not None:
        whole = lambda: load_task(definition, data, whole_set=whole_set)  # noqa: E731
        return _first_examples(definition, lines, ("data", source), folder, limit, whole)
    if folder is not None:
        records, where = _records_in(folder, source, definition, "data")
    elif data is not None:
        records, where = _records_from(Path(data), source), str(data)
    else:
        records, where = _default_records(definition, source, "data")
    keep = None if whole_set or source.subsample is None else source.subsample.indices(len(records))
    return _task(definition, records, where, ("data", source), folder, keep).limit(limit)


def _json_lines_file(
    definition: TaskDefinition, source: DataSource, data: str | Path | None, folder: Path | None, whole_set: bool
) -> Path | None:
    """The JSON Lines file the task's examples come from, where its first records alone give its first examples."""
    if definition.facts or (source.subsample is not None and not whole_set):
        return None
    if folder is not None:
        path = folder / str(source.in_folder)
    elif data is not None:
        path = Path(data)
    elif source.file:
        path = Path(source.file)
    else:
        return None
    return path if path.suffix == ".jsonl" and path.is_file() and not _as_lines(path, source) else None


def _first_examples(
    definition: TaskDefinition,
    path: Path,
    source: tuple[str, DataSource],
    folder: Path | None,
    limit: int,
    whole: Callable[[], Task],
) -> Task:
    """The first `limit` examples, reading records in growing rounds until they are there (a keep test or
    on_bad_answer: skip may pass over some); records past them are not read, so neither checked nor counted."""
    wanted = max(2 * limit, 64)
    while True:
        records = list(itertools.islice(jsonl_records(path), wanted))
        mapped = _mapped(definition, records, source)
        ended = len(records) < wanted
        if ended or sum(e is not None for e in mapped.examples) >= limit:
            task = _task(definition, records, str(path), source, folder, mapped=mapped)
            return (task if ended else replace(task, load_whole=whole)).limit(limit)
        wanted *= 4


def _mapped(definition: TaskDefinition, records: list[Record], source: tuple[str, DataSource]) -> Mapped:
    """The records as examples, under the rules of `source` (its field, data or train; the source)."""
    field, data = source
    rules = RecordRules(data.keep, data.on_bad_answer, field)
    return Mapper(definition.example, definition.answer, f"task {definition.name}").examples(records, rules)


def load_train(task: str | TaskDefinition, folder: Path | None = None) -> Task:
    """The task's training data (demonstrations drawn from it); a one-line error when it has none. `folder`:
    where the task's data was found by name (its training file lies beside it)."""
    definition = _definition(task)
    if definition.lm_eval is not None:
        return load_lm_eval_pool(definition)
    train = definition.train
    if train is None:
        raise PromptkitError(f"task {definition.name!r} has no training data: give a pool (--pool FILE)")
    if train.in_folder and folder is not None:
        records, where = _records_in(folder, train, definition, "train")
    else:
        records, where = _default_records(definition, train, "train")
    keep = None
    if train.without_data_subsample and definition.data.subsample is not None:
        drawn = set(definition.data.subsample.indices(len(records)))
        keep = [i for i in range(len(records)) if i not in drawn]
    return _task(definition, records, where, ("train", train), folder, keep)


def generated_task(count: int = 500, words: int = 4, seed: int = 0) -> Task:
    """A generated last-letter set, read by the shipped last_letters task file."""
    definition = read_definition("last_letters")
    source = DataSource(generate=GeneratedSource(generator="last_letters", count=count, words=words, seed=seed))
    return load_task(definition.model_copy(update={"data": source}))


def _task(
    definition: TaskDefinition,
    records: list[Record],
    where: str,
    source: tuple[str, DataSource],
    folder: Path | None = None,
    keep: list[int] | None = None,
    *,
    mapped: Mapped | None = None,
) -> Task:
    """`source`: (its field, data or train; the source), whose rules say which records it takes. `keep`: the
    records taken, by position, in that order (a subsample); ids stay positions in the file. `mapped`: the
    records already made examples, where the caller has."""
    if not records:
        raise PromptkitError(f"{where}: no examples")
    mapped = _mapped(definition, records, source) if mapped is None else mapped
    positions = list(range(len(records))) if keep is None else keep
    examples = tuple(e for e in (mapped.examples[i] for i in positions) if e is not None)
    taken = set(positions)
    left_out = LeftOut(
        sum(i in taken for i in mapped.filtered), tuple(line for i, line in mapped.skipped if i in taken)
    )
    if not examples:
        raise PromptkitError(f"{where}: no examples" + (f" ({left_out.describe()})" if left_out else ""))
    facts = _facts(definition, examples)
    return Task(definition.name, examples, definition.answer.type, where, facts, mapped.rationales, definition,
                folder=folder, left_out=left_out)  # fmt: skip


def _records_from(path: Path, source: DataSource) -> list[Record]:
    """--data: a file, or a folder laid out like the task's hub copy (its split)."""
    if path.is_dir():
        return read_hub_records(HubSource(path=str(path), split=source.hub.split if source.hub else "test"))
    return read_file_records(path, source.records, lines=_as_lines(path, source))


def _as_lines(path: Path, source: DataSource) -> bool:
    """A task whose files are plain lines still reads a JSONL, JSON or CSV file given by --data (its generic form)."""
    return source.format == "lines" and path.suffix not in FORMATS


def _records_in(folder: Path, source: DataSource, definition: TaskDefinition, field: str) -> tuple[list[Record], str]:
    """The file a task names inside the folder --data gave (a dataset kept in its own layout)."""
    path = folder / str(source.in_folder)
    if not path.is_file():
        raise PromptkitError(
            f"task {definition.name!r}: {folder} holds no {source.in_folder} (its {field} file); "
            f"--data should be {definition.data.expects or 'the folder holding it'}"
        )
    return read_file_records(path, source.records, lines=_as_lines(path, source)), str(path)


def _default_records(definition: TaskDefinition, source: DataSource, field: str) -> tuple[list[Record], str]:
    if source.file:
        return read_file_records(source.file, source.records, lines=_as_lines(Path(source.file), source)), source.file
    if source.generate:
        g = source.generate
        rows = generate_last_letters(g.count, g.words, g.seed)["examples"]
        where = f"generated:words={g.words}:count={g.count}:seed={g.seed}"
        return [(f"{where}[{i}]", row) for i, row in enumerate(rows)], where
    if source.hub:
        h = source.hub
        return read_hub_records(h), f"{h.path}:{h.config}:{h.split}" if h.config else f"{h.path}:{h.split}"
    expects = source.expects or definition.data.expects
    if source.in_folder:
        raise PromptkitError(
            f"task {definition.name!r} reads its {field} from the folder --data names: give --data FOLDER"
            + (f" ({expects})" if expects else "")
        )
    raise PromptkitError(
        f"task {definition.name!r} has no {field} of its own: give --data FILE" + (f" ({expects})" if expects else "")
    )


def _facts(definition: TaskDefinition, examples: tuple) -> dict[str, int]:
    """{input: L} for each listed input that has length L in every example."""
    facts = {}
    for name in definition.facts:
        lengths = {len(e.inputs[name]) for e in examples if isinstance(e.inputs.get(name), (list, tuple))}
        if len(lengths) == 1:
            facts[name] = lengths.pop()
    return facts
