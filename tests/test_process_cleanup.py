"""However a run ends, no process it started outlives it (vLLM's CPU build, for real).

The five endings run two at a time, each in its own process: all five at once (about 3 GB each) with the two
workers' session engines filled a 24 GiB machine, and the kernel killed a session engine in the other worker.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import yaml
from helpers import cache_rows
from tests_support import VLLM_ARGS

# Requests finish one by one; a short context and a small KV cache (64 MiB against the suite's 512) keep each
# run's memory down.
ENGINE_ARGS = {**VLLM_ARGS, "max_num_seqs": 1, "max_model_len": 1024, "kv_cache_memory_bytes": 64 << 20}
SPEC = {
    "task": {"name": "last_letters", "limit": 8},
    "engine": {"kind": "vllm", "dtype": "float32", "engine_args": ENGINE_ARGS},
    "method": {"name": "zero_shot_cot", "max_tokens": {"reason": 200, "answer": 16}},
}
# A library user's script: the engine starts, a request finishes, then the script ends or raises.
SCRIPT = textwrap.dedent(
    """
    import sys
    from promptkit.engines.vllm import VLLMEngine
    from promptkit.types import GenRequest, Sampling
    if __name__ == "__main__":
        engine = VLLMEngine("smollm2-135m-instruct", dtype="float32", engine_args={args!r}, progress=False)
        engine.generate([GenRequest("The capital of France is", Sampling(max_tokens=4))])
        print("generated", flush=True)
        if sys.argv[1] == "error":
            raise RuntimeError("a bug in the user's code")
    """
)


def _children(pid: int) -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            tree.setdefault(ppid, []).append(int(entry.name))
    return tree


def descendants(pid: int) -> set[int]:
    tree, found, todo = _children(pid), set(), [pid]
    while todo:
        for child in tree.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"  # a zombie has ended; only its exit status waits to be read


class Ending:
    def __init__(self, how: str, tmp: Path) -> None:
        self.how, self.tmp = how, tmp
        tmp.mkdir()
        self.cache = tmp / "cache.sqlite"
        if how in ("exit", "error"):
            script = tmp / "script.py"
            script.write_text(SCRIPT.format(args=ENGINE_ARGS))
            cmd = [sys.executable, str(script), how]
        else:
            spec = tmp / "spec.yaml"
            spec.write_text(yaml.safe_dump(SPEC))
            cmd = [sys.executable, "-m", "promptkit", "run", str(spec), "--cache", str(self.cache),
                   "--out", str(tmp / "out"), "--quiet"]  # fmt: skip
        self.log = open(tmp / "log.txt", "wb")
        # A session of its own, so that a failing test can still clean up the whole group; Ctrl-C's SIGINT at its
        # default, as a terminal's run has it, whoever started the suite (a background job inherits it ignored).
        cmd = [sys.executable, "-c", DEFAULT_SIGINT, *cmd]
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        self.started: set[int] = set()

    def running(self) -> bool:
        """The engine is up and a request has finished (then the run is ended, if by a signal)."""
        if self.how in ("exit", "error"):
            return b"generated" in (self.tmp / "log.txt").read_bytes()
        return cache_rows(self.cache) >= 1

    def end(self) -> None:
        self.started |= descendants(self.proc.pid)
        if self.how in ("sigint", "sigterm", "sigkill"):
            os.kill(self.proc.pid, getattr(signal, self.how.upper()))  # the process alone, not its group

    def leftovers(self) -> set[int]:
        """The processes it started that are still running once it has ended.

        Waits on the events themselves (the run's exit, then each child's), each bounded only so that a hang
        fails the test rather than the suite: a loaded machine makes them slower, never wrong."""
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=RUN_ENDS_WITHIN)
        deadline = time.monotonic() + CHILDREN_END_WITHIN
        while (left := {p for p in self.started if alive(p)}) and time.monotonic() < deadline:
            time.sleep(0.2)
        return left

    def kill_all(self) -> None:
        for pid in {self.proc.pid, *self.started}:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.proc.wait()
        self.log.close()


ENDINGS = ("exit", "error", "sigint", "sigterm", "sigkill")
AT_ONCE = 2
"""Runs alive together: each holds a vLLM engine (about 3 GB)."""
DEFAULT_SIGINT = (
    "import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); os.execv(sys.argv[1], sys.argv[1:])"
)
"""Runs the command given after it with SIGINT at its default (exec keeps it; Python then installs its handler).
A suite started as a background job (`make test &`, some CI runners) has SIGINT ignored, and a run that inherits it
ignored goes on to the end when signalled: the cause of this test's failures on busy CI machines."""
RUN_ENDS_WITHIN = 300
"""Seconds a signalled run may take to shut vLLM down and exit (about 5 when idle; several runs at once on two busy
cores take far longer); past it the run hangs."""
CHILDREN_END_WITHIN = 60
"""Seconds its processes may take to end after it has (the kernel's SIGKILL on the parent's death: at once)."""


