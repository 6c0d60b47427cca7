"""bootstrap (DSPy's BootstrapFewShot): the model, or a teacher engine, answers training questions with
its reasoning; the ones it gets right, rationale and all, become the pool that demo_search draws from."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

from promptkit.engines.base import Engine
from promptkit.errors import PromptkitError
from promptkit.files.atomic import write_text_atomic
from promptkit.runs.build import build_method
from promptkit.runs.evaluate import evaluate
from promptkit.search.budget import BudgetSpent
from promptkit.search.scoring import Scorer, work_done
from promptkit.stages.library.demo_pools import definition_of, exemplar_id, pool_id
from promptkit.tasks import Task
from promptkit.tasks.definition import COT_TRIGGER


def teacher_method(task: Task) -> str:
    """Few-shot CoT with the task's exemplars where it has some (as DSPy's teacher has its labelled demos);
    else zero-shot CoT."""
    return "few_shot_cot" if definition_of(task).prompts.exemplars else "zero_shot_cot"


def rationale_of(fields: dict[str, Any], method: str) -> str:
    """The reasoning before the answer, on one line as a few-shot CoT demonstration writes it."""
    if method == "zero_shot_cot":  # Kojima's reasoning, after the trigger it followed (as Auto-CoT keeps it)
        return " ".join(f"{COT_TRIGGER} {fields.get('rationale', '')}".split())
    text = str(fields.get("answer", ""))
    return " ".join(text.split("The answer is")[0].split())


def bootstrap(scorer: Scorer, pool: Task, questions: int, seed: int, teacher: Engine, out: Path) -> list[str]:
    """Write the kept demonstrations to `out` (an exemplars file) and return their ids, in the file's order."""
    work = "bootstrap"
    entry = scorer.log.recall(work)
    if entry is None:
        picks = random.Random(f"{seed}:bootstrap").sample(range(len(pool.examples)), min(questions, len(pool.examples)))
        asked = pool.with_examples(tuple(pool.examples[i] for i in picks))
        method = teacher_method(pool)
        built = build_method(asked, method)
        counted = 2 if method == "zero_shot_cot" else 1
        if not scorer.ledger.afford(counted):
            raise BudgetSpent(f"budget {scorer.ledger.budget}: the teacher's {counted} calls do not fit")
        result = evaluate(asked, built.pipeline, teacher, built.extractor, method=method)
        kept = []
        for state, row in zip(result.states, result.rows):
            rationale = rationale_of(dict(state.fields), method)
            if row["correct"] and rationale:
                e = state.example
                kept.append({"question": str(e.inputs["question"]), "rationale": rationale, "answer": str(e.target),
                             "source": pool_id(e.id)})  # fmt: skip
        entry = {"work": work, "teacher": teacher.identity.model, "method": method, "asked": len(picks), "kept": kept,
                 **work_done(result)}  # fmt: skip
        scorer.log.write({**entry, "spent": scorer.ledger.calls + entry["calls"]})
    scorer.ledger.spend(entry)
    kept = entry["kept"]
    if not kept:
        raise PromptkitError(
            f"bootstrap: the teacher ({entry['teacher']}) answered none of {entry['asked']} training questions "
            "right, so there is nothing to keep (a stronger --teacher, or more --bootstrap questions)"
        )
    write_text_atomic(out, json.dumps({"exemplars": kept}, indent=1, ensure_ascii=False) + "\n")
    return [exemplar_id(i) for i in range(len(kept))]
