"""Prompt tuning, prefix tuning and P-tuning, parametrised by peft's prompt encoders; LoRA through peft's too.

peft gives each method's parameters and their initialisation (prompt embeddings, the prefix with or without
its MLP, P-tuning's prompt encoder); the forward pass is ours (`objective.forward_after`): peft's own forward
re-inserts the prompt whenever a cache is passed and lays left padding out otherwise than the engine does,
so the prompt is trained on exactly the layout it is scored and generated with.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
from tqdm.auto import tqdm

from promptkit.errors import PromptkitError
from promptkit.files.learned_prompt import LearnedPrompt
from promptkit.tuning.checkpoint import Checkpoint
from promptkit.tuning.data import Split, TuningData
from promptkit.tuning.objective import Rows, accuracy, class_log_probs, cross_entropy, forward_after
from promptkit.tuning.settings import ADAPTERS, TuneSettings

ROWS_PER_PASS = 64
"""(example, label word) rows per forward and backward pass: bounds the activations a step keeps."""
DEV_ROWS_PER_PASS = 16
"""Rows per pass of a development evaluation, its examples in order of length: AGNews's 64 in one pass are
half padding (8 steps of prompt tuning on AGNews, evaluated after each, took 27 s this way against 39 s in one pass)."""


@dataclass
class Progress:
    """Where a run stands: what a checkpoint keeps and the artifact reports."""

    step: int = 0
    best_dev: float = -1.0
    best_step: int = 0
    history: list[dict[str, float]] = field(default_factory=list)
    tokens: int = 0
    """Prompt tokens the model was given, training and development alike, counted as `CountingEngine` counts a
    scoring call's: each (example, label word) pair's context."""

    def as_state(self) -> dict:
        return {"step": self.step, "best_dev": self.best_dev, "best_step": self.best_step, "history": self.history,
                "tokens": self.tokens}  # fmt: skip

    @classmethod
    def of(cls, state: dict) -> Progress:
        return cls(state["step"], state["best_dev"], state["best_step"], list(state["history"]),
                   int(state.get("tokens", 0)))  # fmt: skip

    def stalled(self, patience: int | None) -> bool:
        """Whether the last `patience` development evaluations found nothing better (early stopping); derived
        from the history, so a resumed run stops where an unbroken one does."""
        return patience is not None and sum(h["step"] > self.best_step for h in self.history) >= patience


def peft_config(s: TuneSettings):
    from peft import LoraConfig, PrefixTuningConfig, PromptEncoderConfig, PromptTuningConfig

    if s.method == "lora":  # no dropout: a step's loss is the objective's own
        return LoraConfig(task_type="CAUSAL_LM", r=s.rank, lora_alpha=s.alpha, target_modules=s.targets,
                          lora_dropout=0.0, bias="none")  # fmt: skip
    tokens = s.prompt_tokens
    if s.method == "prompt_tuning":  # initialised by `_initialise`, with the run's seed
        return PromptTuningConfig(task_type="CAUSAL_LM", num_virtual_tokens=tokens)
    if s.method == "prefix_tuning":
        return PrefixTuningConfig(task_type="CAUSAL_LM", num_virtual_tokens=tokens, prefix_projection=s.reparametrize)
    return PromptEncoderConfig(task_type="CAUSAL_LM", num_virtual_tokens=tokens, encoder_reparameterization_type="MLP")


def prompt_model(model, s: TuneSettings, tokenizer, start: LearnedPrompt | None):
    """The peft model around `model`, its prompt initialised from the run's seed (torch's global generator
    is restored after peft draws from it: a library call leaves the process as it found it)."""
    from peft import get_peft_model

    if s.method in ADAPTERS and start is not None:  # before peft puts its layers into the model
        raise PromptkitError(f"init-from: {s.method} starts from the model itself, not from a learned prompt")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(s.seed)
        wrapped = get_peft_model(model, peft_config(s))
    if s.method in ADAPTERS:
        return wrapped
    encoder = wrapped.prompt_encoder["default"]
    if start is not None:
        _start_from(encoder, s, start)
    elif s.method == "prompt_tuning":
        _initialise(encoder.embedding.weight, model.get_input_embeddings().weight, s, tokenizer)
    return wrapped


def _initialise(weight: torch.Tensor, vocab: torch.Tensor, s: TuneSettings, tokenizer) -> None:
    generator = torch.Generator().manual_seed(s.seed)
    with torch.no_grad():
        if s.init == "random":
            weight.copy_(torch.randn(weight.shape, generator=generator) * vocab.float().std())
            return
        if s.init == "text":
            ids = tokenizer(s.init_text, add_special_tokens=False)["input_ids"]
            ids = (ids * (len(weight) // max(len(ids), 1) + 1))[: len(weight)]
        else:
            ids = torch.randint(0, vocab.shape[0], (len(weight),), generator=generator).tolist()
        weight.copy_(vocab[torch.tensor(ids)].float())


def _start_from(encoder, s: TuneSettings, start: LearnedPrompt) -> None:
    """SPoT: begin from another task's learned prompt (same method and shape, no reparametrisation)."""
    if (
        start.tensor is None
        or start.method != s.method
        or s.method == "p_tuning"
        or (s.method == "prefix_tuning" and s.reparametrize)
    ):
        raise PromptkitError(
            f"init-from: a {start.method} prompt cannot start {s.method}"
            + (" with reparametrisation" if s.method == "prefix_tuning" else "")
            + " (prompt tuning starts from prompt tuning, prefix tuning without reparametrisation from the same)"
        )
    tensor = torch.from_numpy(start.tensor)
    if s.method == "prefix_tuning":  # [layers, 2, heads, P, head_dim] -> peft's [P, layers * 2 * heads * head_dim]
        layers, _, heads, length, dim = tensor.shape
        tensor = tensor.reshape(layers * 2, heads, length, dim).permute(2, 0, 1, 3).reshape(length, -1)
    weight = encoder.embedding.weight
    if tuple(tensor.shape) != tuple(weight.shape):
        raise PromptkitError(f"init-from: its prompt has shape {list(tensor.shape)}, this run's {list(weight.shape)}")
    with torch.no_grad():
        weight.copy_(tensor)


