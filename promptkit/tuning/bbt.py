"""Black-box tuning (Sun et al., 2022): a continuous prompt searched by CMA-ES in a random low-dimensional
subspace, from the engine's scores alone.

The prompt is p0 + A z: p0 the embeddings of vocabulary ids 1000 to 1000+P (the paper's "randomly selected
words"), A a fixed random projection from d = 500 dimensions with entries N(0, std_E / (sqrt(d) sigma)) so
that A z has the spread of the word embeddings, z searched by CMA-ES (the `cmaes` package: maintained, numpy
only, its state plain arrays that a checkpoint keeps) from zero with step sigma. Each candidate is one
engine `score` call over the training set; every `eval_every` generations the mean is scored on the
development set and the best is kept. The weights are read for p0 and the spread only, as in the paper.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import torch
from tqdm.auto import tqdm

from promptkit.engines.implementing import CountingEngine
from promptkit.files.learned_prompt import LearnedPrompt
from promptkit.tuning.checkpoint import Checkpoint
from promptkit.tuning.data import Split, TuningData
from promptkit.tuning.objective import accuracy, cross_entropy, engine_class_log_probs
from promptkit.tuning.settings import TuneSettings
from promptkit.tuning.white_box import Progress

FIRST_WORD_ID = 1000
HINGE_MARGIN = 2.0
"""In log-probability; the margin BBT's SST-2 metric takes."""


def hinge(class_lp: torch.Tensor, targets) -> torch.Tensor:
    gold = torch.tensor(targets)
    true = class_lp.gather(1, gold[:, None])
    margins = (class_lp - true + HINGE_MARGIN).clamp(min=0)
    margins.scatter_(1, gold[:, None], 0.0)
    return margins.sum(dim=1).mean()


class Subspace:
    """z (d numbers) -> a prompt [P, hidden], fixed for the run by its seed."""

    def __init__(self, embeddings: np.ndarray, s: TuneSettings) -> None:
        tokens, hidden = s.prompt_tokens, embeddings.shape[1]
        first = min(FIRST_WORD_ID, embeddings.shape[0] - tokens)
        self.p0 = embeddings[first : first + tokens].astype(np.float64)
        std = float(embeddings.std()) / (math.sqrt(s.intrinsic_dim) * s.sigma)
        self.a = np.random.default_rng(s.seed).normal(0.0, std, (s.intrinsic_dim, tokens * hidden))

    def prompt(self, z: np.ndarray) -> np.ndarray:
        return (self.p0 + (z @ self.a).reshape(self.p0.shape)).astype(np.float32)


def soft_prompt_scores(engine, prompt: LearnedPrompt, split: Split, data: TuningData, p: Progress) -> torch.Tensor:
    """One engine call: the split's [examples, classes] log-probabilities under `prompt`; the prompt tokens it
    sent are added to `p`."""
    candidate = CountingEngine(engine.with_soft_prompt(prompt))
    class_lp = engine_class_log_probs(candidate, split, data)
    p.tokens += candidate.prompt_tokens
    return class_lp


def search(
    engine, data: TuningData, s: TuneSettings, model_key: str, resume: Checkpoint | None,
    save: Callable[[dict[str, np.ndarray], dict], None], progress: bool,
) -> tuple[np.ndarray, Progress, int]:  # fmt: skip
    """CMA-ES until the budget of training calls is spent; returns the best prompt, the progress, all calls."""
    from cmaes import CMA

    embeddings = engine.model.get_input_embeddings().weight.detach().float().cpu().numpy()
    space = Subspace(embeddings, s)
    optimiser = CMA(mean=np.zeros(s.intrinsic_dim), sigma=s.sigma, population_size=s.population, seed=s.seed)
    p, calls, best = Progress(), 0, None
    if resume is not None:
        p, calls, best = Progress.of(resume.state), int(resume.state["calls"]), resume.arrays["best"]
        _restore(optimiser, resume)
    loss_of = cross_entropy if s.loss == "ce" else hinge

    def scored(z: np.ndarray, split: Split) -> torch.Tensor:
        nonlocal calls
        calls += 1
        return soft_prompt_scores(engine, LearnedPrompt("bbt", model_key, space.prompt(z)), split, data, p)

    generations = max(1, s.budget // s.population)
    bar = tqdm(total=generations, initial=p.step, desc="tune bbt", unit="gen", disable=None if progress else True)
    with bar:
        while p.step < generations and not p.stalled(s.patience):
            optimiser.reseed_rng(s.seed * 1_000_003 + p.step)  # a resumed run draws what an unbroken one draws
            solutions = []
            for _ in range(s.population):
                z = optimiser.ask()
                solutions.append((z, float(loss_of(scored(z, data.train), data.train.targets))))
            optimiser.tell(solutions)
            p.step += 1
            bar.update(1)
            if p.step % s.eval_every == 0 or p.step == generations:
                loss = min(v for _, v in solutions)
                dev = accuracy(scored(optimiser.mean, data.dev), data.dev.targets)
                p.history.append({"step": p.step, "calls": calls, "loss": loss, "dev_acc": dev})
                if dev > p.best_dev:
                    best, p.best_dev, p.best_step = space.prompt(optimiser.mean), dev, p.step
                bar.set_postfix(loss=f"{loss:.3f}", dev_acc=f"{dev:.3f}", calls=calls)
                assert best is not None
                save(
                    {"best": best, **_state_arrays(optimiser)}, {**p.as_state(), "calls": calls, **_scalars(optimiser)}
                )
    assert best is not None
    return best, p, calls


def _state_arrays(optimiser) -> dict[str, np.ndarray]:
    return {f"cma.{k}": v for k, v in optimiser.__getstate__().items() if isinstance(v, np.ndarray)}


def _scalars(optimiser) -> dict[str, object]:
    """The CMA state's numbers (arrays go to the tensors); None marks one not computed yet."""
    out: dict[str, object] = {}
    for k, v in optimiser.__getstate__().items():
        if not isinstance(v, np.ndarray):
            out[f"cma.{k}"] = v.item() if isinstance(v, np.generic) else v
    return out


def _restore(optimiser, resume: Checkpoint) -> None:
    state = optimiser.__getstate__()
    for k in state:
        if f"cma.{k}" in resume.arrays:
            state[k] = resume.arrays[f"cma.{k}"]
        elif f"cma.{k}" in resume.state:
            state[k] = resume.state[f"cma.{k}"]
    optimiser.__setstate__(state)
