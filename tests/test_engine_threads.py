"""Engines built on one thread and called from others, as a web server calls them from request threads that
end after one call, and from several threads at once (the calls queue). Real engines: hf on the tiny model,
vLLM's CPU build on SmolLM2; the openai engine's case is in test_engine_openai.py."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from test_process_cleanup import alive, descendants

from promptkit.types import GenRequest, Sampling

PROMPTS = ("Q: Janet has 3 apples", "Take the last letters of each words", "The capital of France is")


def in_ending_thread(call: Callable[[], Any]) -> Any:
    """`call` on a thread of its own that ends right after it, as a request thread does."""
    out: dict[str, Any] = {}

    def target() -> None:
        try:
            out["value"] = call()
        except BaseException as exc:  # handed back to the test
            out["error"] = exc

    thread = threading.Thread(target=target)
    thread.start()
    thread.join()
    if "error" in out:
        raise out["error"]
    return out["value"]


def texts(engine, requests) -> list[tuple[str, ...]]:
    return [c.texts for c in engine.generate(requests)]


def watch_overlap(engine, method: str) -> list[int]:
    """Wrap one of the engine's inner steps: the most calls found inside it at once, as the list's last item."""
    inner, inside, most, lock = getattr(engine, method), [0], [0], threading.Lock()

    def watched(*args, **kwargs):
        with lock:
            inside[0] += 1
            most[0] = max(most[0], inside[0])
        time.sleep(0.05)  # long enough for another thread to arrive
        try:
            return inner(*args, **kwargs)
        finally:
            with lock:
                inside[0] -= 1

    setattr(engine, method, watched)
    return most


def check_threads(engine, requests, inner: str = "encode") -> None:
    """From threads that end after one call, then from four at once: the same texts, one call inside at a time
    (`inner`: a method of the engine's that every call goes through)."""
    expected = texts(engine, requests)
    assert in_ending_thread(lambda: texts(engine, requests)) == expected
    time.sleep(1)  # anything the ended thread took with it is gone by now
    assert in_ending_thread(lambda: texts(engine, requests)) == expected
    most = watch_overlap(engine, inner)
    try:
        with ThreadPoolExecutor(4) as pool:
            got = list(pool.map(lambda r: engine.generate([r])[0].texts, list(requests) * 2))
    finally:
        delattr(engine, inner)  # the instance attribute goes; the class's method is back
    assert got == expected * 2
    assert most[0] == 1, "two calls at once queue: one is inside the engine at a time"


def test_hf_from_threads_that_end_and_from_several_at_once(hf_engine):
    check_threads(hf_engine, [GenRequest(p, Sampling(max_tokens=6)) for p in PROMPTS])


def test_vllm_started_by_a_thread_that_ends_keeps_working_and_close_leaves_nothing(vllm_engine):
    from tests_support import VLLM_ARGS

    from promptkit.engines.model_files import BUILTIN_MODEL
    from promptkit.engines.vllm import VLLMEngine

    requests = [GenRequest(p, Sampling(max_tokens=6)) for p in PROMPTS]
    expected = texts(vllm_engine, requests)  # the session's engine, started on the main thread
    before, threads = descendants(os.getpid()), set(threading.enumerate())
    engine = VLLMEngine(BUILTIN_MODEL, dtype="float32", engine_args=VLLM_ARGS, progress=False)
    try:
        # Started from a thread that ends at once: vLLM's processes must not end with it.
        assert in_ending_thread(lambda: texts(engine, requests)) == expected
        started = descendants(os.getpid()) - before
        assert started, "vLLM started processes of its own"
        check_threads(engine, requests)
        assert all(alive(p) for p in started)
    finally:
        in_ending_thread(engine.close)
    deadline = time.time() + 120  # bounded against a hang: a busy machine is slower, not wrong
    while any(alive(p) for p in started) and time.time() < deadline:
        time.sleep(0.2)
    assert not [p for p in started if alive(p)], "close() stops what the engine started"
    assert not [t for t in set(threading.enumerate()) - threads if t.name.startswith("promptkit-vllm")], (
        "nor its thread"
    )
