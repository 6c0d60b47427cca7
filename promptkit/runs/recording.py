"""A run folder as a replay recording: every prompt the run generated from and what came back, so that a run can
be rescored or shared without the model (`promptkit record RUN --out FILE`, served back by `--engine replay`).

The recording is the replay engine's format, one JSON object per line: {"prompt": text or chat messages,
"completions": [text, ...]}, a prompt's samples in order. It is made from predictions.jsonl's traces and the
stages spec.resolved.yaml names; a run that scored by likelihood (classify, score_choices) or wrote Auto-CoT
demonstrations made calls its trace does not keep, and is refused in one line.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from promptkit.engines.replay import prompt_text
from promptkit.errors import PromptkitError
from promptkit.files.atomic import write_text_atomic
from promptkit.files.jsonl import read_jsonl
from promptkit.files.yaml_file import read_yaml_mapping
from promptkit.runs.folders import PREDICTIONS_FILE, RESOLVED_SPEC_FILE
from promptkit.stages.stage_kinds import STAGE_KINDS


def recording_of(run: Path) -> list[dict[str, Any]]:
    """The recording's lines, in the order the run's rows first sent each prompt."""
    run = Path(run)
    generating = _generating_stages(run)
    recorded: dict[str, dict[str, Any]] = {}
    for where, record in _trace_records(run):
        if record.get("stage") not in generating:
            continue
        prompt, completion = record.get("prompt"), record.get("completion")
        texts = completion if isinstance(completion, list) else [completion]
        if not (isinstance(prompt, (str, list)) and all(isinstance(t, str) for t in texts)):
            raise PromptkitError(f"{where}: a trace record needs a prompt and its completion text(s)")
        key = prompt_text(prompt if isinstance(prompt, str) else tuple(prompt))
        known = recorded.get(key)
        if known is None or len(texts) > len(known["completions"]):  # a prompt asked again for more samples
            recorded[key] = {"prompt": prompt, "completions": list(texts)}
    if not recorded:
        raise PromptkitError(f"{run}: the run generated nothing to record")
    return list(recorded.values())


def write_recording(run: Path, out: Path) -> int:
    """The run's recording written to `out` (whole or not at all); how many prompts it holds."""
    lines = recording_of(run)
    write_text_atomic(out, "".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines))
    return len(lines)


def _generating_stages(run: Path) -> set[str]:
    spec_file = run / RESOLVED_SPEC_FILE
    if not spec_file.is_file():
        raise PromptkitError(f"{run}: no {RESOLVED_SPEC_FILE}, so which stages generated text is unknown")
    pipeline = read_yaml_mapping(spec_file, "a resolved spec").get("pipeline")
    if not isinstance(pipeline, list):
        raise PromptkitError(f"{spec_file}: no pipeline")
    generating = set()
    for i, stage in enumerate(pipeline):
        kind_name = stage.get("kind") if isinstance(stage, dict) else None
        kind = STAGE_KINDS.get(str(kind_name))
        if kind.untraced_calls or (kind.calls_model and not kind.generates):
            raise PromptkitError(
                f"{spec_file}: pipeline.{i} ({kind_name}) makes calls its trace does not keep (likelihood scores, "
                "or Auto-CoT's demonstrations), so this run cannot be replayed from its folder"
            )
        if kind.generates:
            generating.add(str(stage.get("name") or kind_name))
    return generating


def _trace_records(run: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    path = run / PREDICTIONS_FILE
    for line, row in read_jsonl(path):
        trace = row.get("trace")
        if not isinstance(trace, list):
            raise PromptkitError(f"{path}:{line}: no trace")
        for record in trace:
            if not isinstance(record, dict):
                raise PromptkitError(f"{path}:{line}: a trace record is not an object")
            yield f"{path}:{line}", record
