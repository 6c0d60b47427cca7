"""Named methods: each returns the `pipeline:` stages it stands for, as spec data.

The stages are then checked by the one schema and built by the one builder, exactly as a
hand-written pipeline is, and spec.resolved.yaml shows them. Adding a method is adding a function
here. Prompt text lives in templates/, never here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from promptkit.errors import PromptkitError
from promptkit.registry import Registry
from promptkit.runspec.models import MethodSpec
from promptkit.stages.library.label_words import random_label_words
from promptkit.stages.stage_kinds import MODEL_CALLING
from promptkit.tasks import TaskDefinition
from promptkit.tasks.lm_eval import LmEvalFacts

# lm-evaluation-harness gsm8k_cot's `until`.
FEW_SHOT_STOP = ["Q:", "</s>", "<|im_end|>"]
STEP_STOP = ["\n\n", "\nQ:"]

Stages = list[dict[str, Any]]


@dataclass(frozen=True)
class Options:
    """A method spec with the method's defaults filled in; helpers that write stage data."""

    method: MethodSpec
    task: TaskDefinition
    samples: int
    extractor: str

    @property
    def temperature(self) -> float:
        if self.method.temperature is not None:
            return self.method.temperature
        return 0.7 if self.samples > 1 else 0.0  # greedy samples would all be the same

    def template(self, stage: str, default: str) -> str:
        return self.method.templates.get(stage, default)

    def max_tokens(self, stage: str, default: int) -> int:
        return self.method.max_tokens.get(stage, default)

    def sampling(self, stage: str, max_tokens: int, *, split: bool = False, **extra: Any) -> dict[str, Any]:
        """Sampling fields of a model-calling stage; the `split` stage draws the samples."""
        out = {"name": stage, "max_tokens": self.max_tokens(stage, max_tokens), "temperature": self.temperature}
        if self.method.seed is not None:
            out["seed"] = self.method.seed
        if split and self.samples > 1:
            out["n"] = self.samples
        return {**out, **extra}

    def generate(self, stage: str, template: str, output: str, max_tokens: int, **extra: Any) -> dict[str, Any]:
        prompt = {"template": self.template(stage, template)}
        return {"kind": "generate", **self.sampling(stage, max_tokens, **extra), **prompt, "output": output}

    def extract(self) -> dict[str, Any]:
        return {"kind": "extract", "extractor": self.extractor}


def direct(o: Options) -> Stages:
    """Zero-shot: the question and an answer prefix (Kojima et al.'s zero-shot baseline)."""
    return [o.generate("answer", "direct", "answer", 32, split=True), o.extract()]


def zero_shot_cot(o: Options) -> Stages:
    """Kojima et al.: 'Let's think step by step.' then the answer trigger, two batched calls."""
    return [
        o.generate("reason", "zero_shot_cot/reason", "rationale", 256, split=True),
        o.generate("answer", "zero_shot_cot/answer", "answer", 32),
        o.extract(),
    ]


def _plan_and_solve(o: Options, trigger: str) -> Stages:
    return [
        o.generate("reason", f"plan_and_solve/{trigger}", "rationale", 256, split=True),
        o.generate("answer", f"plan_and_solve/{trigger}_answer", "answer", 32),
        o.extract(),
    ]


def plan_and_solve(o: Options) -> Stages:
    """Wang et al. 2023, PS: plan, then carry out the plan; then Kojima et al.'s answer trigger."""
    return _plan_and_solve(o, "ps")


def plan_and_solve_plus(o: Options) -> Stages:
    """Wang et al. 2023, PS+: PS with variables, intermediate results and care with calculation."""
    return _plan_and_solve(o, "ps_plus")


def _few_shot(o: Options, cot: bool) -> Stages:
    m = o.method
    if m.chat:
        assistant = o.template("answer", "chat/assistant_cot" if cot else "chat/assistant")
        prompt: dict[str, Any] = {"chat": {"user": "chat/user", "assistant": assistant}}
    else:
        prompt = {"template": o.template("answer", "few_shot_cot" if cot else "few_shot")}
    sampling = o.sampling("answer", 256 if cot else 32, split=True, stop=FEW_SHOT_STOP)
    select: dict[str, Any] = {
        "kind": "select_demos",
        "strategy": m.selector,
        "order": m.order,
        "seed": m.selection_seed,
    }
    select |= {k: v for k, v in {"pool": m.pool, "k": m.shots, "order_seed": m.order_seed}.items() if v is not None}
    select |= {"ids": m.demos} if m.demos is not None else {}
    ablation = {"answers": m.demo_answers, "rationales": m.demo_rationales, "inputs": m.demo_inputs}
    select |= {k: v for k, v in ablation.items() if v != "gold"}  # only what changes, so renders stay as they were
    select |= {"ood_pool": m.demo_ood_pool} if m.demo_ood_pool else {}
    return [
        select,
        {"kind": "pack", **prompt, "max_tokens": sampling["max_tokens"]},
        {"kind": "generate", **sampling, **prompt, "output": "answer"},
        o.extract(),
    ]


