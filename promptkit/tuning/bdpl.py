"""Black-box discrete prompt learning (Diao et al., 2023): a prompt of `tokens` phrases, each chosen from a
vocabulary mined from the training text (`ngrams`), learned by policy gradient from the engine's scores alone,
so it runs on any engine that scores (hf, vLLM, servers).

Each position has its own categorical distribution over the vocabulary, kept as probabilities. A step draws
`samples` prompts, scores the training set with each (one engine call each), and moves the probabilities
along the variance-reduced estimate 1/(I-1) sum_k (L_k - mean L) d log P(S_k)/dp (the reference code's,
with +1/p for the chosen entry and -1/p for the others), clipped to norm 3, by AdamW, then projects each row
back onto the simplex. The development set is scored with each row's most probable phrase.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from tqdm.auto import tqdm

from promptkit.engines.base import Engine
from promptkit.engines.implementing import CountingEngine
from promptkit.engines.text_prompt import TextPromptEngine
from promptkit.files.learned_prompt import LearnedPrompt
from promptkit.tuning.checkpoint import Checkpoint
from promptkit.tuning.data import Split, TuningData
from promptkit.tuning.ngrams import ngram_vocabulary
from promptkit.tuning.objective import accuracy, cross_entropy, engine_class_log_probs
from promptkit.tuning.settings import TuneSettings
from promptkit.tuning.white_box import Progress

SEPARATOR = "\n"
"""Between the learned prompt and the task's prompt; part of the artifact's text."""
CLIP = 3.0
WEIGHT_DECAY = 0.1


def prompt_text(vocabulary: list[str], choice) -> str:
    return " ".join(vocabulary[int(i)] for i in choice) + SEPARATOR


def project_rows(probs: torch.Tensor) -> torch.Tensor:
    """Each row onto the probability simplex (the Euclidean projection; sorting finds the threshold)."""
    ordered, _ = probs.sort(dim=1, descending=True)
    cumulative = ordered.cumsum(dim=1) - 1
    ks = torch.arange(1, probs.shape[1] + 1, dtype=probs.dtype)
    count = (ordered - cumulative / ks > 0).sum(dim=1, keepdim=True)
    theta = cumulative.gather(1, count - 1) / count
    return (probs - theta).clamp(min=0)


def search(
    engine: Engine, data: TuningData, s: TuneSettings, model_key: str, resume: Checkpoint | None,
    save: Callable[[dict[str, np.ndarray], dict], None], progress: bool,
) -> tuple[str, Progress, int]:  # fmt: skip
    """Policy gradient until the budget of training calls is spent; returns the best prompt's text."""
    vocabulary = ngram_vocabulary(data.pool_texts, s.candidates)
    probs = torch.full((s.prompt_tokens, len(vocabulary)), 1.0 / len(vocabulary), dtype=torch.float64)
    probs.requires_grad_(True)
    optimiser = torch.optim.AdamW([probs], lr=s.learning_rate, weight_decay=WEIGHT_DECAY)
    p, calls, best = Progress(), 0, ""
    if resume is not None:
        p, calls, best = Progress.of(resume.state), int(resume.state["calls"]), str(resume.state["best"])
        with torch.no_grad():
            probs.copy_(torch.from_numpy(resume.arrays["probs"]))
        if "adam.exp_avg" in resume.arrays:
            optimiser.state[probs] = {k: torch.from_numpy(resume.arrays[f"adam.{k}"].copy())
                                      for k in ("step", "exp_avg", "exp_avg_sq")}  # fmt: skip

    def loss_of(text: str, split: Split) -> torch.Tensor:
        nonlocal calls
        calls += 1
        counting = CountingEngine(engine)  # inside the text prompt: its tokens are counted too
        candidate = TextPromptEngine(counting, LearnedPrompt("bdpl", model_key, None, text))
        class_lp = engine_class_log_probs(candidate, split, data)
        p.tokens += counting.prompt_tokens
        return class_lp

    steps = max(1, s.budget // s.samples)
    bar = tqdm(total=steps, initial=p.step, desc="tune bdpl", unit="step", disable=None if progress else True)
    with bar:
        while p.step < steps and not p.stalled(s.patience):
            rng = np.random.default_rng([s.seed, p.step])  # a resumed run draws what an unbroken one draws
            rows = probs.detach().numpy()
            drawn = [[rng.choice(len(vocabulary), p=row / row.sum()) for row in rows] for _ in range(s.samples)]
            losses = [float(cross_entropy(loss_of(prompt_text(vocabulary, d), data.train), data.train.targets))
                      for d in drawn]  # fmt: skip
            mean = sum(losses) / len(losses)
            grad = torch.zeros_like(probs)
            current = probs.detach()
            # -1/p for the entries not drawn (the reference's estimate), but none for those the projection put
            # at zero: they would be infinite, and the clipping would leave nothing of the others
            others = torch.where(current > 0, -1.0 / current.clamp(min=1e-300), torch.zeros_like(current))
            for choice, loss in zip(drawn, losses):
                derivative = others.clone()
                positions = torch.arange(len(choice))
                derivative[positions, torch.tensor(choice)] = 1.0 / current[positions, torch.tensor(choice)]
                grad += (loss - mean) / max(len(losses) - 1, 1) * derivative
            probs.grad = grad
            torch.nn.utils.clip_grad_norm_([probs], CLIP)
            optimiser.step()
            with torch.no_grad():
                probs.copy_(project_rows(probs))
            p.step += 1
            bar.update(1)
            if p.step % s.eval_every == 0 or p.step == steps:
                text = prompt_text(vocabulary, probs.detach().argmax(dim=1))
                dev = accuracy(loss_of(text, data.dev), data.dev.targets)
                p.history.append({"step": p.step, "calls": calls, "loss": mean, "dev_acc": dev})
                if dev > p.best_dev:
                    best, p.best_dev, p.best_step = text, dev, p.step
                bar.set_postfix(loss=f"{mean:.3f}", dev_acc=f"{dev:.3f}", calls=calls)
                state = optimiser.state[probs]
                arrays = {"probs": probs.detach().numpy(), **{f"adam.{k}": v.numpy() for k, v in state.items()}}
                save(arrays, {**p.as_state(), "calls": calls, "best": best})
    return best, p, calls
