"""Log-likelihoods on the transformers engine: each distinct context runs once, its continuations after it.

Requests are grouped by context (the choices of one question share theirs). Contexts are sorted, and
each is handled one of two ways:

- **after the previous one**: a context that shares MIN_SHARED_TOKENS or more leading tokens with the
  one before it (the same demonstrations before another question) starts from that one's key-value
  cache, cut to the shared tokens, so the demonstrations run once, not once per question;
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

from promptkit.engines.implementing import common_prefix_length
from promptkit.types import Score

MIN_SHARED_TOKENS = 32
"""A shorter common beginning is run again rather than copied from the previous context's cache."""

Pair = tuple[list[int], list[int]]


def score_pairs(model, pairs: Sequence[Pair], device: str, max_batch_tokens: int, max_batch_size: int) -> list[Score]:
    """Score (context ids, continuation ids) pairs, in input order."""
    groups: dict[tuple[int, ...], list[int]] = {}
    for i, (context, _) in enumerate(pairs):
        groups.setdefault(tuple(context), []).append(i)
    contexts = sorted(groups)
    shared = [0] + [common_prefix_length(a, b) for a, b in itertools.pairwise(contexts)]
    chained = [k for k in range(len(contexts)) if shared[k] >= MIN_SHARED_TOKENS or
               (k + 1 < len(contexts) and shared[k + 1] >= MIN_SHARED_TOKENS)]  # fmt: skip
    out: list[Score | None] = [None] * len(pairs)

    def place(context: tuple[int, ...], scores: list[Score]) -> None:
        for i, score in zip(groups[context], scores):
            out[i] = score

    with torch.inference_mode():
        previous = None
        for k in chained:  # in sorted order: each one's neighbour is the previous context
            context = contexts[k]  # type: ignore[assignment]
            scores, previous = _after_previous(model, list(context), _conts(pairs, groups[context]), device, previous)  # type: ignore[index]
            place(context, scores)  # type: ignore[arg-type]
        taken = set(chained)
        alone = [contexts[k] for k in range(len(contexts)) if k not in taken]
        for context, scores in _batched(model, alone, [_conts(pairs, groups[c]) for c in alone], device,
                                        max_batch_tokens, max_batch_size):  # fmt: skip
            place(context, scores)
    return out  # type: ignore[return-value]


def _conts(pairs: Sequence[Pair], members: list[int]) -> list[list[int]]:
    return [pairs[i][1] for i in members]


# -- contexts that begin as the previous one did -----------------------------------------------------


def _after_previous(model, context: list[int], continuations: list[list[int]], device: str, previous):
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


def _run_context(model, context: list[int], device: str, previous):
    """The context's forward pass, from the previous context's cache where they share a long beginning."""
    shared = 0
    if previous is not None:
        # At least one token is run: its logits score the first choice token.
        shared = min(common_prefix_length(previous[0], context), len(context) - 1)
    if shared >= MIN_SHARED_TOKENS:
        cache = copy.deepcopy(previous[1])
        if len(previous[0]) > shared:
            cache.crop(shared - len(previous[0]))  # a negative count: the tokens to drop from its end
        return model(torch.tensor([context[shared:]], device=device), past_key_values=cache, use_cache=True)
    return model(torch.tensor([context], device=device), use_cache=True)


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


# -- contexts batched ---------------------------------------------------------------------------------


def _batched(model, contexts: list[tuple[int, ...]], continuations: list[list[list[int]]], device: str,
             max_batch_tokens: int, max_batch_size: int):  # fmt: skip
    """Yield (context, its scores) for contexts run in right-padded batches under the token budget."""
    rows: list[tuple[int, list[int], list[int]]] = []  # (group, ids fed, which continuations it scores)
    for g, (context, conts) in enumerate(zip(contexts, continuations)):
        longer = [k for k, c in enumerate(conts) if len(c) > 1]
        short = [k for k, c in enumerate(conts) if len(c) == 1]
        for j, k in enumerate(longer):  # the first such row also serves the one-token continuations
            rows.append((g, list(context) + conts[k][:-1], [k] + (short if j == 0 else [])))
        if not longer:
            rows.append((g, list(context), short))
    results: list[list[Score | None]] = [[None] * len(c) for c in continuations]
    for batch in _batches(rows, max_batch_tokens, max_batch_size):
        _score_rows(model, batch, contexts, continuations, results, device)
    for g, context in enumerate(contexts):
        yield context, results[g]


def _batches(rows: list, max_batch_tokens: int, max_batch_size: int) -> list[list]:
    out: list[list] = []
    for row in sorted(rows, key=lambda r: -len(r[1])):  # longest first: padding stays small
        batch = out[-1] if out else None
        if batch and len(batch) < max_batch_size and (len(batch) + 1) * len(batch[0][1]) <= max_batch_tokens:
            batch.append(row)
        else:
            out.append([row])
    return out


def _score_rows(model, batch, contexts, continuations, results, device: str) -> None:
    width = max(len(ids) for _, ids, _ in batch)
    inputs = torch.zeros((len(batch), width), dtype=torch.long, device=device)
    mask = torch.zeros((len(batch), width), dtype=torch.long, device=device)
    where: list[tuple[int, int]] = []  # (row, position) whose next-token distribution is needed
    needs: list[tuple[int, int, int, list[int]]] = []  # (group, continuation, first index in `where`, tokens)
    for r, (g, ids, which) in enumerate(batch):
        inputs[r, : len(ids)] = torch.tensor(ids, device=device)
        mask[r, : len(ids)] = 1
        start = len(contexts[g]) - 1  # the context's last position predicts a continuation's first token
        for k in which:
            tokens = continuations[g][k]
            needs.append((g, k, len(where), tokens))
            where.extend((r, start + j) for j in range(len(tokens)))
    hidden = model.base_model(input_ids=inputs, attention_mask=mask).last_hidden_state
    rows_at = torch.tensor([r for r, _ in where], device=device)
    cols_at = torch.tensor([c for _, c in where], device=device)
    logp = torch.log_softmax(model.get_output_embeddings()(hidden[rows_at, cols_at]).float(), dim=-1)
    for g, k, first, tokens in needs:
        part = logp[first : first + len(tokens)]
        wanted = torch.tensor(tokens, device=device)
        logprob = float(part.gather(-1, wanted[:, None]).sum())
        greedy = bool((part.argmax(-1) == wanted).all())
        results[g][k] = Score(logprob, len(tokens), greedy)