def auto_cot(o: Options) -> Stages:
    """Zhang et al. 2022: few-shot CoT whose demonstrations the model wrote (one per question cluster)."""
    stages = _few_shot(o, cot=True)
    build = {"kind": "auto_cot", **({"clusters": o.method.shots} if o.method.shots else {})}
    build |= {"pool": o.method.pool} if o.method.pool else {}
    return [build, *stages[1:]]


def few_shot(o: Options) -> Stages:
    """In-context learning: demonstrations with their answers, then the question."""
    return _few_shot(o, cot=False)


def few_shot_cot(o: Options) -> Stages:
    """Wei et al.: demonstrations with rationales; GSM8K is lm-eval's gsm8k_cot prompt byte for byte."""
    return _few_shot(o, cot=True)


def choice(o: Options) -> Stages:
    """Multiple choice by likelihood, zero-shot: the direct prompt, each label scored after it (lm-eval's way)."""
    return [{"kind": "score_choices", "name": "score", "template": o.template("score", "direct")}]


def few_shot_choice(o: Options) -> Stages:
    """Demonstrations with their answers, then the question; each label scored after 'The answer is'."""
    stages = _few_shot(o, cot=False)
    template = o.template("score", "choice/few_shot")
    stages[1] = {"kind": "pack", "template": template, "max_tokens": SCORE_BUDGET}
    return [stages[0], stages[1], {"kind": "score_choices", "name": "score", "template": template}]


def classify(o: Options) -> Stages:
    """Classification by label probability (Zhao et al.): `shots` demonstrations drawn once per seed
    (selection_seed) and shared by every question, then each class's words scored after the task's format;
    `calibrate: content_free` for contextual calibration."""
    m = o.method
    if o.task.prompts.classification is None and o.task.lm_eval is not None:
        raise PromptkitError(
            f"classify needs one set of classes for every question, and lm-eval task {o.task.lm_eval.task!r} gives "
            "each question options of its own (score them with lm_eval or choice)"
        )
    if o.task.prompts.classification is None:
        raise PromptkitError(
            f"classify needs a classification format, and task {o.task.name!r} has none (prompts.classification "
            "in its task file: q_prefix, a_prefix)"
        )
    score: dict[str, Any] = {
        "kind": "score_classes",
        "name": "score",
        "template": o.template("score", "classification/zhao"),
    }
    if m.calibrate != "none":
        score["calibrate"] = m.calibrate
    # The draw is Zhao et al.'s unless a selector is named (`fixed`: a pool's demonstrations in its order).
    strategy = option(m, "selector") if m.demos is None or "selector" in m.model_fields_set else "fixed"
    shots = m.shots if m.shots is not None or m.demos is None else len(m.demos)
    select = {"kind": "select_demos", "strategy": strategy, "k": shots or 0, "seed": m.selection_seed}
    select |= {"ids": m.demos} if m.demos is not None else {}
    select |= {k: v for k, v in {"pool": m.pool, "order_seed": m.order_seed}.items() if v is not None}
    select |= {"order": m.order} if m.order != "given" else {}  # only what changes, so renders stay as they were
    select |= {k: v for k, v in {"answers": m.demo_answers, "inputs": m.demo_inputs}.items() if v != "gold"}
    select |= {"ood_pool": m.demo_ood_pool} if m.demo_ood_pool else {}
    if m.label_words == "random_english":  # the same words in the demonstrations and in what is scored
        if not o.task.answer.labels:
            raise PromptkitError(f"label_words: random_english needs task {o.task.name!r} to list its answer.labels")
        words = random_label_words(o.task.answer.labels, m.selection_seed)
        select["relabel"], score["words"] = words, {label: [word] for label, word in words.items()}
    return [select, score]


# Tokens the choices take after the prompt, kept free when demonstrations are packed into the window.
SCORE_BUDGET = 16


