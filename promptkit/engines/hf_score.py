"""Log-likelihoods on the transformers engine: each distinct context runs once, its continuations after it.

The choices of one question share their context: it is run once, and its key-value cache is repeated
for the continuations that need more than their first token (that token's log-probability comes
from the context's last position). lm-evaluation-harness runs the context again for each
continuation longer than one token; the sums are the same.

Contexts are also taken in sorted order, and one that begins as the previous one did (the same
demonstrations before another question) starts from the previous one's key-value cache, cut to the
shared tokens: few-shot prompts pay for their demonstrations once, not once per question.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence

import torch

from promptkit.types import Score

MIN_SHARED_TOKENS = 32
"""A shorter common beginning is run again rather than copied from the previous context's cache."""


def score_pairs(model, pairs: Sequence[tuple[list[int], list[int]]], device: str) -> list[Score]:
    """Score (context ids, continuation ids) pairs, in input order."""
    groups: dict[tuple[int, ...], list[int]] = {}
    for i, (context, _) in enumerate(pairs):
        groups.setdefault(tuple(context), []).append(i)
    out: list[Score | None] = [None] * len(pairs)
    previous: tuple[list[int], object] | None = None  # the last context's ids and key-value cache
    with torch.inference_mode():
        for context in sorted(groups):
            members = groups[context]
            scores, previous = _score_group(model, list(context), [pairs[i][1] for i in members], device, previous)
            for i, score in zip(members, scores):
                out[i] = score
    return out  # type: ignore[return-value]


def _run_context(model, context: list[int], device: str, previous):
    """The context's forward pass, from the previous context's cache where they share a long beginning."""
    shared = 0
    if previous is not None:
        ids, _ = previous
        limit = min(len(ids), len(context) - 1)  # at least one token is run: its logits score the first choice token
        while shared < limit and ids[shared] == context[shared]:
            shared += 1
    if shared >= MIN_SHARED_TOKENS:
        cache = copy.deepcopy(previous[1])
        if len(previous[0]) > shared:
            cache.crop(shared - len(previous[0]))  # a negative count: the tokens to drop from its end
        return model(torch.tensor([context[shared:]], device=device), past_key_values=cache, use_cache=True)
    return model(torch.tensor([context], device=device), use_cache=True)


def _score_group(model, context: list[int], continuations: list[list[int]], device: str, previous):
    first = _run_context(model, context, device, previous)
    kept = (context, copy.deepcopy(first.past_key_values))  # the next context may start from it
    last = torch.log_softmax(first.logits[0, -1].float(), dim=-1)
    rows = [k for k, c in enumerate(continuations) if len(c) > 1]
    later = _later_tokens(model, first.past_key_values, len(context), [continuations[k] for k in rows], device)
    scores = []
    for k, tokens in enumerate(continuations):
        logprob, greedy = float(last[tokens[0]]), int(last.argmax()) == tokens[0]
        if k in rows:
            lp, g = later[rows.index(k)]
            logprob, greedy = logprob + lp, greedy and g
        scores.append(Score(logprob, len(tokens), greedy))
    return scores, kept


def _later_tokens(
    model, cache, context_len: int, continuations: list[list[int]], device: str
) -> list[tuple[float, bool]]:
    """For each continuation, the log-probability of its tokens after the first, and whether each is greedy."""
    if not continuations:
        return []
    n, width = len(continuations), max(len(c) - 1 for c in continuations)
    cache.batch_repeat_interleave(n)
    inputs = torch.zeros((n, width), dtype=torch.long, device=device)
    mask = torch.zeros((n, context_len + width), dtype=torch.long, device=device)
    mask[:, :context_len] = 1
    for row, tokens in enumerate(continuations):
        fed = tokens[:-1]
        inputs[row, : len(fed)] = torch.tensor(fed, device=device)
        mask[row, context_len : context_len + len(fed)] = 1
    logits = model(input_ids=inputs, attention_mask=mask, past_key_values=cache, use_cache=True).logits
    logp = torch.log_softmax(logits.float(), dim=-1)
    out = []
    for row, tokens in enumerate(continuations):
        wanted = torch.tensor(tokens[1:], device=device)
        picked = logp[row, : len(wanted)].gather(-1, wanted[:, None]).squeeze(-1)
        greedy = bool((logp[row, : len(wanted)].argmax(-1) == wanted).all())
        out.append((float(picked.sum()), greedy))
    return out
