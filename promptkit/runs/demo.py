"""The first run a newcomer sees (`promptkit demo`, `make demo`): the library doing what it is for, in about a minute.

SST-2 in Zhao et al.'s format on the embedded model, scored by the likelihood of each label word: zero-shot, and
few-shot over several demonstration draws, each before and after contextual calibration (one engine call scores
both, since calibration only adds the content-free prompts). One table with intervals, a line per row saying what
it means, and one page showing the runs side by side.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from promptkit.errors import PromptkitError
from promptkit.files.atomic import check_root_dir, write_text_atomic
from promptkit.files.claim import claimed
from promptkit.runs.build import build, check_prompts, run_spec
from promptkit.runs.experiments import run_repeats
from promptkit.runs.metrics import share_interval
from promptkit.runs.pool import CacheFor, EnginePool
from promptkit.runs.records import RunSummary
from promptkit.runs.spread import repeat_specs
from promptkit.runs.view import write_view
from promptkit.runspec.files import set_dotted
from promptkit.runspec.models import RunSpec
from promptkit.stages.kinds.score_classes import ACC_UNCALIBRATED as UNCALIBRATED
from promptkit.tasks.samples import sample_folder, sample_size

DEMO_SPEC: dict[str, Any] = {
    "task": {"name": "sst2"},
    "engine": {"kind": "hf", "model": "smollm2-135m-instruct", "device": "cpu"},
    "method": {"name": "classify", "calibrate": "content_free"},
}
"""What the demo runs (the flags of `promptkit demo` change its data and engine); shots set per row."""
SHOTS = 4
SEEDS = 3
LIMIT = 150
"""Test reviews, the first of the reference's 300: half of them keeps the demo near a minute on two CPU cores in
float32 (whose figures do not depend on the CPU), with calibration's lift still well outside the intervals."""


ZERO_SHOT = "the review alone; the label word the model finds likelier is the answer"
CALIBRATED = (
    "the same scores divided by those of content-free inputs ('N/A', '', '[MASK]'): the model's bias toward one "
    "label taken out (Zhao et al. 2021)"
)
FEW_SHOT = "{shots} labelled reviews before each one, drawn {seeds} ways: how far the draw alone moves accuracy"
FEW_SHOT_CALIBRATED = "the same draws, calibrated with content-free inputs after the same demonstrations"


def shipped_data(limit: int | None) -> Path:
    """The demo's data when none is given: its task's sample that ships with promptkit, so no network is needed.
    Demonstrations are then drawn from the sample's pool; more reviews than it holds is one line, not a download
    that would change the pool under the same command."""
    task = DEMO_SPEC["task"]["name"]
    size = sample_size(task)
    if limit is not None and limit > size:
        raise PromptkitError(
            f"--limit {limit}: the demo's shipped data holds the first {size} reviews of {task}'s standard set; "
            "give --data FOLDER, or --whole-set (the task's download), for more"
        )
    return sample_folder(task)


def demo_data(shots: int) -> dict[str, Any]:
    data: dict[str, Any] = {key: dict(value) for key, value in DEMO_SPEC.items()}
    set_dotted(data, f"method.shots={shots}")
    return data


@dataclass(frozen=True)
class DemoRow:
    label: str
    meaning: str
    accuracy: float
    """The run's accuracy, or the mean over the draws."""
    interval: str


@dataclass(frozen=True)
class DemoResult:
    rows: list[DemoRow]
    table: str
    page: Path
    seconds: float


def demo(
    zero_shot: RunSpec,
    few_shot: RunSpec,
    root: Path,
    *,
    seeds: int = SEEDS,
    cache: CacheFor | Path | None = None,
    progress: bool = False,
) -> DemoResult:
    """`zero_shot` once and `few_shot` over `seeds` demonstration draws (both calibrated classify runs), run into
    root/zero-shot and root/K-shot/seed-S; demo.md holds the table and view.html every run side by side."""
    start = time.perf_counter()
    draws = repeat_specs(few_shot, seeds, None)
    builts = [build(zero_shot), *(build(spec) for _, spec in draws)]
    check_prompts(builts[0])
    check_root_dir(root)
    shots = few_shot.method.shots if few_shot.method else None
    few_root = root / f"{shots}-shot"
    with claimed(root), EnginePool(cache, progress=progress) as pool:
        zero = run_spec(zero_shot, pool.engine(zero_shot), root / "zero-shot", progress=progress, built=builts[0])
        stats = run_repeats(draws, builts[1:], pool, few_root, seeds=seeds, orders=None, progress=progress)
    folders = [root / "zero-shot", *(few_root / name for name, _ in draws)]
    page = write_view(folders, root / "view.html", ["zero-shot", *(f"{shots}-shot {name}" for name, _ in draws)])
    rows = [
        _single(zero.summary, "zero-shot", ZERO_SHOT, calibrated=False),
        _single(zero.summary, "zero-shot, calibrated", CALIBRATED, calibrated=True),
        _draws(stats, UNCALIBRATED, f"{shots}-shot", FEW_SHOT.format(shots=shots, seeds=seeds), seeds),
        _draws(stats, "accuracy", f"{shots}-shot, calibrated", FEW_SHOT_CALIBRATED, seeds),
    ]
    table = demo_table(rows, zero.summary.n)
    write_text_atomic(root / "demo.md", table + "\n")
    return DemoResult(rows, table, page, time.perf_counter() - start)


def _single(summary: RunSummary, label: str, meaning: str, *, calibrated: bool) -> DemoRow:
    accuracy = summary.accuracy if calibrated else float(summary.metrics[UNCALIBRATED])
    low, high = share_interval(accuracy, summary.n)
    return DemoRow(label, meaning, accuracy, f"{low:.1%}-{high:.1%} (95% CI)")


def _draws(stats: dict[str, Any], metric: str, label: str, meaning: str, seeds: int) -> DemoRow:
    figures = stats if metric == "accuracy" else stats["metrics"][metric]
    interval = f"± {figures['std']:.1%} (std), {figures['min']:.1%}-{figures['max']:.1%} over {seeds} draws"
    return DemoRow(label, meaning, figures["mean"], interval)


def demo_table(rows: list[DemoRow], n: int) -> str:
    lines = [f"| prompt | accuracy ({n} test reviews) | interval |", "|---|---|---|"]
    lines += [f"| {r.label} | {r.accuracy:.1%} | {r.interval} |" for r in rows]
    return "\n".join(lines)


def meanings(rows: list[DemoRow]) -> str:
    """What each row means, one line each."""
    return "\n".join(f"{r.label}: {r.meaning}" for r in rows)
