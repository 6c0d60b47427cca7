"""Log-likelihoods on the transformers engine: each distinct context runs once, its continuations after it.

Requests are grouped by context (the choices of one question share theirs). Contexts are sorted, and
each is handled one of two ways:

- **after a shared prefix**: consecutive contexts that share MIN_SHARED_TOKENS or more leading tokens
  (the same demonstrations before other questions) run that prefix once; the rest of each runs after
  its key-value cache, in right-padded batches, so the demonstrations run once, not once per question;
- **batched**: the others go in right-padded batches under the engine's token budget and row cap, as
  generation's batches do. A group whose continuations are all one token is one row (its choices
  are read at the context's last position); longer continuations get a row each (context + all but
  their last token).

Only the positions that score a token go through the output layer, so a batch never holds logits for
every position. lm-evaluation-harness runs the context again for every continuation longer than one
token; the sums are the same (to float rounding: tests hold them within 1e-4 of one forward pass).
"""

from __future__ import annotations

import copy
import itertools
from collections.abc import Sequence

import torch
from transformers import DynamicCache

from promptkit.engines.hf_soft_prompt import prefix_cache
from promptkit.engines.implementing import common_prefix_length
from promptkit.files.learned_prompt import LearnedPrompt
from promptkit.types import Score

MIN_SHARED_TOKENS = 32
"""A shorter common beginning is run again rather than copied from the previous context's cache."""

PASS_TOKENS = {"cpu": 256}
"""What a forward pass costs beyond its tokens, in tokens, by device type: rows are cut into the batches that
run the fewest tokens, padding included, counting this for each pass. On a CPU (SmolLM2-135M, bfloat16) a pass
costs about 40 ms and a token 0.3 ms; AGNews's 64 training examples in one batch are half padding, and scoring
them in the batches this cuts takes 0.53x the time (1.56 s against 2.97 s; 64 to 256 here within 5%).
Elsewhere (not measured) a pass is taken to cost DEFAULT_PASS_TOKENS: few, wide batches, as before."""
DEFAULT_PASS_TOKENS = 4096

Pair = tuple[list[int], list[int]]


def score_pairs(
    model, pairs: Sequence[Pair], device: str, max_batch_tokens: int, max_batch_size: int,
    learned: LearnedPrompt | None = None, pass_tokens: int | None = None,
) -> list[Score]:  # fmt: skip
    """Score (context ids, continuation ids) pairs, in input order (after the learned prompt, if given: then every
    context runs after its key-value prefix, and those that share no tokens run together after it alone).
    `pass_tokens`: what a pass costs beyond its tokens where batches and groups are cut (the device's PASS_TOKENS)."""
    per_pass = PASS_TOKENS.get(torch.device(device).type, DEFAULT_PASS_TOKENS) if pass_tokens is None else pass_tokens
    groups: dict[tuple[int, ...], list[int]] = {}
    for i, (context, _) in enumerate(pairs):
        groups.setdefault(tuple(context), []).append(i)
    contexts = sorted(groups)
    shared = [0] + [common_prefix_length(a, b) for a, b in itertools.pairwise(contexts)]
    out: list[Score | None] = [None] * len(pairs)

    def place(context: tuple[int, ...], scores: list[Score]) -> None:
        for i, score in zip(groups[context], scores):
            out[i] = score

    alone: list[tuple[int, ...]] = []
    with torch.inference_mode():
        group_passes = 3 if learned else 2  # the learned prompt's, the shared prefix's, and one batch at least
        for members, prefix in _prefix_groups(contexts, shared, per_pass * group_passes):
            if len(members) == 1:
                alone.append(contexts[members[0]])
                continue
            chosen = [contexts[k] for k in members]
            conts = [_conts(pairs, groups[c]) for c in chosen]
            for context, scores in _after_prefix(model, chosen, conts, prefix, device, max_batch_tokens,
                                                 max_batch_size, per_pass, learned):  # fmt: skip
                place(context, scores)
        conts = [_conts(pairs, groups[c]) for c in alone]
        if learned is not None and alone:
            done = _after_prefix(model, alone, conts, 0, device, max_batch_tokens, max_batch_size, per_pass, learned)
        else:
            done = _batched(model, alone, conts, device, max_batch_tokens, max_batch_size, per_pass)
        for context, scores in done:
            place(context, scores)
    return out  # type: ignore[return-value]


