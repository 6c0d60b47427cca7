"""Training speed: promptkit's prompt tuning and prefix tuning against peft's own model in a plain PyTorch loop.

    python evals/bench_tuning.py --data ../shared/data/zhao/sst2 --k 8 --steps 5

The same work on both sides: SmolLM2-135M-Instruct, Zhao et al.'s SST-2 in `classify`'s zero-shot format (the
label words ' negative', ' positive'), k training examples per class, every one of them each step, AdamW at the
method's learning rate from the same starting prompt, and one development check at the end.

- promptkit: `white_box.train`, as the `tune` command runs it: a row per example (each label word is one token,
  read at the example's last position), left padding that takes no positions, the last position's logits only.
- peft: `get_peft_model` and its model's own forward, the way its documentation trains: a row per (example,
  label word), right-padded, the full logits; the class cross-entropy from the words' log-probabilities.

Printed per method: seconds per step on each side, example tokens per second, the ratio of the times, and the
loss at every step on both sides with their largest difference (in float32 they must agree within 1e-4). The
first step's loss always agrees; the later ones do at a learning rate small enough that AdamW, which scales each
gradient component to about the learning rate whatever its size, does not turn a rounding difference in a
near-zero component into a whole step (`--lr 1e-3` for prompt tuning, `1e-4` for prefix tuning: see
docs/performance.md).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

TOLERANCE = 1e-4


def _settings(method: str, args: argparse.Namespace, **extra: Any) -> Any:
    from promptkit.tuning import TuneSettings

    return TuneSettings(method, k=args.k, steps=args.steps, seed=args.seed, tokens=args.tokens, **extra)


def run_promptkit(engine: Any, data: Any, settings: Any) -> tuple[float, list[float]]:
    """Seconds for `steps` steps and one development check, and each step's loss (a second, untimed run with a
    check every step: the history records the loss there)."""
    from dataclasses import replace

    from promptkit.tuning import white_box

    def once(s: Any) -> tuple[float, Any]:
        wrapped = white_box.prompt_model(engine.model, s, engine.tokenizer, None)
        start = time.perf_counter()
        _, progress = white_box.train(
            engine.model, wrapped, data, s, engine.tokens.encode_pair, engine.pad_id, "cpu", None,
            lambda arrays, state: None, False,
        )  # fmt: skip
        return time.perf_counter() - start, progress

    seconds, _ = once(replace(settings, eval_every=settings.steps))
    _, progress = once(replace(settings, eval_every=1))
    return seconds, [h["loss"] for h in progress.history]


def run_peft(folder: str, dtype: str, engine: Any, data: Any, settings: Any) -> tuple[float, list[float]]:
    """peft's model trained by a plain loop: seconds for the steps and one development check, each step's loss."""
    import torch
    from transformers import AutoModelForCausalLM

    from promptkit.tuning import white_box

    model = AutoModelForCausalLM.from_pretrained(folder, dtype=getattr(torch, dtype))
    wrapped = white_box.prompt_model(model, settings, engine.tokenizer, None)  # the same starting prompt
    params = [p for p in wrapped.parameters() if p.requires_grad]
    optimiser = torch.optim.AdamW(params, lr=settings.learning_rate, weight_decay=0.0)
    words = data.continuations
    encode = engine.tokens.encode_pair

    def class_log_probs(split: Any) -> torch.Tensor:
        pairs = [encode(c, word) for c in split.contexts for _, word in words]
        width = max(len(a) + len(b) for a, b in pairs)
        ids = torch.full((len(pairs), width), engine.pad_id, dtype=torch.long)
        mask = torch.zeros((len(pairs), width), dtype=torch.long)
        for r, (a, b) in enumerate(pairs):
            ids[r, : len(a) + len(b)] = torch.tensor(a + b)
            mask[r, : len(a) + len(b)] = 1
        logits = wrapped(input_ids=ids, attention_mask=mask).logits.float()
        offset = logits.shape[1] - width  # prompt tuning's virtual tokens come first in its logits
        lp = logits.log_softmax(dim=-1)
        word_lp = torch.stack([
            sum(lp[r, offset + len(a) - 1 + i, t] for i, t in enumerate(b)) for r, (a, b) in enumerate(pairs)
        ]).view(len(split.contexts), len(words))  # fmt: skip
        columns = torch.tensor([c for c, _ in words])
        return torch.stack([word_lp[:, columns == c].logsumexp(dim=1) for c in range(len(data.classes))], dim=1)

    losses = []
    start = time.perf_counter()
    for _ in range(settings.steps):
        optimiser.zero_grad()
        loss = torch.nn.functional.cross_entropy(class_log_probs(data.train), torch.tensor(data.train.targets))
        loss.backward()
        optimiser.step()
        losses.append(float(loss.detach()))
    with torch.no_grad():
        class_log_probs(data.dev)
    return time.perf_counter() - start, losses


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="Zhao et al.'s sst2 folder")
    parser.add_argument("--k", type=int, default=8, help="training examples per class (and as many for development)")
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--tokens", type=int, default=20, help="virtual tokens")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--lr", type=float, help="the learning rate, both sides (default: the method's own)")
    parser.add_argument("--dtype", default="float32", choices=["float32", "bfloat16"])
    parser.add_argument("--methods", default="prompt_tuning,prefix_tuning")
    parser.add_argument(
        "--no-reparametrize", dest="reparametrize", action="store_false", help="prefix_tuning without its MLP"
    )
    args = parser.parse_args(argv)
    from promptkit.engines.hf import HFEngine
    from promptkit.engines.model_files import BUILTIN_MODEL, builtin_model_folder
    from promptkit.tasks import load_task
    from promptkit.tuning.data import tuning_data

    engine = HFEngine(BUILTIN_MODEL, device="cpu", dtype=args.dtype, progress=False)
    data = tuning_data(load_task("sst2", Path(args.data)), args.k, args.seed)
    word = data.continuations[0][1]
    tokens = sum(sum(map(len, engine.tokens.encode_pair(c, word))) for c in data.train.contexts)  # a step's
    rows = []
    for method in args.methods.split(","):
        settings = _settings(method, args, reparametrize=args.reparametrize, lr=args.lr)
        ours, our_losses = run_promptkit(engine, data, settings)
        theirs, their_losses = run_peft(str(builtin_model_folder()), args.dtype, engine, data, settings)
        gap = max(abs(a - b) for a, b in zip(our_losses, their_losses))
        rows.append({
            "method": method, "examples": len(data.train.contexts), "steps": args.steps, "dtype": args.dtype,
            "promptkit_s_per_step": round(ours / args.steps, 3), "peft_s_per_step": round(theirs / args.steps, 3),
            "promptkit_tokens_per_s": round(tokens * args.steps / ours), "peft_tokens_per_s": round(tokens * args.steps / theirs),
            "time_ratio": round(ours / theirs, 3),
            "promptkit_losses": [round(x, 6) for x in our_losses], "peft_losses": [round(x, 6) for x in their_losses],
            "max_loss_difference": gap, "losses_agree": gap < TOLERANCE,
        })  # fmt: skip
        print(json.dumps(rows[-1]), flush=True)
    ok = all(r["losses_agree"] for r in rows) or args.dtype != "float32"
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
