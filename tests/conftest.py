from __future__ import annotations

import os
from pathlib import Path

import pytest

from promptkit.testing import build_tiny_model

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not (SHARED_DATA / "PROVENANCE.txt").is_file():
        pytest.skip("../shared/data (GSM8K, last letters, Kojima et al.'s recordings) is not beside this checkout")
    return SHARED_DATA


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("models") / "tiny", context=2048)


@pytest.fixture(scope="session")
def hf_engine(tiny_model):
    from promptkit.engines.hf import HFEngine

    return HFEngine(str(tiny_model), device="cpu", progress=False)


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path, monkeypatch):
    """No test touches the user's real cache folder."""
    monkeypatch.setenv("PROMPTKIT_CACHE", str(tmp_path / "default-cache.sqlite"))