def _prefix_groups(
    contexts: list[tuple[int, ...]], shared: list[int], group_tokens: int = 0
) -> list[tuple[list[int], int]]:
    """Sorted contexts cut into groups, each sharing a prefix of MIN_SHARED_TOKENS or more (every member keeps
    one token of its own) or alone, so that the tokens run in all are fewest: a group runs its prefix once and
    each member's rest, and costs `group_tokens` more for its own passes (its prefix's, a learned prompt's, its
    batches'). (A dynamic program over the cuts: questions behind the same demonstrations form one group, a
    question behind other demonstrations is not folded into it at the cost of a shorter prefix.)"""
    n = len(contexts)
    best = [0] * (n + 1)  # best[j]: fewest tokens for contexts[:j]
    cut = [0] * (n + 1)  # where the last group of contexts[:j] starts
    prefix = [0] * (n + 1)  # and the prefix it shares (0: a context alone)
    for j in range(1, n + 1):
        best[j], cut[j], prefix[j] = best[j - 1] + len(contexts[j - 1]), j - 1, 0
        common, total = len(contexts[j - 1]) - 1, len(contexts[j - 1])
        for i in range(j - 2, -1, -1):  # the group contexts[i:j]
            common = min(common, shared[i + 1], len(contexts[i]) - 1)
            if common < MIN_SHARED_TOKENS:
                break
            total += len(contexts[i])
            cost = best[i] + group_tokens + common + total - common * (j - i)
            if cost < best[j]:
                best[j], cut[j], prefix[j] = cost, i, common
    groups: list[tuple[list[int], int]] = []
    j = n
    while j > 0:
        groups.append((list(range(cut[j], j)), prefix[j]))
        j = cut[j]
    return groups[::-1]


def _conts(pairs: Sequence[Pair], members: list[int]) -> list[list[int]]:
    return [pairs[i][1] for i in members]


# -- contexts that begin alike --------------------------------------------------------------------------


def _after_prefix(model, contexts: list[tuple[int, ...]], continuations: list[list[list[int]]], prefix: int,
                  device: str, max_batch_tokens: int, max_batch_size: int, per_pass: int,
                  learned: LearnedPrompt | None = None):  # fmt: skip
    """Yield (context, its scores) for contexts that share their first `prefix` tokens (the demonstrations):
    the prefix runs once (after the learned prompt's keys and values), and the rest of every context runs
    after that key-value cache, in batches."""
    first = DynamicCache(config=model.config)
    before = prefix_cache(model, learned, first, device) if learned else 0
    if prefix:
        ids = torch.tensor([list(contexts[0][:prefix])], device=device)
        model(ids, past_key_values=first, use_cache=True, logits_to_keep=1)
    rows = _rows(contexts, continuations)
    results: list[list[Score | None]] = [[None] * len(c) for c in continuations]
    for batch in _batches(rows, max_batch_tokens, max_batch_size, per_pass, prefix):
        cache = copy.deepcopy(first)
        cache.batch_repeat_interleave(len(batch))
        _score_rows(model, batch, contexts, continuations, results, device, prefix, cache, before)
    for g, context in enumerate(contexts):
        yield context, results[g]


# -- contexts batched ---------------------------------------------------------------------------------


def _batched(model, contexts: list[tuple[int, ...]], continuations: list[list[list[int]]], device: str,
             max_batch_tokens: int, max_batch_size: int, per_pass: int):  # fmt: skip
    """Yield (context, its scores) for contexts run in right-padded batches under the token budget."""
    rows = _rows(contexts, continuations)
    results: list[list[Score | None]] = [[None] * len(c) for c in continuations]
    for batch in _batches(rows, max_batch_tokens, max_batch_size, per_pass):
        _score_rows(model, batch, contexts, continuations, results, device)
    for g, context in enumerate(contexts):
        yield context, results[g]


