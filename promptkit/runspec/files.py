"""Reading specs: YAML syntax errors name the file and line; schema errors name the dotted path."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from promptkit.errors import PromptkitError
from promptkit.files.paths import TEXT_LIMIT, FileKind
from promptkit.files.yaml_file import read_yaml_mapping
from promptkit.runspec.models import PipelineSpec, RunSpec
from promptkit.schema import check_model
from promptkit.stages.stage_kinds import STAGE_KINDS
from promptkit.tasks import is_task_file


def read_yaml(path: str | Path) -> dict[str, Any]:
    if not Path(path).is_file():
        raise PromptkitError(f"spec file not found: {path}")
    return read_yaml_mapping(path, "a spec is a YAML mapping with 'task', 'engine' and 'method' or 'pipeline'")


SPEC_FILE = FileKind("a YAML spec", TEXT_LIMIT, read_yaml)
"""What a spec file on the command line must be, checked before any work."""


def read_spec_file(path: str | Path) -> dict[str, Any]:
    """A spec file's data, its relative paths taken from the spec's own folder (not the working directory)."""
    data = read_yaml(path)
    anchor_paths(data, Path(path).resolve().parent)
    return data


def anchor_paths(data: dict[str, Any], folder: Path) -> None:
    """Make the relative file paths of spec data absolute under `folder`; other values are left alone."""

    def anchored(value: Any, is_template: bool = False) -> Any:
        if not isinstance(value, str) or not value or Path(value).is_absolute():
            return value
        if is_template and not (Path(value).suffix and (folder / value).is_file()):
            return value  # a template name (shipped, or in template_dirs), not a file beside the spec
        return str(folder / value)

    task = data.get("task")
    if isinstance(task, dict) and "data" in task:
        task["data"] = anchored(task["data"])
    if isinstance(task, dict) and isinstance(task.get("name"), str) and is_task_file(task["name"]):
        task["name"] = anchored(task["name"])
    engine = data.get("engine")
    if isinstance(engine, dict) and engine.get("kind") == "replay" and "path" in engine:
        engine["path"] = anchored(engine["path"])
    if isinstance(data.get("template_dirs"), list):
        data["template_dirs"] = [anchored(d) for d in data["template_dirs"]]
    method = data.get("method")
    if isinstance(method, dict):
        if "pool" in method:
            method["pool"] = anchored(method["pool"])
        if isinstance(method.get("templates"), dict):
            method["templates"] = {k: anchored(v, True) for k, v in method["templates"].items()}
    for stage in data.get("pipeline") or [] if isinstance(data.get("pipeline"), list) else []:
        kind = STAGE_KINDS.get(stage["kind"]) if isinstance(stage, dict) and stage.get("kind") in STAGE_KINDS else None
        if kind is None:
            continue  # the schema will name what is wrong with it
        for field in kind.files:
            _update_dotted(stage, field, anchored)
        for field in kind.templates:
            _update_dotted(stage, field, lambda value: anchored(value, True))


def _update_dotted(data: dict[str, Any], dotted: str, change: Any) -> None:
    """data[a][b] = change(data[a][b]) for 'a.b', where that path exists."""
    *parents, last = dotted.split(".")
    for part in parents:
        data = data.get(part)  # type: ignore[assignment]
        if not isinstance(data, dict):
            return
    if last in data:
        data[last] = change(data[last])


def set_dotted(data: dict[str, Any], assignment: str) -> None:
    """Apply 'a.b.0.c=value'; the value is read as YAML, so numbers, booleans and lists keep their type."""
    if "=" not in assignment:
        raise PromptkitError(f"--set expects dotted.key=value, got {assignment!r}")
    key, raw = assignment.split("=", 1)
    parts = key.strip().split(".")
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError:
        value = raw
    node: Any = data
    for part in parts[:-1]:
        node = _child(node, part, key)
    last = parts[-1]
    if isinstance(node, list):
        index = _index(node, last, key)
        node[index] = value
    elif isinstance(node, dict):
        node[last] = value
    else:
        raise PromptkitError(f"--set {key}: {'.'.join(parts[:-1])} is not a mapping or a list")


def _child(node: Any, part: str, key: str) -> Any:
    if isinstance(node, list):
        return node[_index(node, part, key)]
    if isinstance(node, dict):
        if part not in node or node[part] is None:
            node[part] = {}
        return node[part]
    raise PromptkitError(f"--set {key}: cannot go into {part!r}")


def _index(node: list, part: str, key: str) -> int:
    if not part.isdigit() or int(part) >= len(node):
        raise PromptkitError(f"--set {key}: {part!r} is not an index of a list of {len(node)}")
    return int(part)


def validate(data: Mapping[str, Any], source: str, model: type[PipelineSpec] = RunSpec) -> Any:
    """`data` as a checked spec (a RunSpec unless `model` says otherwise); errors name the dotted field."""
    return check_model(model, data, source)
