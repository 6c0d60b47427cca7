"""Constants shared by tests (kept out of conftest so test modules can import them)."""

# One vLLM engine per test session; eager mode skips a 30-60 s compile on 2 cores.
VLLM_ARGS = {"enforce_eager": True, "max_model_len": 4096, "gpu_memory_utilization": 0.25}
