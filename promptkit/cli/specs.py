"""From the command line's arguments to checked specs: flags are shorthand for spec fields, whose defaults apply."""

from __future__ import annotations

import argparse
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from promptkit.cli.parser import ENGINE_FLAGS
from promptkit.engines import default_cache_path
from promptkit.engines.engine_kinds import ENGINE_KINDS
from promptkit.errors import PromptkitError
from promptkit.runspec.files import read_spec_file, set_dotted, validate
from promptkit.runspec.load import check
from promptkit.runspec.methods import METHODS, stage_names
from promptkit.runspec.models import MethodSpec, PipelineSpec, RunSpec
from promptkit.runspec.read_policy import ReadPolicy
from promptkit.tasks import read_definition

# Flags whose destination is not the engine field of the same name.
_ENGINE_FLAG_FIELDS = {"path": "replay", "address": "ray_address"}
# Flags of the ray engine alone; its inner engine takes the other engine flags.
_RAY_FLAGS = ("inner", "replicas", "ray_address")


def engine_data(args: argparse.Namespace, base: dict[str, Any] | None = None) -> dict[str, Any]:
    """The engine part of a spec from flags, on top of a spec's own engine section; a flag applies where the
    engine kind has that field (for ray: its inner engine's, but for the ray flags)."""
    data = dict(base or {})
    kind = args.engine or data.get("kind")
    spec_model = ENGINE_KINDS.get(str(kind)).spec
    if data.get("kind") != kind:  # another kind: only the model carries over
        data = {"kind": kind, **({"model": data["model"]} if data.get("model") else {})}
    if kind == "ray":
        inner = dict(data["inner"]) if isinstance(data.get("inner"), dict) else {}
        if data.get("model"):
            inner.setdefault("model", data.pop("model"))
        inner_kind = getattr(args, "inner", None) or inner.get("kind") or "hf"
        inner_args = {**vars(args), "engine": inner_kind, **dict.fromkeys(_RAY_FLAGS)}
        data["inner"] = engine_data(argparse.Namespace(**inner_args), inner)
    else:
        given = [f"--{flag.replace('_', '-')}" for flag in _RAY_FLAGS if getattr(args, flag, None) is not None]
        if given:
            raise PromptkitError(f"{', '.join(given)}: only for --engine ray")
        _refuse_flags_not_taken(args, str(kind), spec_model.model_fields)
    for field in spec_model.model_fields:
        value = getattr(args, _ENGINE_FLAG_FIELDS.get(field, field), None)
        if field not in ("kind", "inner") and value is not None:
            data[field] = value
    if kind == "replay" and not data.get("path"):
        raise PromptkitError("the replay engine needs --replay FILE (a JSONL recording)")
    if kind == "openai" and not data.get("model"):
        raise PromptkitError("the openai engine needs --model (the name the server knows the model by)")
    return data


def _refuse_flags_not_taken(args: argparse.Namespace, kind: str, fields: Iterable[str]) -> None:
    """An engine flag the engine has no field for is a one-line error, as a method option is, never dropped."""
    taken = {_ENGINE_FLAG_FIELDS.get(field, field) for field in fields}
    extra = [d for d in ENGINE_FLAGS if d not in taken and d not in _RAY_FLAGS and getattr(args, d, None) is not None]
    if extra:
        flags = sorted(f"--{d.replace('_', '-')}" for d in ENGINE_FLAGS if d in taken)
        name = f"--{extra[0].replace('_', '-')}"
        raise PromptkitError(f"{name}: the {kind} engine does not take it (it takes: {', '.join(flags)})")


def method_data(args: argparse.Namespace, method: str, task: str) -> dict[str, Any]:
    """The method part of a spec: each flag given is the MethodSpec field of the same name."""
    METHODS.get(method)
    data: dict[str, Any] = {"name": method}
    for field in MethodSpec.model_fields:
        if field not in ("name", "templates", "max_tokens", "order_seed") and getattr(args, field, None) is not None:
            data[field] = getattr(args, field)
    if args.template:
        data["templates"] = template_overrides(args.template, method, task)
    return data


