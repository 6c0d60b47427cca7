"""Prompt templates by name (shipped, or a user's folder) or by path, rendered in the one sandbox."""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2

from promptkit import jinja_env
from promptkit.errors import PromptkitError
from promptkit.files.jsonl import read_text
from promptkit.files.paths import TEXT_LIMIT, FileKind
from promptkit.tasks.definition import Prompts

_PACKAGE_DIR = Path(__file__).resolve().parents[2]  # promptkit/


def templates_dir() -> Path:
    """Shipped templates: inside the package in a wheel, at the repository root in a checkout."""
    for candidate in (_PACKAGE_DIR / "templates", _PACKAGE_DIR.parent / "templates"):
        if candidate.is_dir():
            return candidate
    raise RuntimeError("promptkit's templates folder is missing from this installation")


class Templates:
    """Renders templates by name (shipped) or by path (user file); a user dir shadows shipped ones.

    `words` are variables every template sees besides the example's: a task's answer prefix and
    trigger (promptkit.tasks.TaskWords), so one template serves every task.
    """

    def __init__(self, user_dirs: tuple[Path, ...] = (), words: Mapping[str, str] | None = None) -> None:
        loader = jinja2.FileSystemLoader([str(d) for d in (*user_dirs, templates_dir())])
        self.env = jinja_env.environment(loader, globals={**Prompts.default_words(), **(words or {})})

    def get(self, name: str) -> jinja2.Template:
        path = Path(name)
        try:
            if path.suffix and path.is_file():
                return self.env.from_string(read_text(path), globals={"__name__": str(path)})
            return self.env.get_template(name if name.endswith(".j2") else f"{name}.j2")
        except jinja2.TemplateNotFound as exc:
            raise PromptkitError(f"template {name!r} not found (looked for {exc.name!r})") from None
        except jinja2.TemplateSyntaxError as exc:
            raise PromptkitError(f"template {exc.filename or name}:{exc.lineno}: {exc.message}") from None

    def variables(self, name: str) -> tuple[str, ...]:
        """The variables a template reads from its caller (not those it sets, not the task's words)."""
        path = Path(name)
        if path.suffix and path.is_file():
            source = read_text(path)
        else:
            source = self.env.loader.get_source(self.env, self.get(name).name)[0]  # type: ignore[arg-type, union-attr]
        return tuple(sorted(jinja_env.undeclared(self.env, source, name)))

    def render(self, name: str, variables: Mapping[str, Any]) -> str:
        return jinja_env.render(self.get(name), variables, name)


def parse_template_file(path: str | Path) -> jinja2.nodes.Template:
    """A template file's syntax tree; bytes that are not UTF-8 or a syntax error name the file and line."""
    return jinja_env.parse(default_templates().env, read_text(path), str(path))


TEMPLATE_FILE = FileKind("a Jinja template", TEXT_LIMIT, parse_template_file)
"""What --template names: checked for size, encoding and syntax before any work."""


@lru_cache(maxsize=1)
def default_templates() -> Templates:
    return Templates()
