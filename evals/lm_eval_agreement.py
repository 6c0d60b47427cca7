"""Does promptkit score multiple choice as lm-evaluation-harness does? Both run, the same requests compared.

    python evals/lm_eval_agreement.py --data ../shared/data/kojima/dataset/CommonsenseQA/dev_rand_split.jsonl --limit 200
    python evals/lm_eval_agreement.py --data ../shared/data/kojima/dataset/CommonsenseQA/dev_rand_split.jsonl --choices texts

CommonsenseQA is written as lm-eval's `commonsense_qa` task writes it (evals/tasks/commonsense_qa_lm_eval.yaml:
`Question: ...\\nA. ...\\nE. ...\\nAnswer:`), the choices scored either as the letters ` A`..` E` (lm-eval's
task, where acc_norm cannot differ from acc) or as the option texts (`--choices texts`, lengths that differ, so
acc_norm is a measure of its own). lm-eval reads the same local file through a task YAML of its own (written here,
into a temporary folder), with its hf backend on SmolLM2, float32, CPU. promptkit runs a `score_choices` stage
through its hf engine. Printed: each side's acc and acc_norm, how many log-likelihoods differ, the largest
difference, and how many of lm-eval's is_greedy flags differ.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
TASK_FILE = HERE / "tasks" / "commonsense_qa_lm_eval.yaml"
CONTEXT_TEMPLATE = HERE / "tasks" / "question_only.j2"

# lm-eval's own commonsense_qa task, over a local JSON Lines file laid out as Kojima et al.'s copy.
LM_EVAL_TASK = """task: csqa_local
dataset_path: json
dataset_kwargs:
  data_files:
    validation: {data}
validation_split: validation
output_type: multiple_choice
doc_to_text: "Question: {{{{ question.stem.strip() }}}}\\nA. {{{{question.choices[0].text}}}}\\nB. {{{{question.choices[1].text}}}}\\nC. {{{{question.choices[2].text}}}}\\nD. {{{{question.choices[3].text}}}}\\nE. {{{{question.choices[4].text}}}}\\nAnswer:"
{choices}
metric_list:
  - metric: acc
    aggregation: mean
    higher_is_better: true
  - metric: acc_norm
    aggregation: mean
    higher_is_better: true
