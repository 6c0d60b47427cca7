"""`promptkit tune`: learn a prompt for a classification task and write it as a learned-prompt artifact."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from promptkit.engines.base import Engine
from promptkit.engines.hf import HFEngine
from promptkit.errors import PromptkitError
from promptkit.files.adapter import save_adapter
from promptkit.files.learned_prompt import (
    LearnedPrompt,
    learned_digest,
    load_learned_prompt,
    model_key,
    save_learned_prompt,
)
from promptkit.tasks import Task
from promptkit.tuning import bbt, bbtv2, bdpl, white_box
from promptkit.tuning.checkpoint import Checkpoint, checkpoint_path, load_checkpoint, save_checkpoint
from promptkit.tuning.data import tuning_data
from promptkit.tuning.settings import ADAPTERS, BLACK_BOX, ON_ANY_ENGINE, TuneSettings


@dataclass(frozen=True)
class TuneResult:
    prompt: LearnedPrompt | None
    """The learned prompt; None for an adapter (LoRA), written as a folder at `path`."""
    path: Path
    resumed_at: int
    """The step (or generation) the run resumed from; 0 for a fresh run."""
    info: dict[str, object]
    """The run's figures: task, examples, settings, the development accuracy at each check, steps or engine calls,
    prompt tokens (`white_box.Progress.tokens`), minutes."""
    model: str
    """The model (and weights' identity) it was learned on."""


def tune(
    task: Task, engine: Engine, settings: TuneSettings, out: str | Path, *,
    pool: str | None = None, init_from: str | Path | None = None, progress: bool = True,
) -> TuneResult:  # fmt: skip
    """Learn a prompt for `task` on `engine`'s model (k examples per class from its training pool, as many for
    development) and write it to `out`. A checkpoint beside `out` is saved at every development evaluation;
    run the same call again after a crash and it resumes from there. BDPL runs on any engine that scores;
    the other methods need the hf engine (the weights, or BBT's embedding spread)."""
    out = Path(out)
    if out.exists():
        raise PromptkitError(f"{out}: exists; give another --out (a learned prompt is never overwritten)")
    if settings.method not in ON_ANY_ENGINE and not isinstance(engine, HFEngine):
        raise PromptkitError(f"{settings.method} needs the hf engine (engine {engine.identity.kind}; bdpl runs on any)")
    if not engine.scores:
        raise PromptkitError(f"engine {engine.identity.kind} does not score continuations, which tuning needs")
    identity = engine.identity
    if identity.has_learned:  # seen through any wrapper
        raise PromptkitError("the engine already has a learned prompt: tune on the plain model")
    key = model_key(identity.model, identity.revision)
    start = load_learned_prompt(Path(init_from)) if init_from else None
    if start is not None and settings.method in BLACK_BOX:
        raise PromptkitError(f"init-from: {settings.method} starts from the vocabulary, not from a learned prompt")
    data = tuning_data(task, settings.k, settings.seed, pool)
    out.parent.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    ckpt = checkpoint_path(out)
    digest = settings.digest(key, data.digest, learned_digest(start) if start else "")
    resume = load_checkpoint(ckpt, digest)
    resumed_at = int(resume.state["step"]) if resume else 0
    elapsed = float(resume.state.get("seconds", 0.0)) if resume else 0.0

    def save(arrays: dict[str, np.ndarray], state: dict) -> None:
        seconds = elapsed + time.monotonic() - started
        save_checkpoint(ckpt, Checkpoint(digest, arrays, {**state, "seconds": seconds}))

    tensor, text, wrapped = None, None, None
    best: dict[str, np.ndarray] = {}
    if settings.method == "bdpl":
        text, p, calls = bdpl.search(engine, data, settings, key, resume, save, progress)
        work: dict[str, object] = {"calls": calls, "steps": p.step}
    elif settings.method in ("bbt", "bbtv2"):
        assert isinstance(engine, HFEngine)
        searched = bbt.search if settings.method == "bbt" else bbtv2.search
        tensor, p, calls = searched(engine, data, settings, key, resume, save, progress)
        work = {"calls": calls, "generations": p.step}
    else:
        assert isinstance(engine, HFEngine)
        model = engine.model
        trainable = {name: param.requires_grad for name, param in model.named_parameters()}
        wrapped = None
        try:
            wrapped = white_box.prompt_model(model, settings, engine.tokenizer, start)
            best, p = white_box.train(
                model, wrapped, data, settings, engine.tokens.encode_pair, engine.pad_id, engine.device, resume, save,
                progress,
            )  # fmt: skip
        except BaseException:
            _restore_model(model, wrapped, settings, trainable)
            raise
        if settings.method not in ADAPTERS:
            _restore_model(model, wrapped, settings, trainable)
        tensor = best.get("best")
        work = {"steps": p.step}
    info: dict[str, object] = {
        "task": data.task,
        "examples": data.digest,
        "settings": {k: v for k, v in vars(settings).items() if v is not None},
        "best_dev_acc": p.best_dev,
        "best_step": p.best_step,
        "stopped_early": p.stalled(settings.patience),
        "history": p.history,
        "minutes": round((elapsed + time.monotonic() - started) / 60, 2),
        **work,
        "tokens": p.tokens if engine.tokens is not None else None,  # a server's engine has no tokenizer to count
    }
    if start is not None:
        origin: dict[str, object] = {k: start.info[k] for k in ("task", "examples") if k in start.info}
        info["init_from"] = {"model": start.model, **origin}
    prompt = None
    if settings.method in ADAPTERS:
        white_box.load_best(wrapped, best)
        try:
            save_adapter(out, wrapped, key, info)
        finally:
            _restore_model(model, wrapped, settings, trainable)
    else:
        prompt = LearnedPrompt(settings.method, key, tensor, text, info)
        save_learned_prompt(out, prompt)
    ckpt.unlink(missing_ok=True)
    return TuneResult(prompt, out, resumed_at, info, key)


def _restore_model(model, wrapped, settings: TuneSettings, trainable: dict[str, bool]) -> None:
    """The engine's model as it was: LoRA's layers taken out again, and each weight's requires_grad as it was
    (peft freezes them; the engine's later passes on a CPU, under inference mode, run 20% slower frozen)."""
    if wrapped is not None and settings.method in ADAPTERS:
        wrapped.unload()
    for name, param in model.named_parameters():
        param.requires_grad_(trainable.get(name, param.requires_grad))
