"""Declarative run specs: YAML checked by pydantic, built into task, engine and pipeline.

Every model forbids unknown fields, so a typo is an error that names its dotted path.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from promptkit.engines.model_files import BUILTIN_MODEL

Seed = Annotated[int, Field(ge=0, le=2**64 - 1)]
"""Seeds are unsigned 64-bit numbers."""


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# --- task ------------------------------------------------------------------------------------------


class TaskSpec(_Spec):
    name: str = Field(description="gsm8k or last_letters")
    data: str | None = Field(
        None, description="local data file or dataset folder; the task's default source when absent"
    )
    limit: int | None = Field(None, ge=1, description="first N examples only")


# --- engines ---------------------------------------------------------------------------------------


class HFEngineSpec(_Spec):
    kind: Literal["hf"] = "hf"
    model: str = Field(
        BUILTIN_MODEL, description="local folder, GGUF file or hub id; the embedded SmolLM2-135M-Instruct by default"
    )
    revision: str | None = Field(None, description="hub revision (branch, tag or commit)")
    dtype: str = Field("auto", description="auto, float32, float16 or bfloat16")
    device: str = Field("auto", pattern=r"^(auto|cpu|mps|cuda(:\d+)?)$", description="auto, cpu, mps, cuda, cuda:N")
    max_batch_tokens: int | None = Field(
        None,
        ge=1,
        description="rows x (longest prompt + max tokens) per batch (default: what a 4 GiB KV cache holds for the model)",
    )
    max_batch_size: int = Field(64, ge=1, description="requests per batch at most")
    trust_remote_code: bool = Field(False, description="allow model code from the hub")


class VLLMEngineSpec(_Spec):
    kind: Literal["vllm"] = "vllm"
    model: str = Field(
        BUILTIN_MODEL, description="local folder or hub id; the embedded SmolLM2-135M-Instruct by default"
    )
    revision: str | None = Field(None, description="hub revision")
    dtype: str = Field("auto", description="vLLM dtype")
    tensor_parallel_size: int = Field(1, ge=1, description="GPUs per model")
    engine_args: dict[str, Any] = Field(default_factory=dict, description="further vllm.LLM arguments")


class ReplayEngineSpec(_Spec):
    kind: Literal["replay"] = "replay"
    path: str = Field(description="JSONL recording: {prompt, completions} per line")
    model: str | None = Field(None, description="the recorded model's name, for the summary")


class OpenAIEngineSpec(_Spec):
    kind: Literal["openai"] = "openai"
    model: str = Field(description="the model name the server knows")
    base_url: str = Field("http://127.0.0.1:8000/v1", description="the server's OpenAI-compatible root")
    api_key_env: str = Field("OPENAI_API_KEY", description="environment variable holding the API key")
    concurrency: int = Field(16, ge=1, description="requests in flight at once")
    max_retries: int = Field(5, ge=0, description="retries on rate limits, timeouts and server errors")
    timeout: float = Field(120.0, gt=0, description="seconds per request")


EngineSpec = Annotated[HFEngineSpec | VLLMEngineSpec | ReplayEngineSpec | OpenAIEngineSpec, Field(discriminator="kind")]


# --- a method by name ------------------------------------------------------------------------------


class MethodSpec(_Spec):
    """A named method: a preset that expands into a `pipeline:` list (see spec.resolved.yaml)."""

    name: str = Field(
        description="direct, zero_shot_cot, plan_and_solve, plan_and_solve_plus, few_shot, few_shot_cot, self_consistency, least_to_most, "
        "least_to_most_promptkit"
    )
    shots: int | None = Field(
        None, ge=0, description="demonstrations per prompt (default: all exemplars, or 8 from a pool)"
    )
    selector: Literal["fixed", "random", "similar", "mmr", "embedding"] = Field(
        "fixed", description="how demonstrations are chosen"
    )
    order: Literal["given", "random", "similar_last"] = Field("given", description="demonstration order in the prompt")
    selection_seed: Seed = Field(0, description="seed of the per-example demonstration draws")
    order_seed: Seed | None = Field(None, description="seed of the random order alone (default: selection_seed)")
    demo_answers: Literal["gold", "random", "none"] = Field(
        "gold", description="ablation: gold answers, another demonstration's, or none (question only)"
    )
    demo_rationales: Literal["gold", "shuffled", "none"] = Field(
        "gold", description="ablation: gold rationales, another demonstration's, or none"
    )
    demo_inputs: Literal["gold", "random"] = Field(
        "gold", description="ablation: gold questions, or another pool question (answer kept)"
    )
    pool: str | None = Field(None, description="demonstration pool: exemplars JSON or a data file of the task")
    chat: bool = Field(False, description="demonstrations as chat turns")
    samples: int | None = Field(
        None,
        ge=1,
        description="samples per question, joined by a majority vote (default: 5 for self_consistency, else 1)",
    )
    temperature: float | None = Field(
        None,
        ge=0,
        allow_inf_nan=False,
        description="sampling temperature (default: 0.7 with samples > 1, else 0 = greedy)",
    )
    seed: Seed | None = Field(None, description="sampling seed")
    max_tokens: dict[str, Annotated[int, Field(ge=1)]] = Field(
        default_factory=dict, description="stage name -> generation budget"
    )
    templates: dict[str, str] = Field(default_factory=dict, description="stage name -> template name or file")


# --- an explicit list of stages --------------------------------------------------------------------


class ChatSpec(_Spec):
    user: str = Field("chat/user", description="template of a user turn (demonstrations and the question)")
    assistant: str = Field("chat/assistant_cot", description="template of a demonstration's answer turn")
    system: str | None = Field(None, description="system message")


class _Prompted(_Spec):
    template: str | None = Field(None, description="template name or file for a text prompt")
    chat: ChatSpec | None = Field(None, description="chat prompt instead of a text template")

    @model_validator(mode="after")
    def _one_prompt(self):
        if (self.template is None) == (self.chat is None):
            raise ValueError("give exactly one of 'template' or 'chat'")
        return self


class _Sampled(_Spec):
    max_tokens: int = Field(256, ge=1, description="generation budget")
    temperature: float = Field(0.0, ge=0, allow_inf_nan=False, description="sampling temperature (0 = greedy)")
    top_p: float = Field(1.0, gt=0, le=1, description="nucleus sampling")
    n: int = Field(1, ge=1, description="samples per request")
    stop: list[str] = Field(default_factory=list, description="stop strings, cut from the text")
    seed: Seed | None = Field(None, description="sampling seed")


class SelectDemosStage(_Spec):
    kind: Literal["select_demos"]
    pool: str | None = Field(
        None, description="exemplars JSON or a data file of the task; the shipped exemplars when absent"
    )
    k: int | None = Field(None, ge=0, description="demonstrations per prompt (default: all of a fixed pool, else 8)")
    strategy: Literal["fixed", "random", "similar", "mmr", "embedding"] = "fixed"
    order: Literal["given", "random", "similar_last"] = "given"
    seed: Seed = Field(0, description="seed of the per-example draws")
    order_seed: Seed | None = Field(None, description="seed of the random order alone (default: seed)")
    answers: Literal["gold", "random", "none"] = Field("gold", description="ablation of the demonstrations' answers")
    rationales: Literal["gold", "shuffled", "none"] = Field("gold", description="ablation of their rationales")
    inputs: Literal["gold", "random"] = Field("gold", description="ablation of their questions")


class AutoCoTStage(_Spec):
    kind: Literal["auto_cot"]
    pool: str | None = Field(
        None, description="questions to cluster: a data file of the task (default: its training data)"
    )
    clusters: int | None = Field(
        None, ge=1, description="demonstrations, one per cluster (default: 8; 4 for last letters)"
    )
    max_question_words: int = Field(60, ge=1, description="filter: longest question kept")
    max_steps: int | None = Field(
        None, ge=1, description="filter: most reasoning lines (default: 5; 7 for last letters)"
    )
    tries: int = Field(5, ge=1, description="questions tried per cluster, nearest the centroid first")
    seed: Seed = Field(0, description="k-means seed")
    embedder: Literal["tfidf", "embedding"] = Field("tfidf", description="question vectors for clustering")
    max_tokens: int = Field(256, ge=1, description="zero-shot-CoT reasoning budget")


class PackStage(_Prompted):
    kind: Literal["pack"]
    max_tokens: int = Field(256, ge=1, description="the generation budget to leave room for")


class GenerateStage(_Prompted, _Sampled):
    kind: Literal["generate"]
    name: str = Field("answer", description="stage name in the trace")
    output: str = Field("answer", description="field that receives the text")


class ExtractStage(_Spec):
    kind: Literal["extract"]
    extractor: str | None = Field(None, description="extractor name; the run's extractor when absent")
    source: str = Field("answer", description="field to read")
    output: str = Field("prediction", description="field to write")


class DecomposeStage(_Sampled):
    kind: Literal["decompose"]
    name: str = Field("decompose", description="stage name in the trace")
    template: str = Field(description="decomposition prompt template")
    parser: str = Field(description="decomposition parser: gsm8k, last_letters or last_letters_zhou")
    sized: bool = Field(True, description="budget grows with the question (max_tokens is then a floor)")


class SolveStage(_Sampled):
    kind: Literal["solve"]
    name: str = Field("solve", description="stage name in the trace")
    template: str = Field(description="solving prompt template (sees question, solved, current)")
    pipelined: bool = Field(
        True,
        description="on a streaming engine (vllm), an example's next subquestion is asked the moment its "
        "previous answer ends; false: in rounds, one call per step for every example (same requests)",
    )


class VoteStage(_Spec):
    kind: Literal["vote"]
    source: str = Field("prediction", description="field holding each sample's extracted answer")


class FirstStage(_Spec):
    kind: Literal["first"]
    source: str = Field("prediction", description="field holding each sample's extracted answer")


StageSpec = Annotated[
    SelectDemosStage
    | AutoCoTStage
    | PackStage
    | GenerateStage
    | ExtractStage
    | DecomposeStage
    | SolveStage
    | VoteStage
    | FirstStage,
    Field(discriminator="kind"),
]


# --- the whole run ---------------------------------------------------------------------------------


class RunSpec(_Spec):
    """Everything about a run; the resolved spec written beside the results reproduces it."""

    task: TaskSpec
    engine: EngineSpec
    name: str | None = Field(None, description="the run's name in summaries and tables; the method's by default")
    method: MethodSpec | None = Field(None, description="a method by name with its parameters")
    pipeline: list[StageSpec] | None = Field(None, description="or an explicit list of stages")
    extractor: str | None = Field(None, description="how predictions are scored; the method's default when absent")
    template_dirs: list[str] = Field(default_factory=list, description="folders searched before the shipped templates")

    @model_validator(mode="after")
    def _method_or_pipeline(self):
        if (self.method is None) == (self.pipeline is None):
            raise ValueError("give exactly one of 'method' or 'pipeline'")
        return self

    @property
    def label(self) -> str:
        return self.name or (self.method.name if self.method else "pipeline")
