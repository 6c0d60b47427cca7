from __future__ import annotations

import json

import pytest

from promptkit.errors import PromptkitError
from promptkit.tasks import generate_last_letters, load_task

ROWS = [
    {"question": "  Janet has 3 apples. How many?  ", "answer": "She has 3.\n#### 3"},
    {"question": "Big sum?", "answer": "Add.\n#### 2,125"},
]


def _gsm8k_file(tmp_path):
    path = tmp_path / "test.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in ROWS))
    return path


def test_gsm8k_local_jsonl(tmp_path):
    task = load_task("gsm8k", _gsm8k_file(tmp_path))
    assert [e.target for e in task.examples] == ["3", "2,125"]
    assert task.examples[0].inputs["question"] == "Janet has 3 apples. How many?"
    assert [e.id for e in task.examples] == ["0", "1"]
    assert [e.id for e in task.limit(1).examples] == ["0"]


def test_gsm8k_through_datasets_from_a_local_folder_laid_out_like_the_hub(tmp_path):
    """The code path used for openai/gsm8k, run on a local copy of the hub repository's layout."""
    import datasets

    repo = tmp_path / "gsm8k"
    (repo / "main").mkdir(parents=True)
    datasets.Dataset.from_list(ROWS).to_parquet(str(repo / "main" / "test-00000-of-00001.parquet"))
    (repo / "README.md").write_text(
        "---\nconfigs:\n- config_name: main\n  data_files:\n  - split: test\n    path: main/test-*\n---\n"
    )
    task = load_task("gsm8k", repo)
    assert [e.target for e in task.examples] == ["3", "2,125"]
    assert task.examples[0].inputs["question"] == "Janet has 3 apples. How many?"


def test_gsm8k_hub_failure_is_a_clear_error(tmp_path):
    from promptkit.tasks.definition import HubSource
    from promptkit.tasks.records import read_hub_records

    with pytest.raises(PromptkitError, match=r"cannot load '.*missing'"):
        read_hub_records(HubSource(path=str(tmp_path / "missing"), split="test"))


def test_malformed_jsonl_names_file_and_line(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps(ROWS[0]) + "\n{oops\n")
    with pytest.raises(PromptkitError, match=r"bad\.jsonl:2: malformed JSON"):
        load_task("gsm8k", path)


def test_missing_file_names_the_path(tmp_path):
    with pytest.raises(PromptkitError, match=r"file not found: .*nope\.jsonl"):
        load_task("gsm8k", tmp_path / "nope.jsonl")


def test_last_letters_file(tmp_path):
    path = tmp_path / "ll.json"
    path.write_text(
        json.dumps({"examples": [{"question": 'Take the last letters of each words in "Ab Cd"', "answer": "bd"}]})
    )
    task = load_task("last_letters", path)
    assert task.answer_kind == "text" and task.examples[0].target == "bd"


def test_last_letters_file_with_wrong_shape(tmp_path):
    path = tmp_path / "ll.json"
    path.write_text(json.dumps([1, 2]))
    with pytest.raises(PromptkitError, match="'examples' list"):
        load_task("last_letters", path)


def test_generator_is_seeded_and_correct():
    a = generate_last_letters(count=20, words=6, seed=3)
    assert a == generate_last_letters(count=20, words=6, seed=3)
    assert a != generate_last_letters(count=20, words=6, seed=4)
    for row in a["examples"]:
        names = row["question"].split('"')[1].split()
        assert len(names) == 6 == len(set(names))
        assert row["answer"] == "".join(n[-1].lower() for n in names)
        assert row["question"] == f'Take the last letters of each words in "{" ".join(names)}" and concatenate them.'


def test_unknown_task_suggests_close_names():
    with pytest.raises(PromptkitError, match="did you mean 'gsm8k'"):
        load_task("gsm8", None)