def learned_now(wrapped, s: TuneSettings, rows: int):
    """The prompt as the forward pass takes it: embeddings [1, P, hidden], a prefix cache for `rows` rows, or
    None where what is learned is inside the weights (LoRA)."""
    if s.method in ADAPTERS:
        return None
    return wrapped.get_prompt(batch_size=rows if s.method == "prefix_tuning" else 1)


def best_arrays(wrapped, s: TuneSettings) -> dict[str, np.ndarray]:
    """What is kept of the best step: the prompt as the artifact holds it ("best"), or each trained matrix."""
    if s.method in ADAPTERS:
        return {f"best.{n}": p.detach().float().cpu().numpy() for n, p in wrapped.named_parameters() if p.requires_grad}
    return {"best": as_array(learned_now(wrapped, s, 1), s)}


def load_best(wrapped, best: dict[str, np.ndarray]) -> None:
    """The trained matrices set to the best step's (an adapter is saved from the model)."""
    with torch.no_grad():
        for n, p in wrapped.named_parameters():
            if f"best.{n}" in best:
                p.copy_(torch.from_numpy(best[f"best.{n}"]))


def as_array(learned, s: TuneSettings) -> np.ndarray:
    """The artifact's tensor: embeddings [P, hidden], or a prefix [layers, 2, kv_heads, P, head_dim]."""
    if s.method != "prefix_tuning":
        return learned[0].detach().float().cpu().numpy()
    layers = [torch.stack([layer.keys[0], layer.values[0]]) for layer in learned.layers]
    return torch.stack(layers).detach().float().cpu().numpy()


