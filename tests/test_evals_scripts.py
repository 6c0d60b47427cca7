"""Benchmark scripts stay runnable (their figures are printed, not asserted)."""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import require

ROOT = Path(__file__).resolve().parents[1]


def test_bench_engine_runs_on_the_tiny_model():
    run = subprocess.run(
        [
            sys.executable,
            str(ROOT / "evals" / "bench_engine.py"),
            "--n",
            "6",
            "--repeats",
            "1",
            "--max-tokens",
            "4",
            "--device",
            "cpu",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    assert "speed-up from batching" in run.stdout
    assert "2 engine calls, 12 requests" in run.stdout


def test_last_letter_sweep_runs_on_the_tiny_model(tiny_model, tmp_path):
    run = subprocess.run(
        [sys.executable, str(ROOT / "evals" / "last_letters_sweep.py"), "--model", str(tiny_model), "--lengths", "2,4",
         "--count", "2", "--cache", str(tmp_path / "c.sqlite"), "--quiet"],
        capture_output=True,
        text=True,
        timeout=600,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-2000:]
    rows = [line for line in run.stdout.splitlines() if line.startswith("| 2 ") or line.startswith("| 4 ")]
    assert len(rows) == 2
    assert rows[1].endswith("| 84.2 | 94.0 |"), "Zhou et al.'s figures for L=4 are printed beside ours"


def test_generated_sweep_sets_have_the_asked_lengths():
    from promptkit.tasks import generated_task

    for words in range(2, 13):
        task = generated_task(count=5, words=words, seed=0)
        assert all(len(e.inputs["question"].split('"')[1].split()) == words for e in task.examples)


def test_bench_openai_runs_against_a_local_server():
    require("fastapi", "transformers serve needs the serving extra (the dev extra brings it)")
    run = subprocess.run(
        [
            sys.executable,
            str(ROOT / "evals" / "bench_openai.py"),
            "--n",
            "4",
            "--max-tokens",
            "4",
            "--concurrency",
            "2",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    assert "served texts equal to in-process texts: 4/4" in run.stdout


def test_pipelining_simulation_counts_steps_exactly():
    from evals.pipelining_sim import simulate

    chains = [[10, 1], [1, 10]]  # each example's long call is at a different stage
    assert simulate(chains, slots=2, pipelined=False) == 20  # 10 for stage 1, then 10 for stage 2
    assert simulate(chains, slots=2, pipelined=True) == 11  # the second example's stage 2 starts at step 1
    assert simulate(chains, slots=1, pipelined=False) == simulate(chains, slots=1, pipelined=True) == 22
    assert simulate([[3, 2, 1]], slots=4, pipelined=True) == 6


def test_pipelining_simulation_runs_on_kojimas_rationales(shared_data):
    records = shared_data / "replay" / "kojima" / "gsm8k_zero_shot_cot.records.jsonl"
    run = subprocess.run([sys.executable, str(ROOT / "evals" / "pipelining_sim.py"), "--kojima", str(records),
                          "--slots", "256"], capture_output=True, text=True, timeout=300)  # fmt: skip
    assert run.returncode == 0, run.stderr[-2000:]
    assert "1319 examples, 2638 calls" in run.stdout and "| 256 |" in run.stdout
    assert "token counts: SmolLM2's tokenizer" in run.stdout


def test_the_simulations_say_when_token_counts_are_estimated():
    from evals.pipelining_sim import token_counter

    def missing():
        raise FileNotFoundError("no embedded model")

    counter = token_counter(missing)
    assert counter.how.startswith("ESTIMATED as characters / 4") and "no embedded model" in counter.how
    assert counter.count("abcdefgh") == 2


def _bench(tmp_path, *args):
    out = tmp_path / "bench.json"
    run = subprocess.run([sys.executable, str(ROOT / "evals" / "bench.py"), "--examples", "2", "--rounds", "1",
                          "--json", str(out), *args], capture_output=True, text=True, timeout=600)  # fmt: skip
    assert run.returncode == 0, run.stderr[-2000:]
    assert "speed-up" in run.stdout
    return json.loads(out.read_text())["rows"]


def test_side_by_side_bench_runs_every_scenario_on_the_tiny_model(shared_data, tmp_path):
    rows = _bench(tmp_path, "--engine", "hf", "--model", "tiny", "--data", str(shared_data / "gsm8k" / "test.jsonl"),
                  "--max-tokens", "6")  # fmt: skip
    by_name = {r["scenario"]: r for r in rows}
    assert set(by_name) == {
        "few_shot_cot",
        "self_consistency",
        "zero_shot_cot",
        "least_to_most",
        "least_to_most_rounds",
    }
    assert by_name["self_consistency"]["requests"] == 2 and by_name["zero_shot_cot"]["calls"] == 2
    for r in rows:
        assert r["bare"]["tokens"] > 0 and r["promptkit"]["tokens"] > 0, r
        assert r["untimed_runs_per_side"] == 1, "both sides warmed, on a CPU too"
        assert r["speedup"] == pytest.approx(r["bare"]["median_s"] / r["promptkit"]["median_s"])
        assert r["bare"]["host_ms_per_step"] > 0 and r["promptkit"]["host_ms_per_step"] > 0, "forwards timed"


def test_the_bench_runs_the_bare_side_once_untimed_before_timing_it(tmp_path):
    """On any device: the bare side's one-time costs must not land in its first timed round."""
    import argparse

    from evals.bench import run_scenario
    from promptkit import ScriptedEngine, load_task

    data = tmp_path / "q.jsonl"
    data.write_text(
        "".join(json.dumps({"question": f"What is {i} + 1?", "answer": str(i + 1)}) + "\n" for i in range(2))
    )
    bare_runs = []

    def bare(calls):
        bare_runs.append(len(calls))
        return 1

    args = argparse.Namespace(max_tokens=8, generate_batch=False, warmup=None, rounds=2)
    row = run_scenario("zero_shot_cot", load_task("gsm8k", data), ScriptedEngine(lambda p: " 2."), bare, args)
    assert bare_runs == [2, 2, 2], "one untimed run, then two timed (each replays both calls)"
    assert len(row["bare"]["seconds"]) == len(row["promptkit"]["seconds"]) == 2


def test_the_scale_bench_takes_the_named_baseline_whatever_ran_first():
    from evals.bench_scale import Run, against

    runs = [Run("ray", 5.0, ["1", "2", "9"], {"config": "ray x2"}), Run("single", 10.0, ["1", "2", "3"], {}),
            Run("share", 4.0, ["1", "2"], {})]  # fmt: skip
    rows = against(runs, "single")
    assert [r["ratio"] for r in rows] == [2.0, 1.0, 2.5]
    assert [r["same_predictions"] for r in rows] == [False, True, True], "share is compared on its own questions"
    assert against(runs, "ray")[1]["ratio"] == 0.5
    with pytest.raises(ValueError, match="the baseline 'fleet' did not run"):
        against(runs, "fleet")
    run = subprocess.run([sys.executable, str(ROOT / "evals" / "bench_scale.py"), "--data", "x.jsonl", "--configs",
                          "ray", "--baseline", "single"], capture_output=True, text=True, timeout=120)  # fmt: skip
    assert run.returncode == 2 and "--baseline single is not among --configs ray" in run.stderr


def test_side_by_side_bench_runs_on_vllm(shared_data, tmp_path, vllm_engine):
    from tests_support import VLLM_ARGS

    rows = _bench(tmp_path, "--engine", "vllm", "--model", "smollm2", "--data", str(shared_data / "gsm8k" / "test.jsonl"),
                  "--max-tokens", "8", "--scenarios", "zero_shot_cot", "least_to_most", "--vllm-args", json.dumps(VLLM_ARGS))  # fmt: skip
    assert [r["scenario"] for r in rows] == ["zero_shot_cot", "least_to_most"]
    assert all(r["bare"]["tokens"] > 0 and r["promptkit"]["tokens"] > 0 for r in rows)


def test_side_by_side_bench_times_transformers_continuous_batching(shared_data, tmp_path):
    rows = _bench(tmp_path, "--engine", "hf", "--model", "tiny", "--data", str(shared_data / "gsm8k" / "test.jsonl"),
                  "--max-tokens", "6", "--scenarios", "few_shot_cot", "self_consistency", "--generate-batch")  # fmt: skip
    few_shot, sc = rows
    # Greedy, no stop strings, the same weights: both generate the same number of tokens.
    assert few_shot["generate_batch"]["tokens"] == few_shot["engine_nostop"]["tokens"] > 0
    # Each of the 5 samples of each of the 2 questions comes back (transformers returns one per request).
    assert 10 <= sc["generate_batch"]["tokens"] <= 2 * 5 * 6
    assert sc["speedup_vs_generate_batch"] == pytest.approx(
        sc["generate_batch"]["median_s"] / sc["engine_nostop"]["median_s"]
    )


@pytest.mark.reproduction
def test_the_scoring_bench_times_promptkit_and_lm_eval_on_the_same_requests(smollm2, shared_data, tmp_path):
    import importlib.util

    from conftest import unavailable

    if importlib.util.find_spec("lm_eval") is None:
        unavailable("lm-evaluation-harness is not installed (the dev extra brings it)")
    out = tmp_path / "bench.json"
    data = shared_data / "kojima" / "dataset" / "CommonsenseQA" / "dev_rand_split.jsonl"
    run = subprocess.run([sys.executable, str(ROOT / "evals" / "bench.py"), "--scoring", "--data", str(data),
                          "--examples", "3", "--shots", "2", "--json", str(out)],
                         capture_output=True, text=True, timeout=600, cwd=ROOT)  # fmt: skip
    assert run.returncode == 0, run.stderr[-2000:]
    report = json.loads(out.read_text())
    assert report["requests"] == 15 and report["max_abs_loglikelihood_difference"] < 1e-4
    assert "ratio" in run.stdout


@pytest.mark.reproduction
def test_the_scoring_bench_runs_classify_on_sst2_against_lm_eval(smollm2, shared_data, tmp_path):
    require("lm_eval", "lm-evaluation-harness is not installed (the dev extra brings it)")
    out = tmp_path / "bench.json"
    run = subprocess.run([sys.executable, str(ROOT / "evals" / "bench.py"), "--scoring", "--task", "sst2", "--data",
                          str(shared_data / "zhao" / "sst2"), "--examples", "3", "--shots", "2", "--json", str(out)],
                         capture_output=True, text=True, timeout=600, cwd=ROOT)  # fmt: skip
    assert run.returncode == 0, run.stderr[-2000:]
    report = json.loads(out.read_text())
    assert report["method"] == "classify" and report["requests"] == (3 + 3) * 2, "test and content-free, 2 words"
    assert report["max_abs_loglikelihood_difference"] < 1e-4


@pytest.mark.reproduction
def test_the_calibration_table_prints_mean_and_std_beside_gpt2_xl(smollm2, shared_data, tmp_path):
    out = tmp_path / "cal"
    run = subprocess.run([sys.executable, str(ROOT / "evals" / "calibration_table.py"), "--data",
                          str(shared_data / "zhao"), "--tasks", "sst2", "--shots", "0", "1", "--limit", "4",
                          "--out", str(out)], capture_output=True, text=True, timeout=600, cwd=ROOT)  # fmt: skip
    assert run.returncode == 0, run.stderr[-2000:]
    rows = [line for line in run.stdout.splitlines() if line.startswith("| sst2 |")]
    assert len(rows) == 2 and rows[0].endswith("| 60.0 | 82.0 |") and rows[1].endswith("| 66.7 | 73.0 |")
    assert re.search(r"\| 0 \| 4 \| \d+\.\d ± 0\.0 \| \d+\.\d ± 0\.0 \|", rows[0]), "zero shots: one draw"
    spread = json.loads((out / "sst2" / "method.shots=1" / "spread.json").read_text())
    assert spread["seeds"] == 5 and len(spread["accuracy"]) == 5
    assert (out / "report" / "report.md").is_file() and (out / "calibration.md").is_file()
    assert (out / "calibration.png").read_bytes()[:4] == b"\x89PNG"


@pytest.mark.reproduction
def test_the_ablation_table_runs_every_condition_on_a_shared_draw(smollm2, shared_data, tmp_path):
    require("english_words", "the dev extra brings it")
    out = tmp_path / "abl"
    run = subprocess.run([sys.executable, str(ROOT / "evals" / "ablation_table.py"), "--data", str(shared_data / "zhao"),
                          "--shots", "1", "2", "--seeds", "2", "--limit", "3", "--out", str(out)],
                         capture_output=True, text=True, timeout=600, cwd=ROOT)  # fmt: skip
    assert run.returncode == 0, run.stderr[-2000:]
    rows = [line for line in run.stdout.splitlines() if line.startswith("| ") and "±" in line]
    assert [r.split(" | ")[0] for r in rows] == ["| gold labels", "| labels drawn uniformly at random",
        "| no labels (inputs alone)", "| inputs: AGNews sentences of about the length",
        "| random English words as labels"]  # fmt: skip
    assert len((out / "agnews_sentences.txt").read_text().splitlines()) == 7600, "AGNews's descriptions"
    assert (out / "ablations.png").read_bytes()[:4] == b"\x89PNG" and "20 runs in" in run.stdout
    spread = json.loads((out / "condition-3" / "method.shots=2" / "spread.json").read_text())
    assert spread["seeds"] == 2 and len(spread["accuracy"]) == 2
    records = (out / "condition-3" / "method.shots=2" / "seed-0" / "predictions.jsonl").read_text().splitlines()
    prompts = [next(t["prompt"] for t in json.loads(r)["trace"] if "prompt" in t) for r in records]
    sentences = set((out / "agnews_sentences.txt").read_text().splitlines())
    assert prompts[0].splitlines()[0].removeprefix("Review: ") in sentences, "an AGNews sentence for a review"
    assert len(prompts) == 3 and len({p.rsplit("\n\n", 1)[0] for p in prompts}) == 1, "one ablated set, shared"


def test_the_bias_patterns_fill_labels_in_order():
    from evals.bias_table import pattern_pool

    pool = pattern_pool("NPPP", {"P": ["p0", "p1", "p2", "p3"], "N": ["n0", "n1", "n2", "n3"]})
    assert [(r["question"], r["answer"]) for r in pool["exemplars"]] == [
        ("n0", "Negative"), ("p0", "Positive"), ("p1", "Positive"), ("p2", "Positive")
    ]  # fmt: skip


def test_order_selection_takes_the_orders_of_highest_entropy(tmp_path):
    from evals.order_selection import plot, summarise, table
    from promptkit.search.entropy import entropy

    assert entropy([0.5, 0.5]) == pytest.approx(math.log(2)) and entropy([1.0, 0.0]) == 0
    rows = [{"order": k, "global_e": k / 24, "local_e": (24 - k) / 24, "acc_uncalibrated": k / 100,
             "acc_calibrated": 0.5} for k in range(24)]  # fmt: skip
    summary = summarise({"seed": 0, "probes": 96, "rows": rows})["acc_uncalibrated"]
    assert summary["global_e"] == pytest.approx((20 + 21 + 22 + 23) / 400), "GlobalE: the 4 most even histograms"
    assert summary["local_e"] == pytest.approx((0 + 1 + 2 + 3) / 400)
    assert (summary["min"], summary["max"]) == (0, 0.23)
    plot(results := [{"seed": 0, "probes": 96, "rows": rows}], tmp_path / "orders.png")
    assert (tmp_path / "orders.png").read_bytes()[:4] == b"\x89PNG" and "| 0 | calibrated | 50.0 ± 0.0 |" in table(
        [summarise(r) for r in results]
    )


def test_scale_simulation_counts_replicas_driver_and_stragglers_exactly():
    from evals.scale_sim import finish_steps, simulate

    assert finish_steps([5, 3, 4], slots=2) == [5, 3, 7]  # the third waits for the first slot to free
    lengths = [10] * 8
    assert simulate(lengths, [1.0], slots=8, driver_steps=0).total == 10
    assert simulate(lengths, [1.0], slots=2, driver_steps=0).total == 40
    assert simulate(lengths, [1.0, 1.0], slots=2, driver_steps=0).total == 20  # the work divides
    assert simulate(lengths, [0.5, 1.0], slots=2, driver_steps=0).total == 40  # the slow replica's half
    driver_bound = simulate(lengths, [1.0] * 8, slots=2, driver_steps=5)
    assert driver_bound.replicas_done == 10 and driver_bound.driver_done == 10 + 8 * 5


def test_scale_simulation_runs_on_kojimas_rationales(shared_data):
    records = shared_data / "replay" / "kojima" / "gsm8k_zero_shot_cot.records.jsonl"
    run = subprocess.run([sys.executable, str(ROOT / "evals" / "scale_sim.py"), "--kojima", str(records),
                          "--driver-ms", "0.5", "--replicas", "1,8,64"], capture_output=True, text=True, timeout=300)  # fmt: skip
    assert run.returncode == 0, run.stderr[-2000:]
    assert "1319 sequences" in run.stdout and "| 64 |" in run.stdout
    assert "token counts: SmolLM2's tokenizer" in run.stdout


def test_the_tuning_table_runs_every_method_on_the_tiny_model(tiny_model, shared_data, tmp_path):
    out = tmp_path / "tuning"
    run = subprocess.run([sys.executable, str(ROOT / "evals" / "tuning_table.py"), "--data", str(shared_data / "zhao"),
                          "--tasks", "rte", "sst2", "--seeds", "0", "1", "--k", "2", "--limit", "4", "--shots", "1",
                          "--steps", "1", "--bbt-budget", "4", "--bbt-tokens", "2", "--bdpl-budget", "4",
                          "--search-budget", "4", "--black-box-checks", "1", "--model", str(tiny_model), "--dtype",
                          "float32", "--out", str(out), "--quiet"],
                         capture_output=True, text=True, timeout=600, cwd=ROOT)  # fmt: skip
    assert run.returncode == 0, run.stderr[-2000:]
    rows = {line.split(" | ")[0].strip("| "): line for line in run.stdout.splitlines() if line.startswith("| ")}
    for label in (
        "zero-shot",
        "calibrated zero-shot",
        "ICL",
        "calibrated ICL",
        "demonstration search",
        "instruction search",
        "prompt tuning",
        "prefix tuning",
        "P-tuning",
        "SPoT",
        "BBT",
        "BBTv2",
        "BDPL",
        "LoRA",
    ):
        assert label in rows, (label, run.stdout)
    assert re.search(r"\| sst2 \| cost \| rte \| cost \|", run.stdout), "SST-2 first: SPoT starts from its prompts"
    assert re.search(r"\| SPoT \| — \|  \| \d+\.\d ± \d+\.\d \| 1 steps", rows["SPoT"]), rows["SPoT"]
    assert "5 calls" in rows["BBT"] and "89.56 ± 0.25" in rows["BBT"], "4 on training, 1 on development"
    assert "5 calls" in rows["BDPL"], "2 steps of 2 draws, one development check at the end"
    for label in ("demonstration search", "prompt tuning", "BBT", "BDPL", "LoRA"):  # what each learned from, sent
        assert re.search(r"(calls|steps), \d+(\.\d+M|k)? tokens, \d+\.\d min", rows[label]), rows[label]
        assert not re.search(r"(calls|steps), 0 tokens", rows[label]), rows[label]
    assert ", 0 tokens, " in rows["zero-shot"], rows["zero-shot"]
    assert len(list((out / "rte").glob("*.safetensors"))) == 2 * 7
    assert (out / "tuning.png").read_bytes()[:4] == b"\x89PNG" and (out / "tuning.md").is_file()
    for task in ("rte", "sst2"):
        assert (out / f"curves-{task}.png").read_bytes()[:4] == b"\x89PNG"
    assert (out / "rte" / "LoRA-seed0" / "adapter_config.json").is_file()


@pytest.mark.parametrize("flag", ["--black-box-checks", "--steps", "--limit"])
def test_the_tuning_table_refuses_a_count_below_one_before_any_work(flag, tmp_path):
    out = tmp_path / "tuning"
    run = subprocess.run([sys.executable, str(ROOT / "evals" / "tuning_table.py"), "--data", str(tmp_path), "--out",
                          str(out), flag, "0"], capture_output=True, text=True, timeout=300, cwd=ROOT)  # fmt: skip
    assert run.returncode == 2 and f"error: {flag} must be at least 1, not 0" in run.stderr, run.stderr
    assert "Traceback" not in run.stderr and not out.exists()


def test_the_tuning_table_refuses_an_unknown_device_before_any_work(tmp_path):
    run = subprocess.run([sys.executable, str(ROOT / "evals" / "tuning_table.py"), "--data", str(tmp_path),
                          "--device", "gpu"], capture_output=True, text=True, timeout=300, cwd=ROOT)  # fmt: skip
    assert run.returncode == 2 and "error: the engine: device: String should match pattern" in run.stderr, run.stderr
    assert "Traceback" not in run.stderr


def test_the_prompt_search_table_runs_every_row_on_the_tiny_model(tiny_model, shared_data, tmp_path):
    out = tmp_path / "search"
    run = subprocess.run([sys.executable, str(ROOT / "evals" / "prompt_search_table.py"), "--data", str(shared_data),
                          "--tasks", "sst2", "last_letters", "--seeds", "0", "1", "--limit", "4", "--budget", "3",
                          "--dev", "4", "--reasoning-limit", "2", "--reasoning-budget", "3", "--reasoning-dev", "2",
                          "--bootstrap", "2", "--model", str(tiny_model), "--out", str(out)],
                         capture_output=True, text=True, timeout=600, cwd=ROOT)  # fmt: skip
    assert run.returncode == 0, run.stderr[-2000:]
    rows = {tuple(cell.strip() for cell in line.split("|")[1:3]) for line in run.stdout.splitlines()}
    for task, prompt in [("sst2", "random draw"), ("sst2", "GlobalE"), ("sst2", "demo_search"),
                         ("sst2", "instruction_search"), ("sst2", "its draw, the task's prefix"),
                         ("last_letters", "bootstrap"), ("last_letters", "instruction_search (trigger)")]:  # fmt: skip
        assert (task, prompt) in rows, (task, prompt, run.stdout)
    assert "| 66.2 (std 14.7) |" in run.stdout and (out / "prompt_search.png").read_bytes()[:4] == b"\x89PNG"
    assert len(json.loads((out / "prompt_search.json").read_text())) == 2 * 5 + 4


@pytest.mark.reproduction
def test_the_tuning_bench_trains_as_peft_does_loss_for_loss(smollm2, shared_data):
    """promptkit's prompt tuning and (MLP-free) prefix tuning against peft's own model, two steps on four
    examples: every step's loss equal within 1e-4 in float32, and the times printed."""
    for method in ("prompt_tuning", "prefix_tuning"):
        run = subprocess.run([sys.executable, str(ROOT / "evals" / "bench_tuning.py"), "--data",
                              str(shared_data / "zhao" / "sst2"), "--k", "2", "--steps", "2", "--tokens", "3",
                              "--methods", method, "--no-reparametrize", "--lr", "1e-4"],
                             capture_output=True, text=True, timeout=600, cwd=ROOT)  # fmt: skip
        assert run.returncode == 0, run.stderr[-2000:]
        row = json.loads(run.stdout.strip().splitlines()[-1])
        assert row["losses_agree"] and len(row["promptkit_losses"]) == len(row["peft_losses"]) == 2, row
        assert row["time_ratio"] > 0 and row["promptkit_tokens_per_s"] > 0


def test_the_score_batch_bench_scores_the_same_both_ways(tiny_model, shared_data):
    """One call's rows cut by a pass's cost and in the widest batches: the same log-probabilities (float32)."""
    run = subprocess.run([sys.executable, str(ROOT / "evals" / "bench_score_batches.py"), "--data",
                          str(shared_data / "zhao"), "--tasks", "sst2", "trec", "--k", "3", "--repeats", "1",
                          "--model", str(tiny_model), "--dtype", "float32"],
                         capture_output=True, text=True, timeout=600, cwd=ROOT)  # fmt: skip
    assert run.returncode == 0, run.stderr[-2000:]
    rows = [json.loads(line) for line in run.stdout.splitlines() if line.startswith("{")]
    assert [r["task"] for r in rows] == ["sst2", "trec"] and "| trec | 18 |" in run.stdout
    assert all(r["max_logprob_diff"] < 1e-4 and r["cut_s"] > 0 and r["widest_s"] > 0 for r in rows), rows