def template_overrides(values: Sequence[str], method: str, task: str) -> dict[str, str]:
    out = {}
    for value in values:
        stage, sep, path = value.rpartition("=")
        if not sep:
            names = stage_names(method, read_definition(task))
            if len(names) != 1:
                raise PromptkitError(
                    f"--template: {method} has several prompt stages ({', '.join(names)}); write STAGE=FILE"
                )
            stage, path = names[0], value
        out[stage] = path
    return out


def flags_spec(args: argparse.Namespace, task: str, method: str, engine: dict[str, Any] | None) -> RunSpec:
    """A spec from --task, --method and the flags; without an engine, a PipelineSpec (render)."""
    if args.limit is not None and args.limit < 1:
        raise PromptkitError(f"--limit must be >= 1, got {args.limit}")
    read_definition(task)
    data = {
        "task": {"name": task, "data": args.data, "limit": args.limit, "whole_set": args.whole_set},
        "method": method_data(args, method, task),
        "extractor": args.extractor,
        **({"engine": engine} if engine is not None else {}),
    }
    for assignment in getattr(args, "set", []):  # render's and compare's --set, as a spec file takes them
        set_dotted(data, assignment)
    # stage names and sample settings are checked (the method expanded, once) before any data loads
    return check(validate(data, "command line", RunSpec if engine is not None else PipelineSpec))


def file_spec(args: argparse.Namespace, path: str, with_engine: bool = True) -> RunSpec:
    data = read_spec_file(path)
    for assignment in args.set:
        set_dotted(data, assignment)
    return spec_from_data(args, data, path, with_engine)


def spec_from_data(
    args: argparse.Namespace, data: dict[str, Any], path: str, with_engine: bool = True, spec_file: str | None = None
) -> RunSpec:
    """A spec file's data with the command line's overrides, checked, its reads inside what it may read."""
    task = data.setdefault("task", {})
    if isinstance(task, dict):
        if args.data:
            task["data"] = args.data
        if args.limit is not None:
            task["limit"] = args.limit
        if getattr(args, "whole_set", False):
            task["whole_set"] = True
    if with_engine and isinstance(data.get("engine"), dict):
        data["engine"] = engine_data(args, data["engine"])
    policy = ReadPolicy.for_spec(spec_file or path, command_line_paths(args))
    return check(validate(data, path), policy=policy, api_key_env=getattr(args, "api_key_env", None))


def command_line_paths(args: argparse.Namespace) -> list[str]:
    """Paths the user named on the command line: a spec may read these besides its own folder."""
    given = [getattr(args, name, None) for name in ("data", "replay", "pool", "soft_prompt")]
    given += [value.rpartition("=")[2] for value in getattr(args, "template", [])]
    given += list(getattr(args, "allow_path", []) or [])
    for assignment in getattr(args, "set", []):  # a path set with --set is the user's own
        value = assignment.partition("=")[2].strip()
        given += [v.strip() for v in value.split(",") if v.strip() and Path(v.strip()).exists()]
    return [g for g in given if g]


def cache_path(args: argparse.Namespace, spec: RunSpec) -> Path | None:
    if args.no_cache:
        return None
    if args.cache:
        return Path(args.cache)
    # A recording costs nothing to read again, so replays are not cached unless asked.
    return None if spec.engine.kind == "replay" else default_cache_path()


def out_dir(args: argparse.Namespace, spec: RunSpec) -> Path:
    return (
        Path(args.out) if args.out else Path("runs") / f"{spec.task.name}-{spec.label}-{time.strftime('%Y%m%d-%H%M%S')}"
    )


def stamped(args: argparse.Namespace, kind: str) -> Path:
    """--out, else runs/KIND-TIME."""
    return Path(args.out) if args.out else Path("runs") / f"{kind}-{time.strftime('%Y%m%d-%H%M%S')}"