def lm_eval(o: Options) -> Stages:
    """An lm-eval task as lm-eval runs it: its own k-shot prompts and requests (shots: the task's num_fewshot by
    default; selection_seed: its sampler's seed, lm-eval's 1234 by default), multiple choice scored by likelihood,
    generation cut at its `until` and read by its filter."""
    facts = _lm_eval_facts(o.task)
    requests: dict[str, Any] = {"kind": "lm_eval_requests"}
    requests |= {"shots": o.method.shots} if o.method.shots is not None else {}
    requests |= {"seed": o.method.selection_seed} if "selection_seed" in o.method.model_fields_set else {}
    if facts.output_type == "multiple_choice":
        return [requests, {"kind": "score_choices", "name": "score", "continuations": "pairs"}]
    sampling = {"stop": facts.until} | ({} if o.method.temperature is not None else {"temperature": facts.temperature})
    answer = o.generate("answer", "lm_eval/prompt", "answer", facts.max_gen_toks, split=True, **sampling)
    return [requests, answer, o.extract()]


def lm_eval_extractor(task: TaskDefinition) -> str:
    """The lm_eval method's answer: the task's first filter pipeline (lm-eval reports each), for choices the label."""
    facts = _lm_eval_facts(task)
    return "default" if facts.output_type == "multiple_choice" else f"lm-eval:{facts.filters[0]}"


def _lm_eval_facts(task: TaskDefinition) -> LmEvalFacts:
    if task.lm_eval is None:
        raise PromptkitError(
            f"the lm_eval method runs a task of lm-evaluation-harness (--task lm-eval:NAME), and task {task.name!r} "
            "is not one"
        )
    return task.lm_eval


def least_to_most(o: Options) -> Stages:
    """Decompose, then solve the subproblems in order, with the prompts the task file gives this method.

    least_to_most is Zhou et al.'s published prompts; least_to_most_promptkit our own shorter ones.
    """
    steps = o.task.prompts.least_to_most.get(o.method.name)
    if steps is None and o.task.lm_eval is not None:
        raise PromptkitError(
            f"{o.method.name} needs decomposition prompts written for the task, and lm-eval task "
            f"{o.task.lm_eval.task!r} has none (lm-eval has no such prompts; a promptkit task file can give them)"
        )
    if steps is None:
        raise PromptkitError(
            f"{o.method.name} needs prompts written for the task, and task {o.task.name!r} has none "
            f"(prompts.least_to_most.{o.method.name} in its task file)"
        )
    return [
        {
            "kind": "decompose",
            **o.sampling("decompose", 128, split=True, stop=STEP_STOP),
            "template": o.template("decompose", steps.decompose),
            "parser": steps.parser,
        },
        {"kind": "solve", **o.sampling("solve", 128, stop=STEP_STOP), "template": o.template("solve", steps.solve)},
        o.extract(),
    ]


# MethodSpec fields every method takes: samples and how they are drawn, budgets and templates per stage.
COMMON_OPTIONS = ("samples", "temperature", "seed", "max_tokens", "templates")
# ... and every method that scores rather than generates: there is nothing to sample.
SCORING_OPTIONS = ("templates",)
# The demonstration ablations (Min et al.): the MethodSpec fields named demo_*.
ABLATION_OPTIONS = tuple(name for name in MethodSpec.model_fields if name.startswith("demo_"))
# ... and the options of methods with demonstrations chosen from a pool.
DEMONSTRATION_OPTIONS = (
    "shots",
    "selector",
    "order",
    "selection_seed",
    "order_seed",
    "pool",
    "demos",
    "chat",
    *ABLATION_OPTIONS,
)


# classify: demonstrations drawn once per seed unless a selector is named (no rationales), and calibration.
CLASSIFY_OPTIONS = (
    "shots",
    "selector",
    "selection_seed",
    "order",
    "order_seed",
    "pool",
    "demos",
    "demo_answers",
    "demo_inputs",
    "demo_ood_pool",
    "label_words",
    "calibrate",
)


