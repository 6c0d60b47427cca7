"""--limit N on a big JSON Lines file reads only as far as the first N examples go, and gives what a whole read
then cut to N gives."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from promptkit.errors import PromptkitError
from promptkit.tasks import load_task


def _gsm8k(path: Path, n: int, bad_at: int | None = None) -> Path:
    with path.open("w", encoding="utf-8") as fh:
        for i in range(1, n + 1):
            if i == bad_at:
                fh.write('{"question": "broken",\n')
            else:
                fh.write(json.dumps({"question": f"What is {i} + 1?", "answer": f"{i} + 1 = {i + 1}\n#### {i + 1}"}))
                fh.write("\n")
    return path


def _same(a, b) -> bool:
    return [(e.id, dict(e.inputs), e.target) for e in a.examples] == [
        (e.id, dict(e.inputs), e.target) for e in b.examples
    ]


def test_a_limited_read_stops_before_a_bad_line_far_down_the_file(tmp_path):
    data = _gsm8k(tmp_path / "big.jsonl", 5000, bad_at=4000)
    with pytest.raises(PromptkitError, match=r"big\.jsonl:4000: malformed JSON"):
        load_task("gsm8k", data)  # the whole file is read, and its bad line found
    task = load_task("gsm8k", data, limit=10)  # the first 10 examples are all that is read
    assert [e.id for e in task.examples] == [str(i) for i in range(10)]
    assert task.examples[3].target == "5"


def test_the_first_n_are_those_a_whole_read_gives(tmp_path):
    data = _gsm8k(tmp_path / "big.jsonl", 3000)
    whole = load_task("gsm8k", data)
    for limit in (1, 10, 64, 500, 2999, 3000, 5000):
        limited = load_task("gsm8k", data, limit=limit)
        assert _same(limited, whole.limit(limit)), limit
        assert len(limited.whole_set().examples) == 3000, "what needs the whole set still gets it"
        assert limited.source == whole.source


def test_records_a_task_leaves_out_are_read_past(tmp_path):
    data = _gsm8k(tmp_path / "big.jsonl", 3000)
    task_file = tmp_path / "late.yaml"
    gsm8k = (Path(__file__).resolve().parents[1] / "promptkit" / "tasks" / "shipped" / "gsm8k.yaml").read_text()
    task_file.write_text(gsm8k.replace("name: gsm8k", "name: late", 1).replace("data:", "data:\n  keep: \"'2500 +' in question or '2999 +' in question or '2501 +' in question\"", 1))  # fmt: skip
    whole = load_task(str(task_file), data)
    limited = load_task(str(task_file), data, limit=2)
    assert [e.target for e in limited.examples] == ["2501", "2502"]
    assert _same(limited, whole.limit(2))


def test_tasks_that_depend_on_the_whole_set_still_read_it(tmp_path, shared_data):
    sst2 = load_task("sst2", shared_data / "zhao" / "sst2", limit=5)  # the reference's subsample of 300
    assert _same(sst2, load_task("sst2", shared_data / "zhao" / "sst2").limit(5))
