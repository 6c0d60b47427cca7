"""One self-contained HTML page to read runs: summary, a filterable table, every example's full trace.

The page needs no server and no network: its script and styles are inline (hand-written, about
300 lines; no framework, so nothing is fetched at run time), and the runs' data is embedded once,
gzip-compressed and base64-encoded, and unpacked by the browser's own DecompressionStream. The
table renders only the rows on screen, so a 1,319-example run with 8-shot prompts opens quickly.
State (filter, search, open example) lives in the URL's #fragment, so a view can be linked to.
"""

from __future__ import annotations

import base64
import gzip
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from promptkit.errors import PromptkitError
from promptkit.files.jsonl import read_jsonl, read_text
from promptkit.files.learned_prompt import learned_digest, load_learned_prompt
from promptkit.runs.comparison import chart_rows, rows_json
from promptkit.runs.metrics import share_interval
from promptkit.runs.records import RESOLVED_SPEC_FILE, RunSummary, read_summary
from promptkit.runs.spread import axes_text, described
from promptkit.stages.framework.declaration import Recorded
from promptkit.stages.stage_kinds import METRICS, RECORDED
from promptkit.tasks.base import left_out_line

ASSETS = Path(__file__).parent


def load_run(folder: Path, name: str | None = None) -> dict[str, Any]:
    """A run folder's summary, resolved spec and examples, with each example's state named."""
    summary_path, predictions_path = folder / "summary.json", folder / "predictions.jsonl"
    if not summary_path.is_file() or not predictions_path.is_file():
        raise PromptkitError(f"{folder}: not a run folder (needs summary.json and predictions.jsonl)")
    summary = read_summary(summary_path)  # checked: the page reads the fields it shows
    examples = []
    for _, row in read_jsonl(predictions_path):
        state = "unparsed" if row.get("prediction") is None else ("correct" if row.get("correct") else "wrong")
        examples.append({**row, "state": state, "facts": example_facts(row)})
    spec = folder / RESOLVED_SPEC_FILE
    spec_text = read_text(spec) if spec.is_file() else ""
    return {
        "name": name or folder.name,
        "summary": summary.model_dump(mode="json", exclude_none=True),
        "metrics": metric_facts(summary),
        "left_out": left_out_line(summary.left_out) if summary.left_out else "",
        "spec": spec_text,
        "learned": learned_facts(spec_text, folder),
        "examples": examples,
    }


def learned_facts(spec_text: str, folder: Path) -> dict[str, Any] | None:
    """The learned prompt a run's engine put before every prompt (its spec's engine.soft_prompt): method, file,
    digest, and its training curve (development accuracy per check), as the file records them."""
    try:
        engine = (yaml.safe_load(spec_text) or {}).get("engine") or {}
    except yaml.YAMLError:
        return None
    named = engine.get("soft_prompt") if isinstance(engine, dict) else None
    if not isinstance(named, str):
        return None
    path = next((p for p in (Path(named), folder / named) if p.is_file()), None)
    if path is None:
        return {"file": named, "method": "?", "digest": "(the file is not here)", "curve": []}
    try:
        prompt = load_learned_prompt(path)
    except PromptkitError as exc:
        return {"file": named, "method": "?", "digest": f"(unreadable: {exc})", "curve": []}
    history = prompt.info.get("history")
    curve = [
        [point.get("calls", point.get("step")), point["dev_acc"]]
        for point in (history if isinstance(history, list) else [])
        if isinstance(point, dict) and isinstance(point.get("dev_acc"), (int, float))
    ]
    return {"file": named, "method": prompt.method, "digest": learned_digest(prompt), "curve": curve}


def example_facts(row: dict[str, Any]) -> list[str]:
    """The lines the page shows above an example's trace: what its stages recorded, then its failure."""
    lines = [line for recorded in RECORDED if (line := _safe_line(recorded, row)) is not None]
    return lines + ([f"failed: {row['error']}"] if row.get("error") else [])


def _safe_line(recorded: Recorded, row: dict[str, Any]) -> str | None:
    try:
        return recorded.line(row)
    except (KeyError, TypeError, ValueError, AttributeError):  # a row from elsewhere, of another shape: shown raw
        return f"{recorded.label}: {json.dumps(row.get(recorded.field), ensure_ascii=False, default=str)}"


def metric_facts(summary: RunSummary) -> list[list[str]]:
    """[name, value] for each metric the run has, as the summary box lists them: each in its kind's one format
    (a share of the examples with its interval, as the run's accuracy is shown)."""
    declared = {m.name: m for m in METRICS}
    facts = []
    for name, value in summary.metrics.present().items():
        metric = declared.get(name)
        shown = metric.show(value) if metric else json.dumps(value)
        if metric is not None and metric.share and not isinstance(value, dict) and summary.n:
            low, high = share_interval(value, summary.n)
            shown += f" (95% CI {low:.1%}–{high:.1%})"
        facts.append([name, shown])
    return facts


def page(runs: Sequence[dict[str, Any]], spread: dict[str, Any] | None = None) -> str:
    """The page's HTML; `spread` (spread.json's statistics) adds a box with the runs' mean and spread."""
    tasks = {r["summary"].get("task") for r in runs}
    if len(tasks) > 1:
        raise PromptkitError(
            f"runs of different tasks cannot be compared side by side: {', '.join(sorted(map(str, tasks)))}"
        )
    chart = chart_rows([(r["name"], RunSummary.model_validate(r["summary"])) for r in runs]) if len(runs) > 1 else []
    data = {"runs": list(runs), "spread": spread_facts(spread), "chart": rows_json(chart)}
    blob = gzip.compress(json.dumps(data, ensure_ascii=False).encode("utf-8"), mtime=0)
    title = " vs ".join(r["name"] for r in runs)
    html = (ASSETS / "page.html").read_text(encoding="utf-8")
    return (
        html.replace("{{title}}", _escape(title))
        .replace("/*{{css}}*/", (ASSETS / "view.css").read_text(encoding="utf-8"))
        .replace("/*{{js}}*/", (ASSETS / "view.js").read_text(encoding="utf-8"))
        .replace("{{data}}", base64.b64encode(blob).decode("ascii"))
    )


def spread_facts(spread: dict[str, Any] | None) -> list[list[str]] | None:
    """[name, value] lines for the spread box: accuracy and each metric as mean ± std, min, max."""
    if spread is None:
        return None
    facts = [["runs", axes_text(spread)], ["accuracy", described("accuracy", spread)]]
    facts += [[name, described(name, d)] for name, d in spread.get("metrics", {}).items()]
    return [*facts, ["examples that change", str(spread.get("flipped", ""))]]


def write_view(
    folders: Sequence[Path], out: Path, names: Sequence[str] | None = None, *, spread: dict[str, Any] | None = None
) -> Path:
    """Write the page for one run (or several runs of one task, side by side; `spread` over them on top)."""
    runs = [load_run(Path(f), names[i] if names else None) for i, f in enumerate(folders)]
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text(page(runs, spread), encoding="utf-8")
    tmp.replace(out)
    return out


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
