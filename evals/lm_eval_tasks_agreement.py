"""Does promptkit run lm-eval's tasks as lm-eval runs them? Both sides on the same local files and model, compared.

    python evals/lm_eval_tasks_agreement.py --task arc_easy=FOLDER --task gsm8k=FOLDER2 --shots 2 --limit 20

FOLDER holds the task's splits as lm-eval names them (test.jsonl, train.jsonl, validation.jsonl, ...), records in
the task's own schema. lm-eval reads them through task YAMLs that include its shipped ones (written here, into a
temporary folder) and runs its evaluator (simple_evaluate, its hf backend, float32, CPU, log_samples); promptkit
runs `--task lm-eval:NAME --data FOLDER` with the lm_eval method on its hf engine. Per task, printed as JSON:
documents and requests compared, prompts that differ, the largest log-likelihood difference, generations,
filtered answers and per-document metrics that differ, and each side's metrics.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

TOLERANCE = 1e-4
"""The largest log-likelihood difference that counts as agreeing (float32 kernels differ by machine)."""


def run_lm_eval(folders: dict[str, Path], model: str, shots: int, limit: int, max_gen_toks: int) -> dict[str, Any]:
    """lm-eval's evaluator over each task's local files: {task: (its results, its logged samples)}."""
    import lm_eval
    import yaml
    from lm_eval.tasks import TaskManager
    from lm_eval.tasks._index import TaskIndex

    shipped = TaskIndex.build([Path(lm_eval.__file__).parent / "tasks"])
    with tempfile.TemporaryDirectory() as tmp:
        for name, folder in folders.items():
            files = {p.stem: str(p.resolve()) for p in Path(folder).glob("*.jsonl")}
            wrapper = {"include": str(shipped[name].yaml_path), "task": name, "dataset_path": "json",
                       "dataset_name": None, "dataset_kwargs": {"data_files": files}}  # fmt: skip
            for split in ("training_split", "validation_split", "test_split"):
                if shipped[name].cfg.get(split) and shipped[name].cfg[split] not in files:
                    wrapper[split] = None
            (Path(tmp) / f"{name}.yaml").write_text(yaml.safe_dump(wrapper))
        out = lm_eval.simple_evaluate(
            model="hf",
            model_args=f"pretrained={model},dtype=float32,device=cpu",
            tasks=list(folders),
            task_manager=TaskManager(include_path=tmp, include_defaults=False),
            num_fewshot=shots,
            limit=limit,
            batch_size=1,
            log_samples=True,
            gen_kwargs=f"max_gen_toks={max_gen_toks}",
        )
    return {name: (out["results"][name], out["samples"][name]) for name in folders}


def run_promptkit(name: str, folder: Path, engine: Any, shots: int, limit: int, max_gen_toks: int) -> Any:
    """The lm_eval method over `lm-eval:NAME` on the same files: its states, and the task."""
    from promptkit import load_task
    from promptkit.runs.build import build_method
    from promptkit.runs.evaluate import evaluate

    task = load_task(f"lm-eval:{name}", folder, limit=limit)
    budget = {} if task.lm_eval.facts.output_type == "multiple_choice" else {"max_tokens": {"answer": max_gen_toks}}
    built = build_method(task, "lm_eval", shots=shots, **budget)
    return evaluate(task, built.pipeline, engine, built.extractor, method="lm_eval"), task


def compare(name: str, ours: Any, task: Any, theirs: tuple[dict, list[dict]]) -> dict[str, Any]:
    """Document by document (by doc_id): requests, log-likelihoods or generations, filtered answers, metrics."""
    results, samples = theirs
    states = {int(s.example.id): s for s in ours.states}
    if sorted(states) != sorted({s["doc_id"] for s in samples}):
        raise ValueError(f"{name}: the sides evaluated different documents")
    facts = task.lm_eval.facts
    report: dict[str, Any] = {"task": name, "documents": len(states), "requests": 0, "prompts_differing": 0}
    if facts.output_type == "multiple_choice":
        diffs, judged = [], 0
        for sample in samples:
            state = states[sample["doc_id"]]
            pairs = [(p["context"], p["continuation"]) for p in state.fields["choice_pairs"]]
            report["requests"] += len(sample["arguments"])
            report["prompts_differing"] += sum(a != tuple(b) for a, b in zip(pairs, sample["arguments"]))
            report["prompts_differing"] += abs(len(pairs) - len(sample["arguments"]))
            mine = [row["logprob"] for row in state.fields["choice_scores"]]
            diffs += [abs(a - r[0][0]) for a, r in zip(mine, sample["resps"])]
            acc = float(state.fields["prediction"] == state.example.target)
            norm = float(state.fields["prediction_norm"] == state.example.target)
            judged += acc != sample["acc"] or ("acc_norm" in sample and norm != sample["acc_norm"])
        report |= {"max_abs_loglikelihood_difference": max(diffs, default=0.0), "metrics_differing": judged}
        report["equal"] = not report["prompts_differing"] and report["max_abs_loglikelihood_difference"] < TOLERANCE
    else:
        from promptkit.stages.library.task_extractors import task_extractor

        generations = answers = judged = 0
        for sample in samples:
            state = states[sample["doc_id"]]
            answer = next(r for r in state.trace if r.stage == "answer")
            report["requests"] += 1
            report["prompts_differing"] += answer.prompt != sample["arguments"][0][0]
            generations += answer.completion != sample["resps"][0][0]
            extractor = task_extractor(f"lm-eval:{sample['filter']}", task)
            mine = extractor.answer(str(answer.completion), state.example)
            theirs_answer = sample["filtered_resps"][0]
            answers += (mine or "[invalid]") != theirs_answer
            judged += float(extractor.score(mine, state.example.target)) != float(sample[facts.metric])
        report |= {"generations_differing": generations, "answers_differing": answers, "metrics_differing": judged}
        report["equal"] = not (report["prompts_differing"] or generations or answers or judged)
    report["equal"] = report["equal"] and not report["metrics_differing"]
    report["promptkit"] = {"accuracy": ours.summary.accuracy, **_acc_norm(ours)}
    report["lm_eval"] = {k: float(v) for k, v in results.items() if "," in k and "stderr" not in k}
    return report


def _acc_norm(result: Any) -> dict[str, float]:
    norm = result.summary.metrics.get("acc_norm")
    return {"acc_norm": norm} if norm is not None else {}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", action="append", required=True, metavar="NAME=FOLDER", help="repeatable")
    parser.add_argument("--shots", type=int, default=2)
    parser.add_argument("--limit", type=int, default=20)
    parser.add_argument("--max-gen-toks", type=int, default=64, help="generation budget, both sides")
    args = parser.parse_args(argv)
    from promptkit.engines.hf import HFEngine
    from promptkit.engines.model_files import BUILTIN_MODEL, builtin_model_folder

    folders = {name: Path(folder) for name, _, folder in (t.partition("=") for t in args.task)}
    theirs = run_lm_eval(folders, str(builtin_model_folder()), args.shots, args.limit, args.max_gen_toks)
    engine = HFEngine(BUILTIN_MODEL, device="cpu", dtype="float32", progress=False)
    reports = []
    for name, folder in folders.items():
        ours, task = run_promptkit(name, folder, engine, args.shots, args.limit, args.max_gen_toks)
        reports.append(compare(name, ours, task, theirs[name]))
    print(json.dumps(reports, indent=2))
    return 0 if all(r["equal"] for r in reports) else 1


if __name__ == "__main__":
    sys.exit(main())
