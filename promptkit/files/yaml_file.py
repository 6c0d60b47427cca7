"""Reading YAML someone else wrote: syntax errors name the file and line; a repeated key is an error."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from promptkit.errors import PromptkitError
from promptkit.files.jsonl import read_text


class _UniqueKeyLoader(yaml.SafeLoader):
    """YAML where a key given twice in one mapping is an error, not a silent override."""


def _unique_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key!r}", key_node.start_mark)
        seen.add(key)
    return loader.construct_mapping(node, deep=deep)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _unique_mapping)


def read_yaml_mapping(path: str | Path, what: str) -> dict[str, Any]:
    """The file's top-level mapping; `what` says what it should be when it is not one."""
    path = Path(path)
    if not path.is_file():
        raise PromptkitError(f"file not found: {path}")
    text = read_text(path)
    try:
        data = yaml.load(text, Loader=_UniqueKeyLoader)
    except RecursionError:
        raise PromptkitError(f"{path}: YAML nested too deeply") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise PromptkitError(f"{where}: YAML syntax error: {problem}") from None
    if not isinstance(data, dict):
        raise PromptkitError(f"{path}: {what}")
    return data