def train(
    model, wrapped, data: TuningData, s: TuneSettings, encode, pad_id: int, device: str,
    resume: Checkpoint | None, save: Callable[[dict[str, np.ndarray], dict], None], progress: bool,
) -> tuple[dict[str, np.ndarray], Progress]:  # fmt: skip
    """AdamW over the whole training set each step; what was learned at the best development accuracy is kept
    (`best_arrays`)."""
    params = {n: p for n, p in wrapped.named_parameters() if p.requires_grad}
    optimiser = torch.optim.AdamW(params.values(), lr=s.learning_rate, weight_decay=0.0)
    whole = Rows.chunks(data.train, data, encode, pad_id, ROWS_PER_PASS) if not s.batch else []
    dev_rows, dev_split = Rows.by_length(data.dev, data, encode, pad_id, DEV_ROWS_PER_PASS)
    word_class = [c for c, _ in data.continuations]
    p = Progress()
    best: dict[str, np.ndarray] | None = None
    if resume is not None:
        p = Progress.of(resume.state)
        best = {k: v for k, v in resume.arrays.items() if k == "best" or k.startswith("best.")}
        with torch.no_grad():
            for n, param in params.items():
                param.copy_(torch.from_numpy(resume.arrays[f"param.{n}"]))
        _load_optimiser(optimiser, params, resume)

    def class_lp(rows: Rows) -> torch.Tensor:
        p.tokens += rows.prompt_tokens
        logits = forward_after(model, rows, learned_now(wrapped, s, len(rows.ids)), s.prompt_tokens, device)
        return class_log_probs(rows.word_logprobs(logits), word_class, len(data.classes))

    def step(number: int) -> float:
        """One optimiser step over the training set (or the step's batch of it), its gradient summed over
        passes of a few rows."""
        split = batch_of(data.train, s, number)
        passes = whole or Rows.chunks(split, data, encode, pad_id, ROWS_PER_PASS)
        optimiser.zero_grad()
        total, done = 0.0, 0
        for rows in passes:
            targets = split.targets[done : done + rows.examples]
            loss = cross_entropy(class_lp(rows), targets) * rows.examples / len(split.targets)
            loss.backward()
            total, done = total + loss.item(), done + rows.examples
        optimiser.step()
        return total

    def dev_accuracy() -> float:
        with torch.no_grad():
            return accuracy(torch.cat([class_lp(rows) for rows in dev_rows]), dev_split.targets)

    bar = tqdm(total=s.steps, initial=p.step, desc=f"tune {s.method}", unit="step", disable=None if progress else True)
    with bar:
        while p.step < s.steps and not p.stalled(s.patience):
            loss = step(p.step)
            p.step += 1
            bar.update(1)
            if p.step % s.eval_every == 0 or p.step == s.steps:
                dev = dev_accuracy()
                p.history.append({"step": p.step, "loss": loss, "dev_acc": dev})
                if dev > p.best_dev:
                    with torch.no_grad():
                        best = best_arrays(wrapped, s)
                    p.best_dev, p.best_step = dev, p.step
                bar.set_postfix(loss=f"{loss:.3f}", dev_acc=f"{dev:.3f}")
                assert best is not None
                save({**best, **_optimiser_arrays(optimiser, params)}, p.as_state())
    assert best is not None
    return best, p


def batch_of(split: Split, s: TuneSettings, number: int) -> Split:
    """Step `number`'s examples: all of them, or the next `batch` of a seeded order (an epoch's worth in
    turn), so that a resumed run takes the batches an unbroken one takes."""
    if not s.batch or s.batch >= len(split.contexts):
        return split
    epoch, at = divmod(number * s.batch, len(split.contexts))
    order = random.Random(f"{s.seed}:{epoch}").sample(range(len(split.contexts)), len(split.contexts))
    chosen = [order[(at + i) % len(order)] for i in range(s.batch)]
    return Split(tuple(split.contexts[i] for i in chosen), tuple(split.targets[i] for i in chosen))


def _optimiser_arrays(optimiser: torch.optim.Optimizer, params: dict[str, torch.Tensor]) -> dict[str, np.ndarray]:
    arrays = {f"param.{n}": p.detach().cpu().numpy() for n, p in params.items()}
    for n, param in params.items():
        for key, value in optimiser.state.get(param, {}).items():
            arrays[f"adam.{n}.{key}"] = value.detach().cpu().numpy()
    return arrays


def _load_optimiser(optimiser: torch.optim.Optimizer, params: dict[str, torch.Tensor], resume: Checkpoint) -> None:
    for n, param in params.items():
        state = {
            key.rpartition(".")[2]: torch.from_numpy(value.copy())
            for key, value in resume.arrays.items()
            if key.startswith(f"adam.{n}.")
        }
        if state:
            optimiser.state[param] = state