def _rows(
    contexts: list[tuple[int, ...]], continuations: list[list[list[int]]]
) -> list[tuple[int, list[int], list[int]]]:
    """(group, ids fed, which continuations it scores): a group whose continuations are all one token is one row
    (its context); a longer continuation gets a row of its own (context + all but its last token)."""
    rows: list[tuple[int, list[int], list[int]]] = []
    for g, (context, conts) in enumerate(zip(contexts, continuations)):
        longer = [k for k, c in enumerate(conts) if len(c) > 1]
        short = [k for k, c in enumerate(conts) if len(c) == 1]
        for j, k in enumerate(longer):  # the first such row also serves the one-token continuations
            rows.append((g, list(context) + conts[k][:-1], [k] + (short if j == 0 else [])))
        if not longer:
            rows.append((g, list(context), short))
    return rows


def _batches(rows: list, max_batch_tokens: int, max_batch_size: int, per_pass: int, prefix: int = 0) -> list[list]:
    """Rows longest first, cut into runs under the token budget (a row counts every token it attends to, a
    shared prefix included) and the row cap, so that the fed tokens, padding included, plus `per_pass` a pass,
    are fewest (a dynamic program over the cuts; a batch is at most max_batch_size rows, so it is linear)."""
    ordered = sorted(rows, key=lambda r: -len(r[1]))
    cost = [0] * (len(ordered) + 1)
    cut = [0] * (len(ordered) + 1)
    for end in range(1, len(ordered) + 1):
        cost[end] = -1
        for start in range(end - 1, max(-1, end - 1 - max_batch_size), -1):
            width = len(ordered[start][1])  # the longest row of ordered[start:end]
            if start < end - 1 and (end - start) * width > max_batch_tokens:
                break  # an earlier start only widens the batch
            total = cost[start] + per_pass + (end - start) * (width - prefix)
            if cost[end] < 0 or total < cost[end]:
                cost[end], cut[end] = total, start
    out: list[list] = []
    end = len(ordered)
    while end:
        out.append(ordered[cut[end] : end])
        end = cut[end]
    return out[::-1]


def _score_rows(model, batch, contexts, continuations, results, device: str, prefix: int = 0, cache=None,
                before: int = 0) -> None:  # fmt: skip
    """One right-padded forward pass over the rows (after `prefix` tokens held in `cache`, when given, and
    the `before` positions of a learned prompt ahead of them)."""
    width = max(len(ids) for _, ids, _ in batch) - prefix
    inputs = torch.zeros((len(batch), width), dtype=torch.long, device=device)
    mask = torch.zeros((len(batch), before + prefix + width), dtype=torch.long, device=device)
    mask[:, : before + prefix] = 1
    where: list[tuple[int, int]] = []  # (row, position) whose next-token distribution is needed
    needs: list[tuple[int, int, int, list[int]]] = []  # (group, continuation, first index in `where`, tokens)
    for r, (g, ids, which) in enumerate(batch):
        inputs[r, : len(ids) - prefix] = torch.tensor(ids[prefix:], device=device)
        mask[r, before + prefix : before + len(ids)] = 1
        start = len(contexts[g]) - 1 - prefix  # the context's last position predicts a continuation's first token
        for k in which:
            tokens = continuations[g][k]
            needs.append((g, k, len(where), tokens))
            where.extend((r, start + j) for j in range(len(tokens)))
    extra = {"past_key_values": cache, "use_cache": True} if cache is not None else {}
    hidden = model.base_model(input_ids=inputs, attention_mask=mask, **extra).last_hidden_state
    rows_at = torch.tensor([r for r, _ in where], device=device)
    cols_at = torch.tensor([c for _, c in where], device=device)
    logp = torch.log_softmax(model.get_output_embeddings()(hidden[rows_at, cols_at]).float(), dim=-1)
    for g, k, first, tokens in needs:
        part = logp[first : first + len(tokens)]
        wanted = torch.tensor(tokens, device=device)
        logprob = float(part.gather(-1, wanted[:, None]).sum())
        greedy = bool((part.argmax(-1) == wanted).all())
        results[g][k] = Score(logprob, len(tokens), greedy)
