from __future__ import annotations

import importlib.util
import json

import numpy as np
import pytest

from promptkit.errors import EngineUnavailable, PromptkitError
from promptkit.stages import SelectDemos
from promptkit.stages.library.demo_pools import Demo, pool_from_task
from promptkit.tasks import generated_task, load_task
from promptkit.types import Example, State

POOL = tuple(Demo(f"p{i}", q, "", str(i)) for i, q in enumerate([
    "apples and oranges in a basket",
    "trains leave the station at noon",
    "apples and oranges in a basket today",
    "the cost of apples and pears",
    "a car drives to the city",
    "trains and cars on the road",
]))  # fmt: skip


def _states(questions):
    return [State(Example(str(i), {"question": q})) for i, q in enumerate(questions)]


def _ids(state):
    return [d["id"] for d in state.fields["demos"]]


def test_random_draws_do_not_depend_on_limit_or_batch():
    pool = pool_from_task(generated_task(count=200, words=3, seed=9))
    examples = [s.example for s in _states([f"question {i}" for i in range(40)])]
    select = SelectDemos(pool, 4, "random", "random", seed=3)
    full = select([State(e) for e in examples], engine=None)
    limited = select([State(e) for e in examples[:5]], engine=None)
    shuffled = select([State(e) for e in reversed(examples[:5])], engine=None)
    assert [_ids(s) for s in limited] == [_ids(s) for s in full[:5]]
    assert [_ids(s) for s in reversed(shuffled)] == [_ids(s) for s in full[:5]]
    assert len({tuple(_ids(s)) for s in full}) > 30, "examples get different draws"
    other_seed = SelectDemos(pool, 4, "random", seed=4)([State(examples[0])], engine=None)
    assert _ids(other_seed[0]) != _ids(full[0])


def test_similar_picks_the_closest_and_orders_most_similar_last():
    state = _states(["apples and oranges in a basket tomorrow"])
    given = SelectDemos(POOL, 2, "similar")(state, None)[0]
    assert _ids(given) == ["p0", "p2"]
    assert [d["rank"] for d in given.fields["demos"]] == [0, 1]
    last = SelectDemos(POOL, 2, "similar", "similar_last")(state, None)[0]
    assert _ids(last) == ["p2", "p0"]


def test_mmr_trades_relevance_for_diversity():
    state = _states(["apples and oranges in a basket tomorrow"])
    similar = _ids(SelectDemos(POOL, 2, "similar")(state, None)[0])
    diverse = _ids(SelectDemos(POOL, 2, "mmr", mmr_lambda=0.3)(state, None)[0])
    assert similar == ["p0", "p2"]
    assert diverse[0] == "p0" and diverse[1] != "p2", "the near-duplicate of the first pick is passed over"


def test_the_example_itself_is_never_its_own_demonstration():
    state = _states([POOL[1].question])
    for strategy in ("fixed", "similar", "mmr"):
        assert "p1" not in _ids(SelectDemos(POOL, 3, strategy)(state, None)[0])


def test_custom_embedder():
    def embed(texts):  # one dimension: the length of the text
        return np.array([[len(t)] for t in texts], dtype=float)

    state = _states(["x" * 30])
    picked = SelectDemos(POOL, 1, "embedding", embedder=embed)(state, None)[0]
    assert _ids(picked) == ["p2"]  # the longest text has the largest dot product


@pytest.mark.skipif(
    importlib.util.find_spec("sentence_transformers") is not None, reason="sentence-transformers is installed"
)
def test_embedding_selector_without_the_extra_names_it():
    with pytest.raises(EngineUnavailable, match=r"promptkit\[embeddings\]"):
        SelectDemos(POOL, 1, "embedding")(_states(["q"]), None)


def test_bad_selector_and_order_are_clear_errors():
    with pytest.raises(PromptkitError, match="unknown selector 'bm26'"):
        SelectDemos(POOL, 1, "bm26")  # type: ignore[arg-type]
    with pytest.raises(PromptkitError, match="unknown demonstration order"):
        SelectDemos(POOL, 1, "fixed", "backwards")  # type: ignore[arg-type]


def _reference_gsm8k_rationale(solution: str) -> str:
    """What promptkit's Python GSM8K reader wrote, before GSM8K became a task file: the file must agree."""
    import re

    lines = [ln.strip() for ln in re.sub(r"<<[^>]*>>", "", solution).splitlines()]
    return " ".join(ln for ln in lines if ln and not ln.startswith("####"))


def test_gsm8k_pool_rationales_drop_calculator_notes_and_the_final_line(tmp_path):
    solution = (
        "Janet sells 16 - 3 - 4 = <<16-3-4=9>>9 duck eggs a day.\nShe makes 9 * 2 = $<<9*2=18>>18 every day.\n#### 18"
    )
    path = tmp_path / "train.jsonl"
    path.write_text(json.dumps({"question": "Janet?", "answer": solution}) + "\n")
    demo = pool_from_task(load_task("gsm8k", path))[0]
    assert demo.rationale == "Janet sells 16 - 3 - 4 = 9 duck eggs a day. She makes 9 * 2 = $18 every day."
    assert demo.answer == "18"


def test_gsm8k_task_file_writes_every_train_rationale_as_the_python_reader_did(shared_data):
    path = shared_data / "gsm8k" / "train.jsonl"
    task = load_task("gsm8k", path)
    solutions = [json.loads(line)["answer"] for line in path.read_text().splitlines()]
    assert [d.rationale for d in pool_from_task(task)] == [_reference_gsm8k_rationale(s) for s in solutions]


def test_last_letter_pool_rationales_come_from_the_template():
    demo = pool_from_task(generated_task(count=1, words=2, seed=0))[0]
    words = demo.question.split('"')[1].split()
    assert demo.rationale == (
        f'The last letter of "{words[0]}" is "{words[0][-1].lower()}". The last letter of "{words[1]}" is '
        f'"{words[1][-1].lower()}". Concatenating them is "{demo.answer}".'
    )
