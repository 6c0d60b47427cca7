"""Replicas of an hf or vllm engine on a Ray cluster: Ray actors driven directly, the cache kept by the driver.

Why actors and not Ray Data: the work is not a fixed dataset but a queue that grows as chains advance
(least-to-most's next subquestion), each finished request must reach the driver at once so the cache
keeps it, and what a failed replica had not answered must go back to the queue for another. `ray.wait`
over streaming actor calls gives all three in a page of code; Ray Data would reorder rows, hold them in its own operators, and
needs CPUs left free for its read tasks. (`ray.data.llm` is not used either: it pins vLLM's GPU build.)

- Each replica is an actor holding one promptkit engine, built once and reused by every stage of the
  run. The driver holds an unloaded copy of the same engine for its identity and tokenization; each
  replica's identity must equal it, so the cache never mixes outputs of two setups.
- Requests go out in batches, at most DEPTH calls per replica in flight, to the least loaded replica.
  A call is one engine call over its batch, and a Ray streaming generator: each request comes back
  keyed by its id, never by position, the moment it ends, and is handed to the caller at once (the
  cache writes it in the driver: a killed driver loses only what was in flight). A replica that dies
  mid-call loses only the requests it had not yet answered.
- Samples are seeded from (seed, prompt, sample index) by the engine inside, so a sample is the same
  whichever replica drew it.
- A replica that dies (its process killed, out of memory) is restarted by Ray (max_restarts); its
  unanswered requests go back to the queue for whichever replica is free first. One that dies more
  often than that ends the run with a one-line error; what finished is already kept.
"""

from __future__ import annotations

import math
import os
import queue
import socket
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from tqdm.auto import tqdm

from promptkit.engines.base import Engine, Follow, OnComplete
from promptkit.engines.implementing import in_order
from promptkit.errors import EngineUnavailable
from promptkit.types import Completion, GenRequest, Score, ScoreRequest

DEPTH = 2
"""Calls in flight per replica: the next one waits at the replica while it works on the current."""
BATCHES_PER_REPLICA = 1
"""Default batch size: a call's requests split into this many batches per replica. One: each replica's
engine batches as much as a single engine would (results stream back one by one all the same); more
would balance uneven replicas at the cost of smaller batches (bench_scale: 1.47x with 32 a call, 0.5x
with 1)."""
MAX_BATCH = 256
PROBE_SECONDS = 0.2
"""How often a restarting replica is asked whether it is back."""


def _import_ray():
    try:
        import ray
    except ImportError:
        raise EngineUnavailable("the ray engine needs Ray: pip install 'promptkit[ray]'") from None
    return ray


class Replica:
    """One engine inside a Ray actor, built by the picklable factory the driver was given."""

    def __init__(self, factory: Callable[[], Engine], index: int, pin_cores: int) -> None:
        if pin_cores:
            pin_to_cores(index, pin_cores)
        self.engine = factory()
        # Every engine call runs on this one thread, which lives as long as the actor: processes the
        # engine starts (vLLM's) are asked to die with the thread that started them, not the process.
        self._worker = ThreadPoolExecutor(1, thread_name_prefix="promptkit-replica")

    def identity(self) -> str:
        return self.engine.identity.key()

    def pid(self) -> int:
        return os.getpid()

    def generate(self, batch: list[tuple[int, GenRequest]]) -> Iterator[tuple[int, Completion]]:
        """One engine call for the whole batch; each request yielded, under its key, the moment it ends."""
        finished: queue.SimpleQueue = queue.SimpleQueue()
        requests = [request for _, request in batch]

        def call() -> None:
            try:
                self.engine.generate(requests, lambda i, completion: finished.put((batch[i][0], completion)))
                finished.put(_END)
            except BaseException as exc:  # handed to the caller below, as the call's own error
                finished.put(exc)

        self._worker.submit(call)
        while (item := finished.get()) is not _END:
            if isinstance(item, BaseException):
                raise item
            yield item

    def score(self, batch: list[tuple[int, ScoreRequest]]) -> Iterator[tuple[int, Score]]:
        results = self._worker.submit(self.engine.score, [request for _, request in batch]).result()
        yield from ((key, result) for (key, _), result in zip(batch, results))


