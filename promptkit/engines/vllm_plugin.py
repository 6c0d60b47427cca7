"""A vLLM general plugin: every process vLLM starts dies with the process that started it.

vLLM runs its engine core (and, with several devices, its workers) in child processes. When the
process that started them is killed with SIGKILL it runs no code, so nothing stops them: they
hold memory (and a GPU's memory) until someone finds them. vLLM loads its general plugins in each
of its processes at start-up (this one is registered under the `vllm.general_plugins` entry
point), so each child asks the kernel for SIGKILL when its parent dies (PR_SET_PDEATHSIG). A
chain of them (promptkit -> engine core -> workers) unwinds from the top.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import sys

PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    parent = multiprocessing.parent_process()
    if parent is None or not sys.platform.startswith("linux"):
        return  # the main process, or an OS without prctl
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
        return
    if os.getppid() != parent.pid:  # the parent died before the request took effect
        os._exit(1)
