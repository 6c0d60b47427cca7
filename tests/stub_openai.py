"""A stub OpenAI-compatible server on loopback: scripted failures, a record of what it was sent."""

from __future__ import annotations

import http.server
import json
import socket
import threading
import time


class _Flaky(http.server.BaseHTTPRequestHandler):
    """Answers with the statuses in `script` before good completions; remembers what it was sent.

    Each test gets its own subclass holding its own `script` and `seen` lists.
    """

    script: list[int | str]
    seen: list[dict]
    models: list[str]
    delay: float
    """Seconds each request is held before its answer (0: at once)."""
    active: int
    peak: int
    """Requests in flight now, and the most at once."""
    lock: threading.Lock

    def do_GET(self):
        """/v1/models: the names in `models`."""
        payload = {
            "object": "list",
            "data": [{"id": m, "object": "model", "created": 0, "owned_by": "x"} for m in self.models],
        }
        self._send(200, payload)

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).seen.append({"body": body, "auth": self.headers.get("Authorization")})
        cls = type(self)
        with cls.lock:  # requests in flight now, and the most ever
            cls.active += 1
            cls.peak = max(cls.peak, cls.active)
        try:
            time.sleep(cls.delay)
            self._answer(body)
        finally:
            with cls.lock:
                cls.active -= 1

    def _answer(self, body: dict) -> None:
        status = type(self).script.pop(0) if type(self).script else 200
        if status == "drop":  # dies holding the request: the connection closes with no answer
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        if status == "slow":  # longer than the client's timeout, then a good answer nobody waits for
            time.sleep(5)
            status = 200
        payload = {"error": {"message": "busy"}} if status != 200 else {
            "id": "x", "object": "text_completion", "created": 0, "model": body["model"],
            "choices": [{"index": i, "text": f" sample {i}", "finish_reason": "stop"} for i in range(body.get("n", 1))],
            "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5},
        }  # fmt: skip
        self._send(status, payload)

    def _send(self, status: int, payload: dict) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        if status == 429:
            self.send_header("Retry-After", "0")
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


def start_stub(models: tuple[str, ...] = ("m",)):
    """A stub server on loopback: (its base URL, its handler class, its HTTP server)."""
    handler = type(
        "Handler",
        (_Flaky,),
        {
            "script": [],
            "seen": [],
            "models": list(models),
            "delay": 0.0,
            "active": 0,
            "peak": 0,
            "lock": threading.Lock(),
        },
    )
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{httpd.server_address[1]}/v1", handler, httpd
