"""The one Jinja sandbox: templates, task files and specs may come from someone else.

Sandboxed (no reach into Python internals), strict about undefined variables, exact about
whitespace, and bounded: a render that grows past RENDER_CHARS or uses more than RENDER_SECONDS of CPU is
refused with one line naming it. Prompt templates (promptkit.stages.framework.templating) and task files'
record mappings (promptkit.tasks) both render through here.
"""

from __future__ import annotations

import ctypes
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import jinja2
import jinja2.meta
from jinja2.sandbox import ImmutableSandboxedEnvironment

from promptkit.errors import PromptkitError

RENDER_CHARS = 1_000_000
RENDER_SECONDS = 5.0


def environment(
    loader: jinja2.BaseLoader | None = None,
    *,
    globals: Mapping[str, Any] | None = None,
    filters: Mapping[str, Callable[..., Any]] | None = None,
) -> ImmutableSandboxedEnvironment:
    env = ImmutableSandboxedEnvironment(
        loader=loader,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,
        finalize=_printable,
    )
    env.globals.update(globals or {})
    env.filters.update(filters or {})
    return env


def _printable(value: Any) -> Any:
    """What `{{ ... }}` may print: text and numbers, not a Python repr of a list, mapping or None."""
    if value is None or isinstance(value, (list, tuple, dict, set)):
        raise PromptkitError(f"prints {'null' if value is None else type(value).__name__} where text belongs")
    return value


def parse(env: jinja2.Environment, source: str, name: str) -> jinja2.nodes.Template:
    """The syntax tree; a syntax error is one line naming `name` and the line."""
    try:
        return env.parse(source)
    except jinja2.TemplateSyntaxError as exc:
        raise PromptkitError(f"{name}:{exc.lineno}: Jinja syntax error: {exc.message}") from None


def compile_template(env: jinja2.Environment, source: str, name: str) -> jinja2.Template:
    """The compiled template; a syntax error or an unknown filter is one line naming `name`."""
    parse(env, source, name)
    try:
        return env.from_string(source)
    except jinja2.TemplateError as exc:
        raise PromptkitError(f"{name}: {exc}") from None


def undeclared(env: jinja2.Environment, source: str, name: str) -> set[str]:
    """The variables a template reads from its caller (not those it sets, not the environment's globals)."""
    return jinja2.meta.find_undeclared_variables(parse(env, source, name)) - set(env.globals)


def render(template: jinja2.Template, variables: Mapping[str, Any], name: str, watchdog: Watchdog | None = None) -> str:
    """The whole render, bounded in size and time; any template error is one line naming `name`. Many renders
    in a row (a task's records) share one `watchdog` instead of a timer thread each."""
    try:
        with watchdog.deadline(RENDER_SECONDS) if watchdog else _deadline(RENDER_SECONDS):
            return _bounded(template.generate(**variables))
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
    except PromptkitError as exc:
        raise PromptkitError(f"template {name!r}: {exc}") from None
    except (TypeError, ValueError, LookupError, AttributeError, ArithmeticError) as exc:
        # A template from someone else applied to data from someone else: a wrong type is their mistake.
        raise PromptkitError(f"template {name!r}: {type(exc).__name__}: {exc}") from None


def _bounded(chunks: Iterator[str]) -> str:
    """Join the render's pieces, refusing one that grows past RENDER_CHARS."""
    out: list[str] = []
    size = 0
    for chunk in chunks:
        size += len(chunk)
        if size > RENDER_CHARS:
            raise PromptkitError(f"the render passed {RENDER_CHARS:,} characters; refused")
        out.append(chunk)
    return "".join(out)


class _RenderTimeout(Exception):
    """Raised inside the rendering thread by its watchdog."""


def _cpu_clock(thread: int) -> Callable[[], float]:
    """The seconds of CPU that `thread` has used: a render is bounded by its own work, so a loaded machine that
    keeps it off the CPU (other processes, reclaimed pages) does not refuse it. Wall time where no per-thread
    clock exists."""
    getcpuclockid = getattr(time, "pthread_getcpuclockid", None)
    if getcpuclockid is None:
        return time.monotonic
    clock = getcpuclockid(thread)
    return lambda: time.clock_gettime(clock)


@contextmanager
def _deadline(seconds: float) -> Iterator[None]:
    """A render using more than `seconds` of CPU is stopped, in any thread, with no signal handler: a watchdog
    of its own."""
    with Watchdog() as watchdog, watchdog.deadline(seconds):
        yield


class Watchdog:
    """One thread bounding many renders in a row: each arms it with its deadline and disarms it when done, and
    one past its deadline is interrupted (CPython's PyThreadState_SetAsyncExc, delivered between bytecodes, as a
    signal would be; a thread per render costs more than the render of a short record template)."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._armed: tuple[int, Callable[[], float], float, int] | None = None  # (thread, clock, deadline, token)
        self._fired: int | None = None
        self._tokens = 0
        self._stopped = False
        self._thread = threading.Thread(target=self._watch, name="promptkit-render-watchdog", daemon=True)

    def __enter__(self) -> Watchdog:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        with self._cond:
            self._stopped = True
            self._cond.notify()
        self._thread.join()

    def _watch(self) -> None:
        with self._cond:
            while not self._stopped:
                if self._armed is None:
                    self._cond.wait()
                    continue
                thread, clock, deadline, token = self._armed
                left = deadline - clock()  # the render is armed, so its thread is alive while the lock is held
                if left > 0:
                    self._cond.wait(left)  # a thread's CPU clock runs no faster than the wall clock
                    continue
                self._armed, self._fired = None, token
                _async_raise(thread, _RenderTimeout)

    @contextmanager
    def deadline(self, seconds: float) -> Iterator[None]:
        thread = threading.get_ident()
        clock = _cpu_clock(thread)
        with self._cond:
            self._tokens += 1
            token = self._tokens
            self._armed = (thread, clock, clock() + seconds, token)
            self._cond.notify()
        try:
            yield
        except _RenderTimeout:
            raise PromptkitError(f"rendering took over {seconds:g} s of CPU; refused") from None
        finally:
            with self._cond:
                self._armed = None
                if self._fired == token:
                    _async_raise(thread, None)  # fired as the render ended: withdraw it if still pending
                self._fired = None


def _async_raise(thread: int, exc: type[BaseException] | None) -> None:
    ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread), ctypes.py_object(exc) if exc else None)
