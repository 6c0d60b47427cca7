"""Processes promptkit starts die with it: a vLLM plugin for vLLM's processes, and a helper for servers.

vLLM runs its engine core (and, with several devices, its workers) in child processes. When the
process that started them is killed with SIGKILL it runs no code, so nothing stops them: they
hold memory (and a GPU's memory) until someone finds them. vLLM loads its general plugins in each
of its processes at start-up (this one is registered under the `vllm.general_plugins` entry
point), so each child asks the kernel for SIGKILL when its parent dies (PR_SET_PDEATHSIG). A
chain of them (promptkit -> engine core -> workers) unwinds from the top.

The plugin is loaded by every vLLM process of the environment, promptkit's or not; it acts only in
those whose environment carries MARKER, which promptkit sets while it starts vLLM (`marked_children`).

The kernel counts a child's parent as the *thread* that started it: a child started by a thread that
then ends (a web server's request thread) would be killed with that thread. So an engine starts its
processes from a thread of its own (`keeper`), which lives until the engine is closed or the
process ends.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

PR_SET_PDEATHSIG = 1


MARKER = "PROMPTKIT_DIE_WITH_PARENT"


@contextmanager
def marked_children() -> Iterator[None]:
    """Processes started inside this block (vLLM's engine core, and through it its workers) carry MARKER.

    Children inherit the environment when they start, so the variable is set for the block alone.
    """
    before = os.environ.get(MARKER)
    os.environ[MARKER] = "1"
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(MARKER, None)
        else:
            os.environ[MARKER] = before


def keeper(name: str) -> ThreadPoolExecutor:
    """One thread that starts an engine's processes and outlives the calls that use them; `shutdown()` it once
    they are stopped. An idle worker of an executor waits for work until shutdown, so the thread stays."""
    return ThreadPoolExecutor(max_workers=1, thread_name_prefix=name)


def die_with_parent() -> None:
    """The plugin: in a process promptkit's vLLM started (a multiprocessing child), ask to die with the parent."""
    if os.environ.get(MARKER) != "1":
        return  # a vLLM process someone else started: not ours to change
    parent = multiprocessing.parent_process()
    if parent is not None:
        ask_to_die_with_parent(parent.pid)


def ask_to_die_with_parent(parent_pid: int | None = None) -> None:
    """Ask the kernel for SIGKILL when this process's parent dies (Linux; elsewhere nothing).

    Also usable as a subprocess `preexec_fn`: the request survives exec.
    """
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
        return
    if parent_pid is not None and os.getppid() != parent_pid:  # the parent died before the request took effect
        os._exit(1)
