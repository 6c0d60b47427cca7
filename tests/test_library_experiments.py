"""Runs and experiments as library calls: the same work the command line does, from Python."""

from __future__ import annotations

import json

import pytest

import promptkit
from promptkit import EnginePool, RunSpec, compare, orders, run, sweep
from promptkit.runspec.files import validate


@pytest.fixture
def data(tmp_path):
    path = tmp_path / "g.jsonl"
    rows = [{"question": f"Ann has {i} apples and buys 2. How many?", "answer": f"#### {i + 2}"} for i in range(3)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def _data(data, tiny_model, **method) -> dict:
    return {
        "task": {"name": "gsm8k", "data": str(data)},
        "engine": {"kind": "hf", "model": str(tiny_model), "device": "cpu"},
        "method": {"name": "few_shot", "pool": str(data), "shots": 1, **method},
    }


def test_run_compare_sweep_and_orders_from_python(tmp_path, data, tiny_model):
    spec: RunSpec = validate(_data(data, tiny_model), "test")
    alone = run(spec, tmp_path / "alone")
    assert alone.summary.n == 3 and (tmp_path / "alone" / "summary.json").is_file()

    other = validate({**_data(data, tiny_model), "name": "other", "method": {"name": "direct"}}, "test")
    summaries = compare([spec, other], tmp_path / "cmp")
    assert [s.method for s in summaries] == ["few_shot", "other"]
    assert summaries[0].correct == alone.summary.correct, "the same run, the same figures"
    assert (tmp_path / "cmp" / "compare.md").is_file() and (tmp_path / "cmp" / "view.html").is_file()

    swept = sweep(_data(data, tiny_model), ["method.shots=1,2"], tmp_path / "sw")
    assert swept.fields == ["method.shots"] and [r["values"]["method.shots"] for r in swept.rows] == [1, 2]
    assert json.loads((tmp_path / "sw" / "sweep.json").read_text())["points"][0]["summary"]["n"] == 3

    stats = orders(validate(_data(data, tiny_model, shots=2), "test"), 2, tmp_path / "ord")  # 1 shot has 1 order
    assert stats["orders"] == 2 and (tmp_path / "ord" / "spread.json").is_file()
    assert promptkit.read_summary(tmp_path / "ord" / "order-1" / "summary.json").options["order"] == "random"


class _Counting:
    def __init__(self) -> None:
        self.made, self.closed = 0, 0


def test_the_pool_shares_an_engine_per_spec_and_closes_all_on_an_error(tmp_path, data, tiny_model, monkeypatch):
    import promptkit.runs.pool as pool_module
    from promptkit import ScriptedEngine

    seen = _Counting()

    class Closing(ScriptedEngine):
        def close(self) -> None:
            seen.closed += 1

    def make(spec, cache=None, *, progress=True):
        seen.made += 1
        return Closing(lambda p: " 3")

    monkeypatch.setattr(pool_module, "make_engine", make)
    a = validate(_data(data, tiny_model), "test")
    b = validate({**_data(data, tiny_model), "engine": {"kind": "hf", "model": str(tiny_model), "dtype": "float32"}},
                 "test")  # fmt: skip
    with pytest.raises(RuntimeError), EnginePool() as pool:
        assert pool.engine(a) is pool.engine(a)
        pool.engine(b)
        raise RuntimeError("a run failed")
    assert (seen.made, seen.closed) == (2, 2)


def test_the_summary_schema_is_exported(capsys):
    from promptkit.cli import main

    assert main(["schema", "--summary"]) == 0
    schema = json.loads(capsys.readouterr().out)
    assert schema["title"] == "RunSummary" and {"accuracy", "ci95", "engine_calls"} <= set(schema["properties"])
