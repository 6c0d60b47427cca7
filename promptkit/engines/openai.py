"""Any OpenAI-compatible server (vLLM, SGLang, TGI, llama.cpp, transformers serve, hosted APIs).

Built on the official `openai` client: its retries back off exponentially on rate limits, timeouts,
connection errors and 5xx. Requests run concurrently up to a bound; each finished request is
reported at once, so the cache keeps it even if the server goes down later. Each sample of a
sampled request is its own call (n = 1) with a seed drawn from (seed, prompt, sample index), so
samples do not depend on batching, and servers that ignore `n` give every sample asked for.

Several base URLs make a fleet of servers of one model (`openai_fleet`): each call goes to the least
busy one, a failing one is left out for a while. The cache identity is the model name alone, so
adding or removing a server keeps every cached row: name each model uniquely on its servers.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from tqdm.auto import tqdm

from promptkit.engines.base import Engine, EngineIdentity, OnComplete
from promptkit.engines.implementing import completion_of, cut_at_stop, draw_seeds, one_call_at_a_time, split_at_spaces
from promptkit.engines.openai_fleet import Fleet, FleetDown, RequestFailed, Server
from promptkit.errors import EngineUnavailable
from promptkit.types import Completion, GenRequest, Sampling, Score, ScoreRequest


def request_body(sampling: Sampling, n: int, seed: int | None) -> dict[str, Any]:
    """Our Sampling as OpenAI API fields."""
    body: dict[str, Any] = {
        "max_tokens": sampling.max_tokens,
        "temperature": sampling.temperature,
        "top_p": sampling.top_p,
        "n": n,
    }
    if sampling.stop:
        body["stop"] = list(sampling.stop)
    if seed is not None:
        body["seed"] = seed
    return body


class OpenAIEngine(Engine):
    def __init__(
        self,
        model: str,
        *,
        base_url: str | Sequence[str] = "http://127.0.0.1:8000/v1",
        api_key_env: str = "OPENAI_API_KEY",
        concurrency: int = 16,
        max_retries: int = 5,
        timeout: float = 120.0,
        progress: bool = True,
    ) -> None:
        try:
            import openai  # noqa: F401
        except ImportError:
            raise EngineUnavailable("the openai engine needs the openai client: pip install openai") from None
        self.model = model
        urls = [base_url] if isinstance(base_url, str) else list(base_url)
        self.base_urls = [u.rstrip("/") for u in urls]
        if not self.base_urls or len(set(self.base_urls)) < len(self.base_urls):
            raise EngineUnavailable(f"the openai engine needs distinct server addresses, got {urls}")
        # Local servers take any key; hosted ones read theirs from the environment.
        self.api_key = os.environ.get(api_key_env) or "EMPTY"
        self.concurrency = concurrency
        self.max_retries = max_retries
        self.timeout = timeout
        self.progress = progress
        self.identity = EngineIdentity("openai", model)
        self._checked = len(self.base_urls) == 1  # a fleet's servers are checked once, before any work
        self.moved_from = dict.fromkeys(self.base_urls, 0)
        """Per server: the calls it failed, or died holding, that another server then made (over this engine's life)."""

    @property
    def base_url(self) -> str:
        return ", ".join(self.base_urls)

    async def _fleet(self) -> Fleet:
        import openai

        fleet = Fleet(
            [
                Server(
                    url,
                    openai.AsyncOpenAI(
                        base_url=url, api_key=self.api_key, max_retries=self.max_retries, timeout=self.timeout
                    ),
                )
                for url in self.base_urls
            ]
        )
        if not self._checked:
            try:
                await fleet.check_model(self.model)
            except BaseException:
                await fleet.close()
                raise
            self._checked = True
        return fleet

    async def _close(self, fleet: Fleet) -> None:
        for server in fleet.servers:
            self.moved_from[server.url] += server.moved
        await fleet.close()

    @one_call_at_a_time
    def generate(self, requests: Sequence[GenRequest], on_complete: OnComplete | None = None) -> list[Completion]:
        return self._run(self._generate(requests, on_complete))

    async def _generate(self, requests: Sequence[GenRequest], on_complete: OnComplete | None) -> list[Completion]:
        fleet = await self._fleet()
        results: list[Completion | None] = [None] * len(requests)
        gate = asyncio.Semaphore(self.concurrency * len(self.base_urls))
        failed = asyncio.Event()
        bar = tqdm(
            total=len(requests), desc="generate", unit="req", disable=None if self.progress else True, leave=False
        )

        async def one(i: int) -> None:
            async with gate:
                if failed.is_set():
                    return  # the server is gone: send nothing more, let the requests in flight finish
                try:
                    results[i] = await self._complete(fleet, requests[i])
                except Exception:
                    failed.set()
                    raise
            if on_complete:
                on_complete(i, results[i])  # type: ignore[arg-type]
            bar.update(1)

        try:
            outcomes = await asyncio.gather(*(one(i) for i in range(len(requests))), return_exceptions=True)
        finally:
            bar.close()
            await self._close(fleet)
        errors = [e for e in outcomes if isinstance(e, BaseException)]
        if errors:
            raise self._explain(errors[0], done=sum(r is not None for r in results), total=len(requests))
        return results  # type: ignore[return-value]

    async def _complete(self, fleet: Fleet, request: GenRequest) -> Completion:
        """One request: one call per distinct sample, each sampled one with its own (seed, prompt, index) seed."""
        s = request.sampling
        calls = (
            fleet.call(lambda client, seed=seed: self._sample(client, request, seed))  # type: ignore[misc]
            for seed in draw_seeds(request)
        )
        samples = await asyncio.gather(*calls)
        draws = [(text, reason, tokens, None) for text, reason, _, tokens in samples]
        return completion_of(draws, s.n, samples[0][2])

    async def _sample(self, client, request: GenRequest, seed: int | None) -> tuple[str, str, int, int]:
        s = request.sampling
        body = request_body(s, 1, seed)
        if isinstance(request.prompt, str):
            response = await client.completions.create(model=self.model, prompt=request.prompt, **body)
            choices = [(c.text, c.finish_reason) for c in response.choices]
        else:
            messages = [dict(m) for m in request.prompt]
            response = await client.chat.completions.create(model=self.model, messages=messages, **body)
            choices = [(c.message.content or "", c.finish_reason) for c in response.choices]
        if not choices:
            raise EngineUnavailable(f"the server at {str(client.base_url).rstrip('/')} returned no choices")
        text, reason = choices[0]
        cut, hit = cut_at_stop(text, s.stop)
        usage = response.usage
        return (
            cut,
            "length" if reason == "length" and not hit else "stop",
            usage.prompt_tokens if usage else 0,
            usage.completion_tokens if usage else 0,
        )

    # -- scoring --------------------------------------------------------------------------------
    scores = True
    """Through completions with echo and logprobs (vLLM's server returns them); a server that does not
    is a one-line error on the first request, before the others are sent."""

    @one_call_at_a_time
    def score(self, requests: Sequence[ScoreRequest]) -> list[Score]:
        return self._run(self._score_all(requests))

    @staticmethod
    def _run(work):
        """Run a coroutine to its end; called from inside an event loop (a notebook), beside it."""
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return asyncio.run(work)
        with ThreadPoolExecutor(1) as pool:
            return pool.submit(asyncio.run, work).result()

    async def _score_all(self, requests: Sequence[ScoreRequest]) -> list[Score]:
        fleet = await self._fleet()
        gate = asyncio.Semaphore(self.concurrency * len(self.base_urls))

        async def one(request: ScoreRequest) -> Score:
            async with gate:
                return await fleet.call(lambda client: self._score(client, request))

        try:
            if not requests:
                return []
            first = await one(requests[0])  # a server without prompt log-probabilities fails here, alone
            rest = await asyncio.gather(*(one(r) for r in requests[1:]), return_exceptions=True)
        except Exception as exc:
            raise self._explain(exc, done=0, total=len(requests)) from None
        finally:
            await self._close(fleet)
        errors = [e for e in rest if isinstance(e, BaseException)]
        if errors:
            raise self._explain(errors[0], done=0, total=len(requests))
        return [first, *rest]  # type: ignore[list-item]

    async def _score(self, client, request: ScoreRequest) -> Score:
        context, continuation = split_at_spaces(request.context, request.continuation)
        response = await client.completions.create(
            model=self.model, prompt=context + continuation, max_tokens=1, temperature=0.0, echo=True, logprobs=1
        )
        logprobs = response.choices[0].logprobs if response.choices else None
        usage = response.usage
        if logprobs is None or not logprobs.text_offset or usage is None:
            raise EngineUnavailable(
                f"the server at {str(client.base_url).rstrip('/')} returns no prompt log-probabilities (completions with echo and "
                "logprobs), so the openai engine cannot score there: use hf or vllm, or a vLLM server"
            )
        prompt_tokens = usage.prompt_tokens
        picked = [
            k
            for k in range(prompt_tokens)
            if logprobs.text_offset[k] >= len(context) and logprobs.token_logprobs[k] is not None
        ]
        total = sum(logprobs.token_logprobs[k] for k in picked)
        tops = logprobs.top_logprobs or []
        greedy = all(k < len(tops) and tops[k] and max(tops[k], key=tops[k].get) == logprobs.tokens[k] for k in picked)
        return Score(float(total), len(picked), greedy)

    def _explain(self, error: BaseException, done: int, total: int) -> BaseException:
        import openai

        progress = f"{done} of {total} requests finished and are kept in the cache"
        if isinstance(error, FleetDown):
            failures = [(s.url, s.last_error) for s in error.servers]
            each = "; ".join(_failure(url, e) for url, e in failures)
            if len(failures) > 1:
                each = f"all {len(failures)} servers failed: {each}"
            return EngineUnavailable(f"{each} ({progress})")
        if isinstance(error, RequestFailed):
            if isinstance(error.error, (openai.APIConnectionError, openai.APIStatusError)):
                return EngineUnavailable(f"{_failure(error.url, error.error)} ({progress})")
            return error.error
        return error


def _failure(url: str, error: BaseException | None) -> str:
    """One server's failure in a few words."""
    import openai

    if isinstance(error, openai.APIConnectionError):
        cause = error.__cause__ or error
        return f"cannot reach the server at {url}: {cause.__class__.__name__}: {cause}"
    if isinstance(error, openai.APIStatusError):
        return f"the server at {url} answered {error.status_code}: {error.message}"
    return f"{error.__class__.__name__}: {error}"
