"""The one writer of run folders: predictions, summary, the resolved spec and the page, together or not at all."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from promptkit.files.atomic import staged
from promptkit.runs.records import RESOLVED_SPEC_FILE, RunSummary
from promptkit.runs.view import write_view

PREDICTIONS_FILE = "predictions.jsonl"


def write_run_folder(
    out: Path, rows: Sequence[dict[str, Any]], summary: RunSummary, resolved_spec: str | None = None
) -> None:
    """out/ with predictions.jsonl, summary.json, spec.resolved.yaml (which alone reproduces the run; absent
    for a pipeline run without a spec) and index.html, published in one step (see promptkit.files.atomic)."""
    out = Path(out)
    with staged(out) as stage:
        with (stage / PREDICTIONS_FILE).open("w", encoding="utf-8") as fh:
            for row in rows:
                fh.write(json.dumps(row, ensure_ascii=False) + "\n")
        (stage / "summary.json").write_text(summary.to_json(), encoding="utf-8")
        if resolved_spec is not None:
            (stage / RESOLVED_SPEC_FILE).write_text(resolved_spec, encoding="utf-8")
        write_view([stage], stage / "index.html", names=[out.name])
