"""Several OpenAI-compatible servers of one model as one engine: each call to the least busy server in
rotation; a server that fails (after its client's own retries) leaves the rotation for a while and the
call is made again on another; when none is left, the call fails with every server's last error.

One server is a fleet of one: its failure is the run's, as before.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from promptkit.errors import EngineUnavailable

T = TypeVar("T")

BENCH_SECONDS = 30.0
"""How long a server that failed stays out of rotation before it is tried again."""


@dataclass
class Server:
    url: str
    client: Any
    in_flight: int = 0
    moved: int = 0
    """Calls this server failed (or died holding) that were then made again on another."""
    benched_until: float = 0.0
    last_error: BaseException | None = field(default=None, repr=False)


class RequestFailed(Exception):
    """A call failed for a reason another server would not change (a 4xx, a bad answer): which server said so."""

    def __init__(self, url: str, error: Exception) -> None:
        super().__init__(f"{url}: {error}")
        self.url, self.error = url, error


class FleetDown(Exception):
    """No server is left in rotation; each one's last error is on its Server."""

    def __init__(self, servers: Sequence[Server]) -> None:
        super().__init__("every server failed")
        self.servers = list(servers)


def worth_another_server(error: BaseException) -> bool:
    """Failures of the server (unreachable, timed out, overloaded, 5xx), not of the request (4xx)."""
    import openai

    if isinstance(error, openai.APIConnectionError):  # timeouts included
        return True
    return isinstance(error, openai.APIStatusError) and (error.status_code >= 500 or error.status_code == 429)


class Fleet:
    def __init__(self, servers: Sequence[Server]) -> None:
        self.servers = list(servers)

    def pick(self) -> Server:
        now = time.monotonic()
        ready = [s for s in self.servers if s.benched_until <= now]
        if not ready:
            raise FleetDown(self.servers)
        return min(ready, key=lambda s: s.in_flight)

    async def call(self, work: Callable[[Any], Awaitable[T]]) -> T:
        """work(client) on the least busy server in rotation; on a server's failure, again on another."""
        while True:
            server = self.pick()
            server.in_flight += 1
            try:
                return await work(server.client)
            except Exception as exc:
                if not worth_another_server(exc):
                    raise RequestFailed(server.url, exc) from exc
                server.last_error = exc
                server.moved += 1
                server.benched_until = time.monotonic() + BENCH_SECONDS
            finally:
                server.in_flight -= 1

    async def check_model(self, model: str) -> None:
        """Before any work: every server must serve `model`, else a one-line error naming the odd one."""
        for server in self.servers:
            try:
                names = [m.id async for m in server.client.models.list()]
            except Exception as exc:
                raise EngineUnavailable(
                    f"server {server.url} did not list its models: {exc.__class__.__name__}: {_line(exc)}"
                ) from None
            if model not in names:
                raise EngineUnavailable(
                    f"server {server.url} serves {', '.join(map(repr, names)) or 'no model'}, not {model!r}: "
                    "every server of a fleet must serve the same model"
                )

    async def close(self) -> None:
        for server in self.servers:
            await server.client.close()


def _line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else ""
