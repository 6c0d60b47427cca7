"""The one Jinja environment: sandboxed, strict about undefined variables, exact about whitespace."""

from __future__ import annotations

import ctypes
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2
import jinja2.meta
from jinja2.sandbox import ImmutableSandboxedEnvironment

from promptkit.errors import PromptkitError
from promptkit.files.jsonl import read_text
from promptkit.files.paths import TEXT_LIMIT, FileKind

_PACKAGE_DIR = Path(__file__).resolve().parents[1]  # promptkit/


def templates_dir() -> Path:
    """Shipped templates: inside the package in a wheel, at the repository root in a checkout."""
    for candidate in (_PACKAGE_DIR / "templates", _PACKAGE_DIR.parent / "templates"):
        if candidate.is_dir():
            return candidate
    raise RuntimeError("promptkit's templates folder is missing from this installation")


class Templates:
    """Renders templates by name (shipped) or by path (user file); a user dir shadows shipped ones."""

    def __init__(self, user_dirs: tuple[Path, ...] = ()) -> None:
        loader = jinja2.FileSystemLoader([str(d) for d in (*user_dirs, templates_dir())])
        # Sandboxed: a spec from elsewhere cannot reach Python internals through a template.
        self.env = ImmutableSandboxedEnvironment(
            loader=loader,
            undefined=jinja2.StrictUndefined,
            keep_trailing_newline=True,
            autoescape=False,
        )

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
        """The variables a template reads from its caller (not those it sets, not the environment's globals)."""
        path = Path(name)
        if path.suffix and path.is_file():
            source = read_text(path)
        else:
            source = self.env.loader.get_source(self.env, self.get(name).name)[0]  # type: ignore[union-attr]
        found = jinja2.meta.find_undeclared_variables(_parse(self.env, source, name))
        return tuple(sorted(found - set(self.env.globals)))

    def render(self, name: str, variables: Mapping[str, Any]) -> str:
        template = self.get(name)
        try:
            with _deadline(RENDER_SECONDS, name):
                return _bounded(template.generate(**variables), name)
        except jinja2.UndefinedError as exc:
            raise PromptkitError(
                f"template {name!r}: {exc.message} (variables given: {', '.join(sorted(variables))})"
            ) from None
        except jinja2.exceptions.SecurityError as exc:
            raise PromptkitError(f"template {name!r}: unsafe operation refused by the sandbox: {exc}") from None
        except jinja2.TemplateNotFound as exc:
            raise PromptkitError(
                f"template {name!r}: includes {exc.name!r}, which is not found in the template folders"
            ) from None
        except jinja2.TemplateError as exc:
            raise PromptkitError(f"template {name!r}: {exc}") from None


def _parse(env: jinja2.Environment, source: str, name: str) -> jinja2.nodes.Template:
    try:
        return env.parse(source)
    except jinja2.TemplateSyntaxError as exc:
        raise PromptkitError(f"{name}:{exc.lineno}: Jinja syntax error: {exc.message}") from None


def parse_template_file(path: str | Path) -> jinja2.nodes.Template:
    """A template file's syntax tree; bytes that are not UTF-8 or a syntax error name the file and line."""
    return _parse(default_templates().env, read_text(path), str(path))


TEMPLATE_FILE = FileKind("a Jinja template", TEXT_LIMIT, parse_template_file)
"""What --template names: checked for size, encoding and syntax before any work."""

RENDER_CHARS = 1_000_000
RENDER_SECONDS = 5.0


def _bounded(chunks: Iterator[str], name: str) -> str:
    """Join the render's pieces, refusing one that grows past RENDER_CHARS."""
    out: list[str] = []
    size = 0
    for chunk in chunks:
        size += len(chunk)
        if size > RENDER_CHARS:
            raise PromptkitError(f"template {name!r}: the render passed {RENDER_CHARS:,} characters; refused")
        out.append(chunk)
    return "".join(out)


class _RenderTimeout(Exception):
    """Raised inside the rendering thread by its watchdog."""


@contextmanager
def _deadline(seconds: float, name: str) -> Iterator[None]:
    """A render slower than `seconds` is stopped, in any thread, with no signal handler.

    A watchdog timer raises _RenderTimeout in the rendering thread (CPython's PyThreadState_SetAsyncExc,
    delivered between bytecodes, as a signal would be); a lock keeps it from landing after the render.
    """
    thread = threading.get_ident()
    lock = threading.Lock()
    state = {"done": False, "fired": False}

    def expire() -> None:
        with lock:
            if not state["done"]:
                state["fired"] = True
                _async_raise(thread, _RenderTimeout)

    timer = threading.Timer(seconds, expire)
    timer.daemon = True
    timer.start()
    try:
        yield
    except _RenderTimeout:
        raise PromptkitError(f"template {name!r}: rendering took over {seconds:g} s; refused") from None
    finally:
        with lock:
            state["done"] = True
            if state["fired"]:
                _async_raise(thread, None)  # fired as the render ended: withdraw it if still pending
        timer.cancel()


def _async_raise(thread: int, exc: type[BaseException] | None) -> None:
    ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread), ctypes.py_object(exc) if exc else None)


@lru_cache(maxsize=1)
def default_templates() -> Templates:
    return Templates()
