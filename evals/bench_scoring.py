"""Scoring by likelihood, side by side: a promptkit method against lm-eval's hf backend on its requests.

    python evals/bench.py --scoring --data ../shared/data/kojima/dataset/CommonsenseQA/dev_rand_split.jsonl \\
        --examples 100 --shots 8
    python evals/bench.py --scoring --task sst2 --data ../shared/data/zhao/sst2 --examples 300 --shots 8

CommonsenseQA runs few_shot_choice; SST-2 (or any classification task) runs classify with one seeded draw
of demonstrations and contextual calibration (the content-free prompts are scored too). promptkit runs
the whole method (demonstrations chosen and packed, prompts rendered, every choice
scored, predictions and metrics) on the hf engine, recording the (context, continuation) requests it
sends; lm-eval's `HFLM.loglikelihood` (batch size 1, its default) then scores exactly those requests.
Both load SmolLM2 in float32 on the CPU; each side's time excludes loading the weights. Printed: the
seconds of each, promptkit's time as a fraction of lm-eval's, and the largest difference between the
two sides' log-likelihoods.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

from promptkit import build_method, evaluate, load_task
from promptkit.engines.hf import HFEngine
from promptkit.engines.implementing import CountingEngine
from promptkit.engines.model_files import BUILTIN_MODEL, builtin_model_folder
from promptkit.types import Score, ScoreRequest


class Recorder(CountingEngine):
    def __init__(self, inner) -> None:
        super().__init__(inner)
        self.recorded: list[ScoreRequest] = []
        self.scored: list[Score] = []

    def score(self, requests: Sequence[ScoreRequest]) -> list[Score]:
        self.recorded.extend(requests)
        out = super().score(requests)
        self.scored.extend(out)
        return out


def run(data: Path, examples: int, shots: int, task_name: str = "commonsensqa") -> dict:
    task = load_task(task_name, data).limit(examples)
    if task.definition is not None and task.definition.prompts.classification is not None:
        method = "classify"
        built = build_method(task, method, shots=shots, calibrate="content_free")
    else:
        method = "few_shot_choice"
        built = build_method(task, method, pool=str(data), shots=shots)
    engine = HFEngine(BUILTIN_MODEL, device="cpu", dtype="float32", progress=False)
    engine.model  # noqa: B018 (load the weights before the clock starts)
    recorder = Recorder(engine)
    start = time.perf_counter()
    result = evaluate(task, built.pipeline, recorder, built.extractor, method=method)
    ours = time.perf_counter() - start
    theirs, lm_eval_scores = _lm_eval(recorder.recorded)
    diff = max(abs(a.logprob - b) for a, b in zip(recorder.scored, lm_eval_scores))
    return {
        "task": task.name,
        "method": method,
        "questions": len(task.examples),
        "requests": len(recorder.recorded),
        "context_tokens_mean": sum(len(engine.encode(r.context)) for r in recorder.recorded) / len(recorder.recorded),
        "promptkit_seconds": round(ours, 2),
        "lm_eval_seconds": round(theirs, 2),
        "ratio": round(ours / theirs, 3),
        "max_abs_loglikelihood_difference": diff,
        "acc": result.summary.accuracy,
    }


def _lm_eval(requests: Sequence[ScoreRequest]) -> tuple[float, list[float]]:
    from lm_eval.api.instance import Instance
    from lm_eval.models.huggingface import HFLM

    lm = HFLM(pretrained=str(builtin_model_folder()), dtype="float32", device="cpu", batch_size=1)
    instances = [
        Instance(request_type="loglikelihood", doc={}, arguments=(r.context, r.continuation), idx=i)
        for i, r in enumerate(requests)
    ]
    start = time.perf_counter()
    out = lm.loglikelihood(instances, disable_tqdm=True)
    return time.perf_counter() - start, [float(ll) for ll, _ in out]


def print_report(report: dict) -> None:
    print(
        f"{report['task']} x {report['questions']}, {report['requests']} requests, contexts of "
        f"{report['context_tokens_mean']:.0f} tokens on average, SmolLM2 float32 on CPU\n"
        f"lm-eval hf (batch 1): {report['lm_eval_seconds']:.2f} s; promptkit {report['method']}: "
        f"{report['promptkit_seconds']:.2f} s; ratio {report['ratio']:.2f}; "
        f"max log-likelihood difference {report['max_abs_loglikelihood_difference']:.1e}"
    )
