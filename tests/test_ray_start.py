"""Starting Ray locally: its fixed 30 s node-start window, missed on a loaded machine, is tried once more.

A scripted `ray` stands in for the fault (the real start is run by tests/test_ray_engine.py)."""

from __future__ import annotations

import pytest

from promptkit.engines.ray_cluster import NODE_START_TIMEOUT, init_ray


class ScriptedRay:
    """Fails its first `failures` inits with `error`, then starts; records every call."""

    def __init__(self, error: Exception, failures: int = 1) -> None:
        self.error, self.failures, self.calls = error, failures, []

    def init(self, **kwargs: object) -> None:
        self.calls.append(("init", kwargs["address"]))
        if len([c for c in self.calls if c[0] == "init"]) <= self.failures:
            raise self.error

    def shutdown(self) -> None:
        self.calls.append(("shutdown", None))


def test_a_local_node_that_misses_the_start_window_is_shut_down_and_started_again():
    ray = ScriptedRay(Exception(f"The current node {NODE_START_TIMEOUT}. This could happen because ..."))
    init_ray(ray, None)
    assert ray.calls == [("init", None), ("shutdown", None), ("init", None)]


def test_a_second_miss_is_raised_not_retried_forever():
    ray = ScriptedRay(Exception(f"The current node {NODE_START_TIMEOUT}."), failures=2)
    with pytest.raises(Exception, match=NODE_START_TIMEOUT):
        init_ray(ray, None)
    assert [c[0] for c in ray.calls] == ["init", "shutdown", "init"]


@pytest.mark.parametrize(
    ("error", "address"),
    [(ConnectionError("refused"), None), (Exception(f"node {NODE_START_TIMEOUT}"), "10.0.0.1:6379")],
)
def test_other_failures_and_remote_clusters_are_not_retried(error, address):
    ray = ScriptedRay(error)
    with pytest.raises(type(error)):
        init_ray(ray, address)
    assert ray.calls == [("init", address)]