@pytest.fixture(scope="module")
def ended(smollm2, tmp_path_factory):
    import importlib.util

    from conftest import unavailable

    if importlib.util.find_spec("vllm") is None:
        unavailable("vLLM is not installed (see the README for its CPU build)")
    root = tmp_path_factory.mktemp("endings")
    runs: dict[str, Ending] = {}
    results: dict[str, tuple[Ending, set[int]]] = {}
    try:
        for wave in range(0, len(ENDINGS), AT_ONCE):
            hows = ENDINGS[wave : wave + AT_ONCE]
            runs.update({how: Ending(how, root / how) for how in hows})
            _end_when_running([runs[how] for how in hows])
            results.update({how: (runs[how], runs[how].leftovers()) for how in hows})
        yield results
    finally:
        for run in runs.values():
            run.kill_all()


def _end_when_running(runs: list[Ending]) -> None:
    """Ends each run (by itself, or by its signal) once its engine is up and a request has finished."""
    deadline = time.time() + 600
    waiting = list(runs)
    while waiting and time.time() < deadline:
        for run in list(waiting):
            if run.how in ("exit", "error") and run.proc.poll() is None:
                run.started |= descendants(run.proc.pid)  # they end by themselves: watch as they run
            if run.running() or run.proc.poll() is not None:
                run.end()
                waiting.remove(run)
        time.sleep(0.1)


@pytest.mark.parametrize("how", ENDINGS)
def test_no_process_outlives_the_run(ended, how):
    run, left = ended[how]
    log = (run.tmp / "log.txt").read_text(errors="replace")[-3000:]
    assert run.started, f"the run should have started vLLM's engine process:\n{log}"
    assert run.proc.poll() is not None, f"the run did not end within {RUN_ENDS_WITHIN} s of its {how}:\n{log}"
    assert not left, f"still running after the run ended ({how}): {sorted(left)}\n{log}"
    expected = {"exit": 0, "error": 1, "sigint": 130, "sigterm": 128 + signal.SIGTERM, "sigkill": -signal.SIGKILL}
    assert run.proc.returncode == expected[how], log


def test_a_server_from_the_testing_helpers_dies_with_its_starter_even_by_sigkill(tiny_model, tmp_path):
    starter = textwrap.dedent(
        """
        import sys, time
        from promptkit.testing.servers import LocalServer
        server = LocalServer(sys.argv[1]).start()
        print(server.proc.pid, flush=True)
        time.sleep(600)
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", starter, str(tiny_model)], stdout=subprocess.PIPE, text=True,
                            start_new_session=True)  # fmt: skip
    try:
        server_pid = int(proc.stdout.readline())
        assert alive(server_pid)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        deadline = time.monotonic() + CHILDREN_END_WITHIN
        while alive(server_pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not alive(server_pid), "the server outlived the process that started it"
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
