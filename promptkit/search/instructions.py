"""instruction_search: APE's proposals from input-output pairs, then OPRO's refinement (the best so far with
their scores in a meta-prompt), each scored on the whole development split, under the budget.

What is searched is the searched method's task word: classify's prefix (Zhao et al.'s prompt_prefix),
the few-shot instruction, zero-shot CoT's trigger. Candidate 0 is always the current word."""

from __future__ import annotations

import random
import re
from typing import Any

from promptkit.engines.base import Engine
from promptkit.errors import PromptkitError
from promptkit.search.budget import BudgetSpent
from promptkit.search.candidate import Candidate
from promptkit.search.scoring import Scorer, logged_generation
from promptkit.search.settings import SearchSettings
from promptkit.stages.framework.templating import default_templates
from promptkit.tasks import Task
from promptkit.types import GenRequest, Sampling

SEARCHED_WORD = {
    "classify": "prompt_prefix",
    "zero_shot_cot": "cot_trigger",
    "few_shot": "instruction",
    "few_shot_cot": "instruction",
}
"""The task word each method's instruction is: what instruction_search changes."""
ENDINGS = {"prompt_prefix": "\n\n", "instruction": "\n\n", "cot_trigger": ""}
"""What follows a proposed sentence in the word (a prefix ends in a blank line)."""
PUBLISHED = {
    "cot_trigger": (
        ("published: APE", "Let's work this out in a step by step way to be sure we have the right answer."),
        ("published: OPRO", "Take a deep breath and work on this problem step-by-step."),
    )
}
"""Triggers others found by searching (Zhou et al. 2022 on InstructGPT; Yang et al. 2023 on PaLM 2 for GSM8K)."""

APE_PAIRS, APE_TOKENS, APE_TEMPERATURE = 5, 50, 0.9
"""APE's defaults: 5 demonstrations a proposal, 50 tokens at temperature 0.9."""
OPRO_SHOWN, OPRO_PROBLEMS, OPRO_TOKENS, OPRO_TEMPERATURE = 20, 3, 64, 1.0
"""OPRO's: the 20 best instructions shown, 3 problems, temperature 1.0 (our token limit)."""
LONGEST = 500
"""OPRO drops proposals longer than this."""
Ranked = list[tuple[Candidate, dict[str, Any]]]


def searched_word(method: str) -> str:
    word = SEARCHED_WORD.get(method)
    if word is None:
        raise PromptkitError(
            f"instruction_search: {method} has no instruction to search (methods: {', '.join(SEARCHED_WORD)})"
        )
    return word


def search_instructions(
    scorer: Scorer, dev: Task, pool: Task, settings: SearchSettings, proposer: Engine | None = None
) -> Ranked:
    word = searched_word(scorer.method["name"])
    current = scorer.task.definition.prompts.words()[word] if scorer.task.definition else ""
    cost = scorer.cost(Candidate())
    scored: dict[str, tuple[int, Candidate, dict[str, Any]]] = {}

    def consider(text: str, origin: str) -> None:
        candidate = Candidate(words=((word, text),), origin=origin)
        if candidate.key not in scored and scorer.ledger.afford(cost):
            scored[candidate.key] = (len(scored), candidate, scorer.score(candidate, dev, "dev"))

    consider(current, "current")
    if not scored:
        raise BudgetSpent(f"budget {settings.budget}: not even the current prompt can be scored ({cost} calls)")
    for origin, text in PUBLISHED.get(word, ()):
        consider(text, origin)
    step, idle = 0, 0
    while scorer.ledger.afford(1 + cost) and idle < 2:
        before = len(scored)
        if step == 0:
            requests, parse, origin = _ape(pool, settings), _first_line, "APE"
        else:
            requests, parse, origin = _opro(pool, scored.values(), word, settings, step), _tagged(word), "OPRO"
        texts = logged_generation(scorer, f"propose {step}", requests, proposer)
        for sample in texts:
            for text in sample:
                proposal = parse(text)
                if proposal:
                    consider(proposal + ENDINGS[word], f"{origin} step {step}")
        idle = idle + 1 if len(scored) == before else 0
        step += 1
    ranked = sorted(scored.values(), key=lambda t: (-t[2]["score"], t[0]))
    return [(c, entry) for _, c, entry in ranked]


def _pairs(pool: Task, rng: random.Random, n: int) -> list[dict[str, str]]:
    picks = rng.sample(range(len(pool.examples)), min(n, len(pool.examples)))
    return [{"input": str(pool.examples[i].inputs["question"]), "output": str(pool.examples[i].target)} for i in picks]


def _ape(pool: Task, settings: SearchSettings) -> list[GenRequest]:
    """One proposal per request, each from its own subsample of pairs (APE's forward generation)."""
    sampling = Sampling(max_tokens=APE_TOKENS, temperature=APE_TEMPERATURE, stop=("\n",), seed=settings.seed)
    pairs = [_pairs(pool, random.Random(f"{settings.seed}:ape:{j}"), APE_PAIRS) for j in range(settings.proposals)]
    return [GenRequest(default_templates().render("search/ape", {"pairs": p}), sampling) for p in pairs]


def _opro(pool: Task, scored, word: str, settings: SearchSettings, step: int) -> list[GenRequest]:
    """OPRO's meta-prompt: the best so far in ascending order, with their scores out of 100, and 3 problems."""
    best = sorted(scored, key=lambda t: (t[2]["score"], -t[0]))[-OPRO_SHOWN:]
    shown = [{"text": c.words[0][1].strip(), "score": round(100 * entry["score"])} for _, c, entry in best]
    problems = [
        {"question": p["input"], "answer": p["output"]}
        for p in _pairs(pool, random.Random(f"{settings.seed}:opro:{step}"), OPRO_PROBLEMS)
    ]
    prompt = default_templates().render(
        "search/opro", {"starting": word == "cot_trigger", "scored": shown, "problems": problems}
    )
    sampling = Sampling(
        max_tokens=OPRO_TOKENS, temperature=OPRO_TEMPERATURE, n=settings.proposals, seed=(settings.seed + step) % 2**63
    )
    return [GenRequest(prompt, sampling)]


def _polish(text: str) -> str:
    """OPRO's polish_sentence: no '**', the first letter upper-cased; too long or tag-laden: dropped."""
    text = text.replace("**", "").strip()
    if not text or len(text) > LONGEST or "INS" in text or "<Start>" in text:
        return ""
    return text[0].upper() + text[1:]


def _first_line(text: str) -> str:
    """APE's proposal: the completion of 'The instruction was to', on its line."""
    return _polish(text.strip().split("\n")[0])


def _tagged(word: str):
    tag = "Start" if word == "cot_trigger" else "INS"

    def parse(text: str) -> str:
        """OPRO's parse: between the first <tag> and </tag>; a missing tag: from the start, or to the end."""
        start = text.find(f"<{tag}>")
        text = text[start + len(tag) + 2 :] if start >= 0 else text
        end = text.find(f"</{tag}>")
        return _polish(re.sub(r"\s+", " ", text[:end] if end >= 0 else text))

    return parse
