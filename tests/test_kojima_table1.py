"""Kojima et al.'s Table 1, all 24 cells, from their recorded outputs through promptkit's task files."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from evals.kojima_table1 import DATASETS, METHODS, PAPER, read_log, run_cell
from promptkit.tasks import load_task, read_definition

pytestmark = pytest.mark.reproduction

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def kojima(shared_data) -> Path:
    return shared_data / "kojima"


@pytest.fixture(scope="module")
def published(shared_data) -> dict[str, tuple[int, int, int]]:
    """Table 1's counts as PROVENANCE.txt gives them, per dataset: (n, zero-shot, zero-shot-CoT); read here, not
    from the script under test."""
    text = (shared_data / "PROVENANCE.txt").read_text(encoding="utf-8")
    table = text.split("The logs' accuracies give these correct counts", 1)[1].split("Reference code", 1)[0]
    rows = re.findall(r"\b([a-z][a-z0-9_]*)\s+(\d+)\s+(\d+)\s+(\d+)", table)
    return {name: (int(n), int(direct), int(cot)) for name, n, direct, cot in rows}


def test_provenance_gives_all_twelve_datasets(published):
    assert set(published) == set(DATASETS)


@pytest.mark.parametrize("dataset", list(DATASETS))
@pytest.mark.parametrize("method", list(METHODS))
def test_every_cell_equals_the_papers_count(kojima, published, tmp_path, dataset, method):
    """Replay finds a recorded output only for a prompt asked exactly as the reference asked it, so an
    equal count means every question (and the answer trigger) was rebuilt byte for byte. The count is
    checked against PROVENANCE's table, and so is the script's own copy of it."""
    cell = run_cell(kojima, dataset, method, tmp_path)
    n, direct, cot = published[dataset]
    assert cell.kojima == (direct if method == "direct" else cot), "promptkit's count on the recorded outputs"
    assert cell.paper == PAPER[dataset][0 if method == "direct" else 1] == cell.kojima
    assert cell.n == n == len(read_log(kojima / "log" / f"{DATASETS[dataset][0]}_{METHODS[method]}.log",
                                       read_definition(dataset).prompts))  # fmt: skip


def test_the_golds_we_build_are_the_logged_golds(kojima):
    """Each dataset's gold answers, as our task file builds them from the original file, are the reference's."""
    for dataset, (log_name, data_file) in DATASETS.items():
        if data_file is None:
            continue
        logged = read_log(kojima / "log" / f"{log_name}_zero_shot.log", read_definition(dataset).prompts)
        gold = {x.question: x.gold for x in logged}
        task = load_task(dataset, kojima / "dataset" / data_file)
        ours = {e.inputs["question"]: e.target for e in task.examples}
        assert gold == {q: ours[q] for q in gold}, dataset


def test_the_script_prints_24_of_24(kojima):
    run = subprocess.run([sys.executable, str(ROOT / "evals" / "kojima_table1.py"), "--data", str(kojima)],
                         capture_output=True, text=True, cwd=ROOT)  # fmt: skip
    assert run.returncode == 0, run.stderr[-2000:]
    assert "24 of 24 cells equal the paper's counts" in run.stdout
    assert "| gsm8k | 1319 | 137 (10.4%) | 537 (40.7%) | 137 / 537 | yes |" in run.stdout


def test_date_choices_are_shuffled_by_the_record_not_left_with_the_answer_first(kojima, tmp_path):
    path = kojima / "dataset" / "Bigbench_Date" / "task.json"
    task = load_task("date_understanding", path)
    golds = [e.target for e in task.examples]
    assert golds.count("A") < len(golds) / 3  # in the file's order the right answer is always first
    assert len(set(golds)) == 6
    # The same record gets the same order wherever it sits: a file of the records reversed asks the same.
    records = json.loads(path.read_text())
    records["examples"].reverse()
    reversed_file = tmp_path / "task.json"
    reversed_file.write_text(json.dumps(records))
    again = {e.inputs["question"]: e.target for e in load_task("date_understanding", reversed_file).examples}
    assert again == {e.inputs["question"]: e.target for e in task.examples}
    assert task.limit(5).examples == task.examples[:5]
