"""The task samples shipped inside the package (what `promptkit demo` reads): derived from their sources, checked."""

from __future__ import annotations

import json
import shutil

import pytest

from evals.make_samples import sst2_sample
from promptkit.errors import PromptkitError
from promptkit.runs.demo import LIMIT
from promptkit.tasks import load_task
from promptkit.tasks import samples as samples_module
from promptkit.tasks.samples import SOURCE_FILE, sample_folder, sample_size


def test_the_sst2_sample_is_derived_byte_for_byte_from_zhaos_files(shared_data):
    files, source = sst2_sample(shared_data / "zhao" / "sst2")
    folder = sample_folder("sst2")
    for name, data in files.items():
        assert (folder / name).read_bytes() == data, name
    assert json.loads((folder / SOURCE_FILE).read_text(encoding="utf-8")) == source


def test_its_reviews_are_the_first_of_the_standard_set_in_order(shared_data):
    standard = load_task("sst2", shared_data / "zhao" / "sst2", limit=LIMIT)
    sample = load_task("sst2", sample_folder("sst2"), whole_set=True)
    assert sample_size("sst2") == LIMIT == len(sample.examples)
    assert [(e.inputs, e.target) for e in sample.examples] == [(e.inputs, e.target) for e in standard.examples]


def test_a_damaged_or_missing_sample_is_one_line(tmp_path, monkeypatch):
    shutil.copytree(sample_folder("sst2"), tmp_path / "sst2")
    monkeypatch.setattr(samples_module, "SAMPLES_DIR", tmp_path)
    with (tmp_path / "sst2" / "stsa.binary.train").open("a") as f:
        f.write("1 an extra review\n")
    with pytest.raises(PromptkitError, match=r"stsa\.binary\.train: damaged"):
        samples_module.sample_folder("sst2")
    with pytest.raises(PromptkitError, match=r"task 'agnews': no shipped sample .*give --data"):
        samples_module.sample_folder("agnews")
