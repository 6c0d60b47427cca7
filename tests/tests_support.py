"""Constants shared by tests (kept out of conftest so test modules can import them)."""

# One vLLM engine per test session; eager mode skips a 30-60 s compile on 2 cores.
# The KV cache is sized in bytes (512 MiB: 11k tokens of SmolLM2), not as a share of free memory, so
# several engines can run side by side.
VLLM_ARGS = {
    "enforce_eager": True,
    "max_model_len": 4096,
    "gpu_memory_utilization": 0.1,
    "kv_cache_memory_bytes": 512 << 20,
}
