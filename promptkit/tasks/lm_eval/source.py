"""An lm-eval task's documents, and what lm-eval's own code makes of each: its k-shot prompt, its requests, the
gold answer its scoring compares with, its filters' answer and its metric."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from promptkit.errors import PromptkitError
from promptkit.tasks.lm_eval.facts import LmEvalFacts

FEWSHOT_SEED = 1234
"""lm-eval's evaluator seeds its few-shot sampler with this (simple_evaluate's fewshot_random_seed)."""
INVALID = "[invalid]"
"""What lm-eval's regex filters give when nothing matches: promptkit's unparsed answer (None)."""


@dataclass(frozen=True)
class Choice:
    """One request of a multiple-choice document: lm-eval's (context, continuation) pair, and the option text
    whose length acc_norm divides by."""

    label: str
    context: str
    continuation: str
    text: str


@dataclass(frozen=True, eq=False)
class LmEvalSource:
    facts: LmEvalFacts
    task: Any
    """lm-eval's Task object, built over the data."""
    docs: tuple[dict[str, Any], ...]
    """Its evaluated documents, in lm-eval's order (doc_id is the position)."""
    _prompts: dict[tuple[int, int], list[Any]] = field(default_factory=dict, repr=False)

    def prompts(self, shots: int, seed: int, upto: int) -> list[Any]:
        """The first `upto` documents' `shots`-shot contexts, as lm-eval's evaluator builds them: the sampler
        seeded once, then every document in order (so a document's prompt is the same whatever --limit,
        batch or resume). A context is a string, or one per choice where each choice has its own."""
        have = self._prompts.get((shots, seed), [])
        if len(have) < upto:
            self.task.set_fewshot_seed(seed=seed)
            try:
                have = [
                    self.task.fewshot_context(doc, num_fewshot=shots, gen_prefix=self.task.doc_to_prefix(doc))
                    for doc in self.docs[:upto]
                ]
            except ValueError:  # lm-eval's sampler: fewer documents to draw from than asked
                pool = len(self.task.fewshot_docs() or ())
                raise PromptkitError(
                    f"lm-eval task {self.facts.task!r}: {shots} shots, and it has {pool} documents to draw them from "
                    "(give its training split a file, or fewer --shots)"
                ) from None
            self._prompts[shots, seed] = have
        return have[:upto]

    def requests(self, index: int, context: Any) -> list[tuple[Any, ...]]:
        """lm-eval's request arguments for a document over its context (construct_requests)."""
        made = self.task.construct_requests(
            doc=self.docs[index], ctx=context, metadata=(self.facts.task, index, self.task.config.repeats)
        )
        return [inst.arguments for inst in (made if isinstance(made, list) else [made])]

    def choices(self, index: int, context: Any, labels: Sequence[str]) -> list[Choice]:
        """A multiple-choice document's requests, one per option."""
        options = self.task.doc_to_choice(self.docs[index])
        pairs = self.requests(index, context)[: len(options)]  # mutual information adds unconditional ones
        return [Choice(label, c, cont, text) for label, (c, cont), text in zip(labels, pairs, options)]

    def gold(self, doc: dict[str, Any]) -> Any:
        """What lm-eval's process_results compares with: an option's index (multiple choice), or the text."""
        task = self.task
        if getattr(task, "multiple_target", False):
            raise PromptkitError(
                f"lm-eval task {self.facts.task!r} gives a document several gold answers (multiple_target): "
                "promptkit scores one gold answer per example, so it does not run this task"
            )
        if self.facts.output_type == "multiple_choice":
            gold = task.doc_to_text(doc) if task.multiple_input else task.doc_to_target(doc)
            choices = task.doc_to_choice(doc)
            if isinstance(gold, str):
                return choices.index(gold) if gold in choices else None
            if isinstance(gold, int) and 0 <= gold < len(choices):
                return gold
            return None
        gold = task.doc_to_target(doc)
        if task.config.doc_to_choice is not None:
            gold = task.doc_to_choice(doc)[gold]
        return str(gold)

    def filtered(self, name: str, text: str, index: int) -> str | None:
        """A generated text through the task's filter pipeline of that name, for its document (lm-eval's
        FilterEnsemble.apply on one Instance)."""
        from lm_eval.api.instance import Instance

        ensemble = next((f for f in self.task._filters if f.name == name), None)
        if ensemble is None:
            raise PromptkitError(f"lm-eval task {self.facts.task!r} has no filter {name!r} (its: {self.filter_names})")
        inst = Instance("generate_until", self.docs[index], ("", {}), 0, (self.facts.task, index, 1))
        inst.resps = [text]
        ensemble.apply([inst])
        out = inst.filtered_resps[name]
        out = out[0] if isinstance(out, list) and out else out
        return None if out == INVALID or not isinstance(out, str) else out

    @property
    def filter_names(self) -> str:
        return ", ".join(f.name for f in self.task._filters)

    def matches(self, prediction: str, gold: str) -> bool:
        """A generation task's metric over one answer, as its process_results computes it (exact_match with the
        task's ignore_case, regexes_to_ignore, ...)."""
        metric = self.facts.metric
        result = self.task._metric_fn_list[metric](
            references=[gold], predictions=[prediction], **self.task._metric_fn_kwargs.get(metric, {})
        )
        value = result[metric] if isinstance(result, dict) else result
        return float(value) >= 1.0
