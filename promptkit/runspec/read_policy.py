"""A spec from someone else is untrusted input: what it may read, and which secret it may send.

A spec file reads only from its own folder, the shipped templates and the paths given on the
command line (flags, --set values, --allow-path). That closes the route by which a spec could
render a private file into a prompt and send it to a server it names. Its API key variable must
look like one (end in _API_KEY) unless the command line names it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from promptkit.errors import PromptkitError
from promptkit.runspec.models import RunSpec
from promptkit.stages.framework.templating import templates_dir
from promptkit.stages.stage_kinds import STAGE_KINDS
from promptkit.tasks import is_task_file


@dataclass(frozen=True)
class ReadPolicy:
    source: str
    """The spec file, for messages."""
    roots: tuple[Path, ...]

    @classmethod
    def for_spec(cls, spec_path: str | Path, given: Iterable[str | Path | None]) -> ReadPolicy:
        roots = [Path(spec_path).resolve().parent, templates_dir().resolve()]
        roots += [Path(p).resolve() for p in given if p]
        return cls(str(spec_path), tuple(roots))

    def allows(self, path: str | Path) -> bool:
        resolved = Path(path).resolve()
        return any(resolved == root or resolved.is_relative_to(root) for root in self.roots)

    def check(self, path: str | Path, field: str) -> None:
        if not self.allows(path):
            raise PromptkitError(
                f"{self.source}: {field}: {path} is outside the spec's folder and the paths given on the command "
                "line; refused (name it on the command line, e.g. --allow-path, to read it)"
            )


def _stage_refs(spec: RunSpec) -> Iterator[tuple[str, str, bool]]:
    """(field, value, is a template) for every path field each stage kind declares."""
    for i, stage in enumerate(spec.pipeline or []):
        kind = STAGE_KINDS.get(stage.kind)
        for field, is_template in [*((f, False) for f in kind.files), *((f, True) for f in kind.templates)]:
            value: object = stage
            for part in field.split("."):
                value = getattr(value, part, None)
            if isinstance(value, str) and value:
                yield f"pipeline.{i}.{field}", value, is_template


def check_spec(spec: RunSpec, policy: ReadPolicy, api_key_env: str | None = None) -> None:
    """Every path the (expanded) spec reads lies inside the policy's roots; its API key variable is allowed."""
    if spec.task.data:
        policy.check(spec.task.data, "task.data")
    if is_task_file(spec.task.name):
        policy.check(spec.task.name, "task.name")
    if spec.engine.kind == "replay":
        policy.check(spec.engine.path, "engine.path")
    for field, engine in (("engine", spec.engine), ("engine.inner", getattr(spec.engine, "inner", None))):
        if getattr(engine, "soft_prompt", None):
            policy.check(engine.soft_prompt, f"{field}.soft_prompt")  # type: ignore[union-attr]
    for i, folder in enumerate(spec.template_dirs):
        policy.check(folder, f"template_dirs.{i}")
    for field, value, is_template in _stage_refs(spec):
        path = Path(value)
        # A template is a name (shipped, or in template_dirs) unless it looks like a file path.
        if not is_template or (path.suffix and (path.is_file() or path.is_absolute() or ".." in path.parts)):
            policy.check(path, field)
    if spec.engine.kind == "openai":
        name = spec.engine.api_key_env
        if name != api_key_env and not name.endswith("_API_KEY"):
            raise PromptkitError(
                f"{policy.source}: engine.api_key_env: {name!r} does not end in _API_KEY; name the variable on the "
                "command line (--api-key-env) to send it"
            )