@dataclass(frozen=True)
class Method:
    stages: Callable[[Options], Stages]
    extractor: str | Callable[[TaskDefinition], str]
    """Zero-shot answers start with the number; demonstrations teach 'The answer is ...'. Or the task's own."""
    samples: int = 1
    options: tuple[str, ...] = ()
    """MethodSpec fields it takes beyond COMMON_OPTIONS; any other is refused, never silently ignored."""
    scores: bool = False
    """It scores choices by likelihood instead of generating: it takes no sampling options."""
    defaults: Mapping[str, Any] = field(default_factory=dict)
    """Its own values of MethodSpec fields a spec leaves unset (classify draws with the `seeded` selector)."""
    lm_eval_only: bool = False
    """It runs tasks of lm-evaluation-harness alone (--task lm-eval:NAME)."""

    @property
    def takes(self) -> tuple[str, ...]:
        return (*(SCORING_OPTIONS if self.scores else COMMON_OPTIONS), *self.options)


METHODS: Registry[Method] = Registry(
    "method",
    {
        "direct": Method(direct, "default"),
        "zero_shot_cot": Method(zero_shot_cot, "default"),
        "plan_and_solve": Method(plan_and_solve, "default"),
        "plan_and_solve_plus": Method(plan_and_solve_plus, "default"),
        "few_shot": Method(few_shot, "answer_is", options=DEMONSTRATION_OPTIONS),
        "few_shot_cot": Method(few_shot_cot, "answer_is", options=DEMONSTRATION_OPTIONS),
        "self_consistency": Method(few_shot_cot, "answer_is", samples=5, options=DEMONSTRATION_OPTIONS),
        # The model writes the demonstrations: shots is the number of clusters, pool the questions to cluster.
        "auto_cot": Method(auto_cot, "answer_is", options=("shots", "pool", "chat")),
        "choice": Method(choice, "default", scores=True),
        "few_shot_choice": Method(few_shot_choice, "default", options=DEMONSTRATION_OPTIONS, scores=True),
        "classify": Method(classify, "default", options=CLASSIFY_OPTIONS, scores=True, defaults={"selector": "seeded"}),
        "least_to_most": Method(least_to_most, "answer_is"),
        "least_to_most_promptkit": Method(least_to_most, "answer_is"),
        # lm-eval's sampler draws the demonstrations at random, seeded 1234 unless selection_seed says otherwise.
        "lm_eval": Method(
            lm_eval,
            lm_eval_extractor,
            options=("shots", "selection_seed"),
            defaults={"selector": "random"},
            lm_eval_only=True,
        ),
    },
)


def check_options(method: MethodSpec) -> Method:
    """The method; an option it does not take is a one-line error naming both."""
    named = METHODS.get(method.name)
    extra = sorted(method.model_fields_set - {"name"} - set(named.takes))
    if extra:
        raise PromptkitError(
            f"method.{extra[0]}: {method.name} does not take {extra[0]!r} (it takes: {', '.join(named.takes)})"
        )
    return named


def default_option(method_name: str, name: str) -> Any:
    """A MethodSpec field's value where a spec leaves it unset: the method's own default, else the spec's."""
    return METHODS.get(method_name).defaults.get(name, MethodSpec.model_fields[name].default)


def option(method: MethodSpec, name: str) -> Any:
    """A MethodSpec field as the method uses it."""
    return getattr(method, name) if name in method.model_fields_set else default_option(method.name, name)


def used_options(method: MethodSpec) -> dict[str, Any]:
    """What a run's summary records of its method: the options the method takes, as they were used."""
    named = check_options(method)
    unset = {k: v for k, v in named.defaults.items() if k not in method.model_fields_set}
    return method.model_dump(include=set(named.takes)) | unset


def expand_method(method: MethodSpec, task: TaskDefinition, extractor: str | None = None) -> tuple[Stages, str]:
    """The stages a named method runs, and the extractor that scores it."""
    named = check_options(method)
    own = named.extractor if isinstance(named.extractor, str) else named.extractor(task)
    options = Options(method, task, method.samples or named.samples, extractor or own)
    stages = named.stages(options)
    names = [s["name"] for s in stages if s["kind"] in MODEL_CALLING]
    for name in ("max_tokens", "templates"):
        unknown = sorted(set(getattr(method, name)) - set(names))
        if unknown:
            raise PromptkitError(
                f"method.{name}: {method.name} has no stage {unknown[0]!r} (its stages: {', '.join(names)})"
            )
    if options.samples > 1:
        stages.append({"kind": "vote"})
    return stages, options.extractor


def stage_names(method: str, task: TaskDefinition) -> list[str]:
    """The names of a method's model-calling stages, for messages about flags."""
    stages, _ = expand_method(MethodSpec.model_validate({"name": method}), task)
    return [s["name"] for s in stages if s["kind"] in MODEL_CALLING]
