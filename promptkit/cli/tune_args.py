"""`promptkit tune`'s flags: learning a prompt (promptkit.tuning) and searching it (promptkit.search), each
default read from its settings dataclass."""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Callable
from typing import Any, get_args

from promptkit.cli.arg_types import count, seed
from promptkit.search.settings import CRITERIA, SEARCH_METHODS, SearchSettings
from promptkit.tuning.settings import TUNE_METHODS, Init, Loss, TuneSettings


def add_tune_parser(sub: Any, engine_args: Callable[[argparse.ArgumentParser], None]) -> None:
    """`promptkit tune`: its learned-prompt flags, its search flags, and the engine's (`engine_args`)."""
    d = {f.name: f.default for f in dataclasses.fields(TuneSettings)}
    sd = {f.name: f.default for f in dataclasses.fields(SearchSettings)}
    t = sub.add_parser(
        "tune",
        help="learn a prompt (soft prompts, BBT, BDPL: a learned-prompt file) or search it (demonstrations, "
        "rationales, instructions: a run spec)",
    )
    t.add_argument("--task", required=True, help="a shipped task or a task file (learned prompts: classification)")
    t.add_argument("--method", required=True, choices=TUNE_METHODS + SEARCH_METHODS)
    t.add_argument(
        "--out",
        required=True,
        help="the learned prompt to write (.safetensors; a checkpoint beside it), or for a search the run spec "
        "(best.yaml; its log beside it)",
    )
    t.add_argument("--data", help="the task's data (its training file lies beside it, as for demonstrations)")
    t.add_argument("--pool", help="train from this data file instead of the task's training data")
    t.add_argument(
        "--k", type=count, help=f"examples per class, for training and again for development (default {d['k']})"
    )
    t.add_argument(
        "--seed", type=seed, help=f"draws the examples, starts the prompt and the search (default {d['seed']})"
    )
    t.add_argument("--tokens", type=count, help="prompt length in virtual tokens (default 20; bbt, bbtv2 50)")
    t.add_argument("--steps", type=count, help=f"white-box: optimiser steps (default {d['steps']})")
    t.add_argument("--batch", type=count, help="white-box: examples per step (default: all of them)")
    t.add_argument("--lr", type=float, help="white-box: learning rate (default 3e-2; prefix_tuning 1e-2)")
    t.add_argument("--init", choices=get_args(Init), help=f"prompt_tuning: how the prompt starts (default {d['init']})")
    t.add_argument("--init-text", help="prompt_tuning with --init text: the words the prompt starts as")
    t.add_argument("--init-from", help="start from another task's learned prompt (SPoT)")
    t.add_argument(
        "--no-reparametrize", dest="reparametrize", action="store_false", default=None,
        help="prefix_tuning: train the prefix itself, not through an MLP (P-tuning v2's deep prompt)",
    )  # fmt: skip
    t.add_argument(
        "--budget", type=count,
        help=f"engine calls: bbt, bbtv2, bdpl on the training set (default {d['budget']}); a search's in all "
        f"(default {sd['budget']})",
    )  # fmt: skip
    t.add_argument(
        "--intrinsic-dim",
        type=count,
        help=f"bbt, bbtv2: the subspace searched (per layer for bbtv2) (default {d['intrinsic_dim']})",
    )
    t.add_argument("--population", type=count, help=f"bbt, bbtv2: CMA-ES population (default {d['population']})")
    t.add_argument("--sigma", type=float, help=f"bbt, bbtv2: CMA-ES initial step (default {d['sigma']})")
    t.add_argument("--loss", choices=get_args(Loss), help=f"bbt, bbtv2: the loss searched (default {d['loss']})")
    t.add_argument(
        "--eval-every", type=count, help=f"steps or generations between development checks (default {d['eval_every']})"
    )
    t.add_argument(
        "--patience",
        type=count,
        help="stop after this many development checks in a row without a better accuracy (default: run them all)",
    )
    t.add_argument(
        "--candidates", type=count, help=f"bdpl: phrases each position chooses from (default {d['candidates']})"
    )
    t.add_argument("--samples", type=count, help=f"bdpl: prompts drawn per step (default {d['samples']})")
    t.add_argument("--rank", type=count, help=f"lora: the rank of each update (default {d['rank']})")
    t.add_argument("--alpha", type=count, help=f"lora: the update's scale is alpha / rank (default {d['alpha']})")
    t.add_argument("--target-modules", help=f"lora: the modules adapted in every layer (default {d['target_modules']})")
    _search_args(t.add_argument_group("prompt search (demo_search, bootstrap, instruction_search)"), sd)
    c = t.add_mutually_exclusive_group()
    c.add_argument(
        "--cache", help="bdpl, searches: the generation cache, which serves prompts asked again (default: the usual)"
    )
    c.add_argument("--no-cache", action="store_true", help="bdpl, searches: do not read or write the cache")
    t.add_argument("--quiet", action="store_true", help="no progress bars")
    engine_args(t)


def _search_args(g: argparse._ArgumentGroup, d: dict[str, Any]) -> None:
    g.add_argument(
        "--searched", help="the method whose prompt is searched (default: classify for a classification task, "
        "else few_shot_cot; instruction_search: zero_shot_cot's trigger)",
    )  # fmt: skip
    g.add_argument("--shots", type=count, help=f"demonstrations per prompt (default {d['shots']})")
    g.add_argument("--dev", type=count, help=f"development examples drawn from the training pool (default {d['dev']})")
    g.add_argument("--calibrate", action="store_true", default=None, help="classify: score after calibration")
    g.add_argument("--balanced", action="store_true", default=None, help="demo_search: each class equally")
    g.add_argument(
        "--criterion", choices=CRITERIA,
        help="demo_search: development accuracy, or Lu et al.'s entropy without labels (default dev)",
    )  # fmt: skip
    g.add_argument(
        "--leaders", type=count, help=f"candidates scored on the whole development split (default {d['leaders']})"
    )
    g.add_argument(
        "--bootstrap", type=count, help=f"bootstrap: training questions the teacher answers (default {d['bootstrap']})"
    )
    g.add_argument("--teacher", help="bootstrap: an engine spec file (YAML) of the teacher; default: the model")
    g.add_argument(
        "--proposals", type=count, help=f"instruction_search: instructions proposed a step (default {d['proposals']})"
    )
    g.add_argument(
        "--proposer", help="instruction_search: an engine spec file (YAML) that proposes; default: the model"
    )
    g.add_argument(
        "--seeds", type=count, help="repeat the whole search N times (seeds seed..seed+N-1), each run on the test set"
    )
    g.add_argument("--limit", type=count, help="with --seeds: the first N test examples only")
