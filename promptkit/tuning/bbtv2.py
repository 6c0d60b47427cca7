"""BBTv2 (Sun et al., 2022b): a deep prompt searched layer by layer by CMA-ES, from the engine's scores alone.

The deep prompt is a key-value prefix in every layer (the form promptkit's engines put before any prompt, and
P-tuning v2's deep prompt). Layer l's is p0_l + A_l z_l: p0 the keys and values the model itself computes for
vocabulary ids 1000 to 1000+P (BBT's starting words, now in every layer), A_l a fixed random projection from d
dimensions with entries N(0, std_l / (sqrt(d) sigma)), std_l the spread of p0_l's keys (and of its values, for
those), so that A_l z has the spread of that layer's own keys and values, as the paper scales each layer's
projection by its hidden states. The layers are searched in turn (the paper's divide and conquer): a generation
of CMA-ES moves one layer's z, the layers taken in order and over again, each with an optimiser of its own.
The rest is BBT's (promptkit.tuning.bbt): one engine `score` call over the training set per candidate, the
mean prompt on the development set every `eval_every` generations, the best kept.

A_l is drawn again from its seed when its layer is searched (30 layers of SmolLM2 at d = 500 and 50 tokens would
hold 1.2 GB at once); what stays is each layer's current prefix.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import torch
from tqdm.auto import tqdm

from promptkit.files.learned_prompt import LearnedPrompt
from promptkit.tuning.bbt import FIRST_WORD_ID, _restore, _scalars, _state_arrays, hinge, soft_prompt_scores
from promptkit.tuning.checkpoint import Checkpoint
from promptkit.tuning.data import Split, TuningData
from promptkit.tuning.objective import accuracy, cross_entropy
from promptkit.tuning.settings import TuneSettings
from promptkit.tuning.white_box import Progress


def starting_prefix(model, tokens: int) -> np.ndarray:
    """p0: the model's own keys and values for vocabulary ids 1000..1000+P, [layers, 2, kv_heads, P, head_dim]."""
    vocab = model.get_input_embeddings().weight.shape[0]
    first = min(FIRST_WORD_ID, vocab - tokens)
    ids = torch.arange(first, first + tokens)[None]
    with torch.no_grad():
        cache = model(input_ids=ids, use_cache=True, logits_to_keep=1).past_key_values
    layers = [torch.stack([layer.keys[0], layer.values[0]]) for layer in cache.layers]
    return torch.stack(layers).float().numpy().astype(np.float64)


class DeepSubspace:
    """Each layer's z (d numbers) -> that layer's prefix; the other layers keep theirs."""

    def __init__(self, p0: np.ndarray, s: TuneSettings) -> None:
        self.p0, self.s = p0, s
        self.current = p0.copy()

    def projection(self, layer: int) -> np.ndarray:
        """A_l [d, 2 * kv_heads * P * head_dim], the same every time for the run's seed."""
        d, part = self.s.intrinsic_dim, self.p0[layer, 0].size
        rng = np.random.default_rng([self.s.seed, layer])
        scale = [float(self.p0[layer, kv].std()) / (math.sqrt(d) * self.s.sigma) for kv in (0, 1)]
        return np.concatenate([rng.normal(0.0, scale[kv], (d, part)) for kv in (0, 1)], axis=1)

    def with_layer(self, layer: int, z: np.ndarray, a: np.ndarray) -> np.ndarray:
        """The whole prefix with layer `layer` at p0 + A z (float32, as the engine takes it)."""
        prefix = self.current.copy()
        prefix[layer] = self.p0[layer] + (z @ a).reshape(self.p0[layer].shape)
        return prefix.astype(np.float32)

    def set_layer(self, layer: int, z: np.ndarray, a: np.ndarray) -> None:
        self.current[layer] = self.p0[layer] + (z @ a).reshape(self.p0[layer].shape)


def search(
    engine, data: TuningData, s: TuneSettings, model_key: str, resume: Checkpoint | None,
    save: Callable[[dict[str, np.ndarray], dict], None], progress: bool,
) -> tuple[np.ndarray, Progress, int]:  # fmt: skip
    """Layer by layer until the budget of training calls is spent; the best prompt, the progress, all calls."""
    from cmaes import CMA

    space = DeepSubspace(starting_prefix(engine.model, s.prompt_tokens), s)
    layers = space.p0.shape[0]
    optimisers = [
        CMA(mean=np.zeros(s.intrinsic_dim), sigma=s.sigma, population_size=s.population, seed=s.seed + layer)
        for layer in range(layers)
    ]
    p, calls, best = Progress(), 0, None
    if resume is not None:
        p, calls, best = Progress.of(resume.state), int(resume.state["calls"]), resume.arrays["best"]
        space.current = resume.arrays["current"]  # float64, as an unbroken run keeps it
        for layer, optimiser in enumerate(optimisers):
            _restore(optimiser, _layer_of(resume, layer))
    loss_of = cross_entropy if s.loss == "ce" else hinge

    def scored(prefix: np.ndarray, split: Split) -> torch.Tensor:
        nonlocal calls
        calls += 1
        return soft_prompt_scores(engine, LearnedPrompt("bbtv2", model_key, prefix), split, data, p)

    generations = max(1, s.budget // s.population)
    bar = tqdm(total=generations, initial=p.step, desc="tune bbtv2", unit="gen", disable=None if progress else True)
    with bar:
        while p.step < generations and not p.stalled(s.patience):
            layer, optimiser = p.step % layers, optimisers[p.step % layers]
            a = space.projection(layer)
            optimiser.reseed_rng(s.seed * 1_000_003 + p.step)  # a resumed run draws what an unbroken one draws
            solutions = []
            for _ in range(s.population):
                z = optimiser.ask()
                lp = scored(space.with_layer(layer, z, a), data.train)
                solutions.append((z, float(loss_of(lp, data.train.targets))))
            optimiser.tell(solutions)
            space.set_layer(layer, optimiser.mean, a)
            p.step += 1
            bar.update(1)
            if p.step % s.eval_every == 0 or p.step == generations:
                loss = min(v for _, v in solutions)
                dev = accuracy(scored(space.current.astype(np.float32), data.dev), data.dev.targets)
                p.history.append({"step": p.step, "calls": calls, "loss": loss, "dev_acc": dev, "layer": layer})
                if dev > p.best_dev:
                    best, p.best_dev, p.best_step = space.current.astype(np.float32), dev, p.step
                bar.set_postfix(loss=f"{loss:.3f}", dev_acc=f"{dev:.3f}", layer=layer, calls=calls)
                assert best is not None
                arrays: dict[str, np.ndarray] = {"best": best, "current": space.current}
                state: dict[str, object] = {**p.as_state(), "calls": calls}
                for i, o in enumerate(optimisers):
                    arrays |= {f"layer{i}.{k}": v for k, v in _state_arrays(o).items()}
                    state |= {f"layer{i}.{k}": v for k, v in _scalars(o).items()}
                save(arrays, state)
    assert best is not None
    return best, p, calls


def _layer_of(resume: Checkpoint, layer: int) -> Checkpoint:
    """One layer's optimiser state, named as bbt's restore reads it."""
    prefix = f"layer{layer}."
    arrays = {k.removeprefix(prefix): v for k, v in resume.arrays.items() if k.startswith(prefix)}
    state = {k.removeprefix(prefix): v for k, v in resume.state.items() if k.startswith(prefix)}
    return Checkpoint(resume.settings, arrays, state)