"""

# What each choice is, on lm-eval's side: the letters, or the option texts with the answer's position as target.
LM_EVAL_CHOICES = {
    "letters": "doc_to_target: answerKey\ndoc_to_choice: ['A', 'B', 'C', 'D', 'E']",
    "texts": "doc_to_target: \"{{ ['A', 'B', 'C', 'D', 'E'].index(answerKey) }}\"\n"
    "doc_to_choice: \"{{ question.choices | map(attribute='text') | list }}\"",
}
CONTINUATIONS = {"letters": "labels", "texts": "texts"}
"""The same choice on promptkit's side: score_choices' `continuations`."""


@dataclass(frozen=True)
class Side:
    loglikelihoods: dict[str, list[float]]
    """Per question (by its record id), per choice."""
    greedy: dict[str, list[bool]]
    """Per question, per choice: whether the choice is the model's greedy continuation (lm-eval's is_greedy)."""
    outcomes: dict[str, tuple[bool, bool]]
    """Per question: whether acc's pick is right, and acc_norm's."""
    acc: float
    acc_norm: float
    seconds: float


def run_promptkit(data: Path, limit: int, model: str, choices: str = "letters") -> Side:
    from promptkit import PipelineSpec, build, evaluate, load_task
    from promptkit.engines.hf import HFEngine

    task = load_task(str(TASK_FILE), data).limit(limit)
    stage = {"kind": "score_choices", "template": str(CONTEXT_TEMPLATE), "continuations": CONTINUATIONS[choices]}
    built = build(PipelineSpec.model_validate({"task": {"name": task.name}, "pipeline": [stage]}), task)
    engine = HFEngine(model, device="cpu", dtype="float32", progress=False)
    start = time.perf_counter()
    result = evaluate(task, built.pipeline, engine, built.extractor, method="choice")
    seconds = time.perf_counter() - start
    lls = {s.example.id: [row["logprob"] for row in s.fields["choice_scores"]] for s in result.states}
    greedy = {s.example.id: [bool(row["greedy"]) for row in s.fields["choice_scores"]] for s in result.states}
    outcomes = {
        s.example.id: (s.fields["prediction"] == s.example.target, s.fields["prediction_norm"] == s.example.target)
        for s in result.states
    }
    return Side(lls, greedy, outcomes, result.summary.accuracy, result.summary.metrics.get("acc_norm") or 0.0, seconds)


def run_lm_eval(data: Path, limit: int, folder: str, choices: str = "letters") -> Side:
    import lm_eval
    from lm_eval.tasks import TaskManager

    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "csqa_local.yaml").write_text(
            LM_EVAL_TASK.format(data=Path(data).resolve(), choices=LM_EVAL_CHOICES[choices])
        )
        start = time.perf_counter()
        out = lm_eval.simple_evaluate(
            model="hf",
            model_args=f"pretrained={folder},dtype=float32,device=cpu",
            tasks=["csqa_local"],
            task_manager=TaskManager(include_path=tmp),
            limit=limit,
            batch_size=1,
            log_samples=True,
        )
        seconds = time.perf_counter() - start
    samples = out["samples"]["csqa_local"]
    lls = {s["doc"]["id"]: [float(r[0][0]) for r in s["resps"]] for s in samples}
    greedy = {s["doc"]["id"]: [bool(r[0][1]) for r in s["resps"]] for s in samples}
    outcomes = {s["doc"]["id"]: (s["acc"] == 1.0, s["acc_norm"] == 1.0) for s in samples}
    metrics = out["results"]["csqa_local"]
    return Side(lls, greedy, outcomes, metrics["acc,none"], metrics["acc_norm,none"], seconds)


TOLERANCE = 1e-4
"""The largest log-likelihood difference that counts as agreeing (float32 kernels differ by machine)."""


def compare(ours: Side, theirs: Side) -> dict:
    """Question by question, by id: a question one side lacks is an error, never zipped away. Reports how many
    log-likelihoods differ at all and the largest difference, as measured."""
    missing, extra = (
        sorted(set(theirs.loglikelihoods) - set(ours.loglikelihoods)),
        sorted(set(ours.loglikelihoods) - set(theirs.loglikelihoods)),
    )
    if missing or extra:
        raise ValueError(
            f"the sides scored different questions: promptkit lacks {missing[:3]}, lm-eval lacks {extra[:3]}"
        )
    pairs = []
    for qid, lls in ours.loglikelihoods.items():
        if len(lls) != len(theirs.loglikelihoods[qid]):
            raise ValueError(
                f"question {qid}: {len(lls)} choices scored by promptkit, {len(theirs.loglikelihoods[qid])} by lm-eval"
            )
        pairs += list(zip(lls, theirs.loglikelihoods[qid]))
    diffs = [abs(a - b) for a, b in pairs]
    greedy_differs = sum(a != b for qid in ours.greedy for a, b in zip(ours.greedy[qid], theirs.greedy[qid]))
    largest = max(diffs, default=0.0)
    outcomes_differ = sum(ours.outcomes[qid] != theirs.outcomes[qid] for qid in ours.outcomes)
    return {
        "questions": len(ours.loglikelihoods),
        "promptkit": {"acc": ours.acc, "acc_norm": ours.acc_norm, "seconds": round(ours.seconds, 2)},
        "lm_eval": {"acc": theirs.acc, "acc_norm": theirs.acc_norm, "seconds": round(theirs.seconds, 2)},
        "loglikelihoods": len(diffs),
        "loglikelihoods_differing": sum(d != 0.0 for d in diffs),
        "max_abs_loglikelihood_difference": largest,
        "is_greedy_differing": greedy_differs,
        "questions_judged_differently": outcomes_differ,
        # where acc_norm says something acc does not (never, when every choice is one letter)
        "acc_norm_differs_from_acc": sum(acc != norm for acc, norm in ours.outcomes.values()),
        "bit_equal": largest == 0.0,
        "equal": ours.acc == theirs.acc
        and ours.acc_norm == theirs.acc_norm
        and largest < TOLERANCE
        and greedy_differs == 0
        and outcomes_differ == 0,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="CommonsenseQA dev_rand_split.jsonl")
    parser.add_argument("--limit", type=int, default=200)
    parser.add_argument("--choices", choices=sorted(LM_EVAL_CHOICES), default="letters", help="what a choice is")
    args = parser.parse_args(argv)
    from promptkit.engines.model_files import BUILTIN_MODEL, builtin_model_folder

    folder = str(builtin_model_folder())
    ours = run_promptkit(Path(args.data), args.limit, BUILTIN_MODEL, args.choices)
    theirs = run_lm_eval(Path(args.data), args.limit, folder, args.choices)
    report = compare(ours, theirs)
    print(json.dumps(report, indent=2))
    return 0 if report["equal"] else 1


if __name__ == "__main__":
    sys.exit(main())
