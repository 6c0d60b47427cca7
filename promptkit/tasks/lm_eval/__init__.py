"""lm-evaluation-harness's task library read through lm-eval's own code (the optional extra `promptkit[lm-eval]`).

`--task lm-eval:NAME` names any task lm-eval's index knows; a task file with an `lm_eval:` key names one and
where its data lies. lm-eval builds the task (its `process_docs` and `!function` hooks, choices, targets,
delimiters, few-shot sampling and filters run as lm-eval runs them); promptkit reads its documents into
examples, and the `lm_eval` method sends lm-eval's own requests.
"""

from __future__ import annotations

from promptkit.tasks.lm_eval.facts import PREFIX, LmEvalFacts, is_lm_eval_name
from promptkit.tasks.lm_eval.index import find, leaf_tasks


def lm_eval_task_names(name: str) -> list[str]:
    """`lm-eval:NAME` as the tasks it runs: the task itself, or each task of a group or tag."""
    return [PREFIX + e.name for e in leaf_tasks(find(name.removeprefix(PREFIX)))]


__all__ = ["PREFIX", "LmEvalFacts", "is_lm_eval_name", "lm_eval_task_names"]
