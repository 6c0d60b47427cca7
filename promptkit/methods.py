"""Reasoning methods as lists of stages. Prompt text lives in templates/, never here."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from .demos import Demo, shipped_exemplars
from .extract import Extractor
from .pipeline import Pipeline
from .prompts import ChatPrompt, PromptBuilder, TextPrompt
from .registry import Registry
from .stages import Decompose, Extract, Generate, PackDemos, SelectDemos, SolveInOrder, Vote
from .stages.least_to_most import PARSERS
from .templating import Templates, default_templates
from .types import Sampling

# lm-evaluation-harness gsm8k_cot's `until`.
FEW_SHOT_STOP = ("Q:", "</s>", "<|im_end|>")
STEP_STOP = ("\n\n", "\nQ:")


@dataclass(frozen=True)
class MethodConfig:
    """What the methods need to build their stages; every field has a usable default."""

    task: str
    extractor: Extractor
    templates: Templates = field(default_factory=default_templates)
    template_overrides: Mapping[str, str] = field(default_factory=dict)
    """Stage name -> template name or file, replacing the method's default for that stage."""
    max_tokens: Mapping[str, int] = field(default_factory=dict)
    """Stage name -> generation budget, replacing the method's default."""
    temperature: float = 0.0
    seed: int | None = None
    """Sampling seed."""
    pool: tuple[Demo, ...] | None = None
    """Demonstrations to choose from; the task's shipped exemplars when None."""
    shots: int | None = None
    """Demonstrations per prompt; all of the pool's when None and the selector is fixed, else 8."""
    selector: str = "fixed"
    order: str = "given"
    selection_seed: int = 0
    chat: bool = False
    """Demonstrations as user/assistant turns through the model's chat template."""
    samples: int = 5
    """Self-consistency: samples per question."""

    def template(self, stage: str, default: str) -> str:
        return self.template_overrides.get(stage, default)

    def text(self, stage: str, default: str) -> TextPrompt:
        return TextPrompt(self.template(stage, default), self.templates)

    def sampling(self, stage: str, max_tokens: int, **extra) -> Sampling:
        settings = {"temperature": self.temperature, "seed": self.seed, **extra}
        return Sampling(max_tokens=self.max_tokens.get(stage, max_tokens), **settings)

    def generate(self, stage: str, template: str, output: str, max_tokens: int, **extra) -> Generate:
        return Generate(stage, self.text(stage, template), output, self.sampling(stage, max_tokens, **extra))

    def demo_pool(self) -> tuple[Demo, ...]:
        return self.pool if self.pool is not None else shipped_exemplars(self.task)

    def select(self) -> SelectDemos:
        pool = self.demo_pool()
        k = self.shots if self.shots is not None else (len(pool) if self.selector == "fixed" else 8)
        return SelectDemos(pool, k, self.selector, self.order, self.selection_seed)  # type: ignore[arg-type]

    def few_shot_prompt(self, stage: str, cot: bool) -> PromptBuilder:
        if self.chat:
            assistant = "chat/assistant_cot" if cot else "chat/assistant"
            return ChatPrompt("chat/user", self.template(stage, assistant), templates=self.templates)
        return self.text(stage, "few_shot_cot" if cot else "few_shot")


def direct(cfg: MethodConfig) -> Pipeline:
    """Zero-shot: the question and an answer prefix (Kojima et al.'s zero-shot baseline)."""
    return Pipeline((cfg.generate("answer", f"{cfg.task}/direct", "answer", 32), Extract(cfg.extractor)))


def zero_shot_cot(cfg: MethodConfig) -> Pipeline:
    """Kojima et al.: 'Let's think step by step.' then the answer trigger, two batched calls."""
    return Pipeline(
        (
            cfg.generate("reason", "zero_shot_cot/reason", "rationale", 256),
            cfg.generate("answer", f"{cfg.task}/zero_shot_cot_answer", "answer", 32),
            Extract(cfg.extractor),
        )
    )


def _few_shot(cfg: MethodConfig, cot: bool, n: int = 1) -> Pipeline:
    prompt = cfg.few_shot_prompt("answer", cot)
    sampling = cfg.sampling("answer", 256 if cot else 32, stop=FEW_SHOT_STOP, n=n)
    stages = [
        cfg.select(),
        PackDemos(prompt, sampling.max_tokens),
        Generate("answer", prompt, "answer", sampling),
        Extract(cfg.extractor),
    ]
    if n > 1:
        stages.append(Vote())
    return Pipeline(tuple(stages))


def few_shot(cfg: MethodConfig) -> Pipeline:
    """In-context learning: demonstrations with their answers, then the question."""
    return _few_shot(cfg, cot=False)


def few_shot_cot(cfg: MethodConfig) -> Pipeline:
    """Wei et al.: demonstrations with rationales; GSM8K is lm-eval's gsm8k_cot prompt byte for byte."""
    return _few_shot(cfg, cot=True)


def self_consistency(cfg: MethodConfig) -> Pipeline:
    """Wang et al.: few-shot CoT with n samples from one request each, then a majority vote."""
    if cfg.temperature == 0.0:
        cfg = _with_temperature(cfg, 0.7)  # greedy samples would all be the same
    return _few_shot(cfg, cot=True, n=cfg.samples)


def least_to_most(cfg: MethodConfig) -> Pipeline:
    """Zhou et al.: decompose into subproblems, then solve them in order, each on the last's answers."""
    parser, fallback = PARSERS.get(cfg.task)
    decompose_sampling = cfg.sampling("decompose", 128, stop=STEP_STOP)
    return Pipeline(
        (
            Decompose(cfg.text("decompose", f"{cfg.task}/l2m_decompose"), parser, fallback, decompose_sampling),
            SolveInOrder(cfg.text("solve", f"{cfg.task}/l2m_solve"), cfg.sampling("solve", 128, stop=STEP_STOP)),
            Extract(cfg.extractor),
        )
    )


def _with_temperature(cfg: MethodConfig, temperature: float) -> MethodConfig:
    from dataclasses import replace

    return replace(cfg, temperature=temperature)


MethodBuilder = Callable[[MethodConfig], Pipeline]

METHODS: Registry[MethodBuilder] = Registry(
    "method",
    {
        "direct": direct,
        "zero_shot_cot": zero_shot_cot,
        "few_shot": few_shot,
        "few_shot_cot": few_shot_cot,
        "least_to_most": least_to_most,
        "self_consistency": self_consistency,
    },
)

DEFAULT_EXTRACTOR: Mapping[str, str] = {
    "direct": "default",
    "zero_shot_cot": "default",
    "few_shot": "answer_is",
    "few_shot_cot": "answer_is",
    "least_to_most": "answer_is",
    "self_consistency": "answer_is",
}
"""Zero-shot answers start with the number; demonstrations teach 'The answer is ...'."""


def build_method(name: str, cfg: MethodConfig) -> Pipeline:
    return METHODS.get(name)(cfg)
