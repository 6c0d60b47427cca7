"""A run's extractor for its task: a named extractor, or an lm-eval task's own filter pipeline (`lm-eval:NAME`).

On an lm-eval generation task every extractor's answer is scored by the task's own metric (exact_match with its
ignore_case, regexes_to_ignore, ...) against lm-eval's gold text, so that methods compare on lm-eval's measure.
"""

from __future__ import annotations

from dataclasses import replace

from promptkit.errors import PromptkitError
from promptkit.stages.library.extractors import Extractor, get_extractor
from promptkit.tasks import Task
from promptkit.types import Example

LM_EVAL = "lm-eval:"
"""`lm-eval:strict-match`: the task's filter pipeline of that name."""


def task_extractor(name: str, task: Task) -> Extractor:
    source = task.lm_eval
    if name.startswith(LM_EVAL):
        wanted = name.removeprefix(LM_EVAL)
        if source is None:
            raise PromptkitError(f"extractor {name!r} is an lm-eval task's filter, and task {task.name!r} is not one")
        if wanted not in source.facts.filters:
            raise PromptkitError(
                f"extractor {name!r}: lm-eval task {source.facts.task!r} has no filter {wanted!r} "
                f"(its filters: {', '.join(LM_EVAL + f for f in source.facts.filters)})"
            )

        def by_filter(text: str, example: Example) -> str | None:
            return source.filtered(wanted, text, int(example.inputs["lm_eval_doc"]))

        return Extractor(name, lambda text: None, source.matches, extract_for=by_filter)
    extractor = get_extractor(name, task.answer_kind, task.labels)
    if source is not None and source.facts.output_type == "generate_until":
        return replace(extractor, matches=source.matches)
    return extractor