_END = object()


def check_reachable(address: str | None, timeout: float = 5.0) -> None:
    """A cluster address (host:port, or ray://host:port) must accept a connection: Ray itself keeps
    retrying an unreachable one for minutes. `auto` and no address are Ray's to resolve."""
    if not address or address == "auto":
        return
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        raise EngineUnavailable(f"ray: the address {address!r} is not host:port, ray://host:port or auto")
    try:
        socket.create_connection((host, int(port)), timeout=timeout).close()
    except OSError as exc:
        raise EngineUnavailable(f"ray: cannot reach the cluster at {address}: {exc.strerror or exc}") from None


def pin_to_cores(index: int, count: int) -> None:
    """Replica `index` of a node takes `count` cores of its own (torch's threads and vLLM's CPU build
    bind there), so replicas sharing a machine do not share cores."""
    cores = sorted(os.sched_getaffinity(0))
    mine = [cores[(index * count + j) % len(cores)] for j in range(count)]
    os.sched_setaffinity(0, mine)
    os.environ["VLLM_CPU_OMP_THREADS_BIND"] = ",".join(map(str, mine))
    os.environ["OMP_NUM_THREADS"] = str(count)


class RayEngine(Engine):
    streams = True  # a chain's next request joins the queue the moment its previous one returns

    def __init__(
        self,
        local: Engine,
        factory: Callable[[], Engine],
        *,
        replicas: int,
        address: str | None = None,
        num_cpus: float = 1.0,
        num_gpus: float | None = None,
        custom_resources: dict[str, float] | None = None,
        pin_cores: bool = False,
        batch_size: int | None = None,
        max_restarts: int = 3,
        tensor_parallel_size: int = 1,
        progress: bool = True,
    ) -> None:
        """local: the inner engine built here, never loaded (identity, tokenization); factory: a picklable call that
        builds the same engine in each replica; tensor_parallel_size: the GPUs it uses, where the cluster has any."""
        self.local = local
        self.factory = factory
        self.tensor_parallel_size = tensor_parallel_size
        self.identity = local.identity
        self.tokens = local.tokens
        self.scores = local.scores
        self.replicas = replicas
        self.address = address
        self.num_cpus = num_cpus
        self.num_gpus = num_gpus
        self.custom_resources = dict(custom_resources or {})
        self.pin_cores = max(1, int(num_cpus)) if pin_cores else 0
        self.batch_size = batch_size
        self.max_restarts = max_restarts
        self.progress = progress
        self._actors: list[Any] = []
        self._started_ray = False
        self.served = [0] * replicas
        """Requests each replica answered (a request retried after a replica died counts once, where it ended)."""
        self.deaths = [0] * replicas
        """Times each replica died (Ray restarts it up to max_restarts times in all, as Ray counts)."""
        self.resent = 0
        """Requests sent again because the replica holding them died."""

    # -- the replicas ---------------------------------------------------------------------------
    def actors(self) -> list[Any]:
        """The replicas, started on first use (and Ray with them, locally, when no address is given)."""
        if self._actors:
            return self._actors
        ray = _import_ray()
        if not ray.is_initialized():
            check_reachable(self.address)
            try:
                init_ray(ray, self.address)
            except (ConnectionError, RuntimeError, ValueError) as exc:
                where = self.address or "a local cluster"
                raise EngineUnavailable(f"ray: cannot start or join {where}: {str(exc).splitlines()[0]}") from None
            self._started_ray = True
        gpus = self._gpus_per_replica(ray)
        self._check_room(ray, gpus)
        options = {
            "num_cpus": self.num_cpus,
            "num_gpus": gpus,
            "max_restarts": self.max_restarts,
            "max_task_retries": 0,
        }
        if self.custom_resources:
            options["resources"] = self.custom_resources  # type: ignore[assignment]
        remote = ray.remote(Replica).options(**options)
        self._actors = [remote.remote(self.factory, i, self.pin_cores) for i in range(self.replicas)]
        self.deaths = [0] * self.replicas  # new actors, Ray's restart budget afresh
        try:
            keys = ray.get([a.identity.remote() for a in self._actors])
        except ray.exceptions.RayError as exc:
            self.close()
            raise EngineUnavailable(f"ray: a replica could not start: {_first_line(exc)}") from None
        for i, key in enumerate(keys):
            if key != self.identity.key():
                self.close()
                raise EngineUnavailable(
                    f"ray: replica {i} runs {key}, the driver expects {self.identity.key()}: give the inner "
                    "engine's device, dtype and arguments explicitly so every machine resolves them alike"
                )
        return self._actors

    def _gpus_per_replica(self, ray) -> float:
        if self.num_gpus is not None:
            return self.num_gpus
        if not ray.cluster_resources().get("GPU"):
            return 0
        return float(self.tensor_parallel_size)

    def _check_room(self, ray, gpus: float) -> None:
        """Replicas that cannot all be placed would wait forever: on a local cluster (no autoscaler to add
        machines), say so at once."""
        if self.address is not None:
            return
        free = ray.available_resources()
        for name, each in (("CPU", self.num_cpus), ("GPU", gpus), *self.custom_resources.items()):
            need, have = each * self.replicas, free.get(name, 0)
            if need > have:
                self.close()
                raise EngineUnavailable(
                    f"ray: {self.replicas} replicas x {each:g} {name} need {need:g}, the local cluster has "
                    f"{have:g} free (set resources.num_cpus lower, or start Ray with more)"
                )

    def close(self) -> None:
        """Stop the replicas (and Ray, when this engine started it); the next request starts them again."""
        if self._actors:
            ray = _import_ray()
            for actor in self._actors:
                ray.kill(actor, no_restart=True)
            self._actors = []
        if self._started_ray:
            _import_ray().shutdown()
            self._started_ray = False
        self.local.close()

    def replica_pids(self, wait: float = 120.0) -> list[int]:
        """The replicas' process ids (to watch or to kill them in tests), waiting for any that is restarting."""
        ray = _import_ray()
        deadline = time.monotonic() + wait
        while True:
            try:
                return ray.get([a.pid.remote() for a in self.actors()])
            except ray.exceptions.ActorUnavailableError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(PROBE_SECONDS)

    # -- work -----------------------------------------------------------------------------------
    def generate(self, requests: Sequence[GenRequest], on_complete: OnComplete | None = None) -> list[Completion]:
        return in_order(len(requests), lambda done: self._dispatch("generate", requests, done), on_complete)

    def generate_chains(self, first: Sequence[GenRequest], follow: Follow) -> None:
        self._dispatch("generate", first, follow)

    def score(self, requests: Sequence[ScoreRequest]) -> list[Score]:
        return in_order(len(requests), lambda done: self._dispatch("score", requests, done))

    def _dispatch(self, method: str, first: Sequence[Any], finished: Callable[[int, Any], Any]) -> None:
        """Send the requests out in batches to the least loaded replicas; hand each result to `finished`
        by its request id the moment the replica yields it; a request `finished` returns joins the queue."""
        if not first:
            return
        ray = _import_ray()
        actors = self.actors()
        todo: deque[tuple[int, Any]] = deque(enumerate(first))
        size = self.batch_size or min(MAX_BATCH, max(1, math.ceil(len(todo) / (BATCHES_PER_REPLICA * len(actors)))))
        streams: dict[Any, tuple[int, dict[int, Any]]] = {}  # a call's stream -> (replica, its requests not yet back)
        load = [0] * len(actors)
        recovering: dict[Any, int] = {}  # readiness probe -> replica being restarted by Ray
        bar = tqdm(
            total=len(todo), desc=f"{method} (ray x{len(actors)})", unit="req", leave=False,
            disable=None if self.progress else True,
        )  # fmt: skip
        try:
            while todo or streams:
                self._fill(method, actors, todo, size, streams, load, set(recovering.values()))
                ready = ray.wait([*streams, *recovering], num_returns=1)[0][0]
                if ready in recovering:
                    replica = recovering.pop(ready)
                    try:
                        ray.get(ready)  # restarted: back in service
                    except ray.exceptions.ActorUnavailableError:  # still restarting: ask again shortly
                        time.sleep(PROBE_SECONDS)
                        recovering[actors[replica].pid.remote()] = replica
                    except ray.exceptions.RayError as exc:
                        raise self._gone(replica, self.deaths[replica], exc) from None
                    continue
                replica, pending = streams[ready]
                try:
                    key, result = _result(ray, next(ready))
                except StopIteration:
                    del streams[ready]
                    load[replica] -= 1
                    if pending:
                        raise RuntimeError(
                            f"ray replica {replica} ended a call without {len(pending)} of its requests"
                        ) from None
                    continue
                except ray.exceptions.RayError as exc:
                    del streams[ready]
                    load[replica] -= 1
                    todo.extendleft(reversed(pending.items()))  # what it had not answered: to whoever is free first
                    self.resent += len(pending)
                    if replica not in recovering.values():  # one death fails every call it held: count it once
                        self.deaths[replica] += 1
                        if self.deaths[replica] > self.max_restarts:
                            raise self._gone(replica, self.deaths[replica], exc) from None
                        recovering[actors[replica].pid.remote()] = replica
                    continue
                if pending.pop(key, _END) is _END:
                    raise RuntimeError(f"ray replica {replica} answered request {key}, which it was not sent")
                self.served[replica] += 1
                following = finished(key, result)
                bar.update(1)
                if following is not None:
                    todo.append((key, following))
                    bar.total += 1
        finally:
            bar.close()

    @staticmethod
    def _gone(replica: int, deaths: int, exc: BaseException) -> EngineUnavailable:
        return EngineUnavailable(
            f"ray: replica {replica} failed {deaths} times, the last: {_first_line(exc)}; "
            "the requests that finished are kept in the cache"
        )

    def _fill(self, method, actors, todo, size, streams, load, recovering: set[int]) -> None:
        """Give batches to the least loaded replicas in service, up to DEPTH calls each."""
        while todo:
            free = [r for r in range(len(actors)) if r not in recovering and load[r] < DEPTH]
            if not free:
                return
            replica = min(free, key=lambda r: load[r])
            batch = [todo.popleft() for _ in range(min(size, len(todo)))]
            stream = getattr(actors[replica], method).options(num_returns="streaming").remote(batch)
            streams[stream] = (replica, dict(batch))
            load[replica] += 1


def _result(ray, ref) -> Any:
    """A call's result; the engine's own error (a prompt too long, a bad request) is raised as itself."""
    try:
        return ray.get(ref)
    except ray.exceptions.RayTaskError as exc:
        cause = exc.cause
        raise (cause if isinstance(cause, Exception) else exc) from None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else exc.__class__.__name__


NODE_START_TIMEOUT = "timed out during startup"
"""Ray's message when a node it starts does not register in its fixed 30 s (ray/_private/node.py)."""


def init_ray(ray: Any, address: str | None) -> None:
    """`ray.init`, tried once more when a local node misses Ray's 30 s start window on a loaded machine."""
    kwargs = {"address": address, "include_dashboard": False, "log_to_driver": False, "configure_logging": False}
    try:
        ray.init(**kwargs)
    except Exception as exc:  # Ray raises a bare Exception for this one case
        if address is not None or NODE_START_TIMEOUT not in str(exc):
            raise
        ray.shutdown()  # stops the half-started node's processes before the second try
        ray.init(**kwargs)
