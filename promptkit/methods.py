"""Reasoning methods as lists of stages. Prompt text lives in templates/, never here."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from .extract import Extractor
from .pipeline import Pipeline
from .registry import Registry
from .stages import Extract, Generate
from .templating import Templates, default_templates
from .types import Sampling


@dataclass(frozen=True)
class MethodConfig:
    """What every method needs to build its stages."""

    task: str
    extractor: Extractor
    templates: Templates = field(default_factory=default_templates)
    template_overrides: Mapping[str, str] = field(default_factory=dict)
    """Stage name -> template name or file, replacing the method's default for that stage."""
    max_tokens: Mapping[str, int] = field(default_factory=dict)
    """Stage name -> generation budget, replacing the method's default."""
    temperature: float = 0.0
    seed: int | None = None

    def template(self, stage: str, default: str) -> str:
        return self.template_overrides.get(stage, default)

    def sampling(self, stage: str, max_tokens: int, **extra) -> Sampling:
        return Sampling(
            max_tokens=self.max_tokens.get(stage, max_tokens), temperature=self.temperature, seed=self.seed, **extra
        )

    def generate(self, stage: str, template: str, output: str, max_tokens: int, **extra) -> Generate:
        return Generate(
            name=stage,
            template=self.template(stage, template),
            output=output,
            sampling=self.sampling(stage, max_tokens, **extra),
            templates=self.templates,
        )


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


MethodBuilder = Callable[[MethodConfig], Pipeline]

METHODS: Registry[MethodBuilder] = Registry("method", {"direct": direct, "zero_shot_cot": zero_shot_cot})


def build_method(name: str, cfg: MethodConfig) -> Pipeline:
    return METHODS.get(name)(cfg)
