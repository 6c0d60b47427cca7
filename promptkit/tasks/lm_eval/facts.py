"""What promptkit keeps of an lm-eval task's configuration: enough to expand a method and to find its data again."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from promptkit.schema import SpecModel

PREFIX = "lm-eval:"
"""`--task lm-eval:NAME`: a task of the installed lm-evaluation-harness."""

OutputType = Literal["multiple_choice", "generate_until", "loglikelihood", "loglikelihood_rolling"]
RUNS: tuple[OutputType, ...] = ("multiple_choice", "generate_until")
"""The output types promptkit runs: multiple choice by likelihood, and generation."""


def is_lm_eval_name(name: str) -> bool:
    return name.startswith(PREFIX)


class LmEvalFacts(SpecModel):
    task: str = Field(description="the task's name in lm-eval")
    yaml: str = Field(description="the YAML file lm-eval defines it in")
    output_type: OutputType
    num_fewshot: int = Field(0, ge=0, description="the task's own number of demonstrations (lm-eval's default)")
    until: list[str] = Field(default_factory=list, description="generation stops at any of these")
    max_gen_toks: int = Field(256, ge=1)
    temperature: float = Field(0.0, ge=0)
    filters: list[str] = Field(default_factory=lambda: ["none"], description="its answer filter pipelines, by name")
    metric: str = Field(description="what promptkit's accuracy is: acc for multiple choice, else its first metric")
    data_files: dict[str, str] | None = Field(
        None, description="split -> a local file; absent: the dataset lm-eval's YAML names (the hub, or its cache)"
    )
    labels: list[str] | None = Field(
        None, description="a fixed set of options, the same for every document (boolq's no, yes): the classes"
    )
    multiple_input: bool = Field(False, description="each choice has its own context, one continuation (winogrande)")

    @property
    def label(self) -> str:
        return PREFIX + self.task
