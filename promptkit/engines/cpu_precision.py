"""Whether half precision pays on this CPU: bfloat16 matrix products run natively only with AMX or AVX512-BF16
(about 4x float32's speed there, docs/classification.md); elsewhere PyTorch emulates them, slower than float32."""

from __future__ import annotations

from pathlib import Path

NATIVE_BF16 = ("amx_bf16", "avx512_bf16")
"""CPU flags (Linux's /proc/cpuinfo) of native bfloat16 matrix products."""


def cpu_flags() -> set[str] | None:
    """The CPU's feature flags; None where the system does not say (not Linux)."""
    info = Path("/proc/cpuinfo")
    if not info.is_file():
        return None
    for line in info.read_text(errors="replace").splitlines():
        if line.startswith("flags"):
            return set(line.partition(":")[2].split())
    return None


def slower_note(dtype: str, device: str, flags: set[str] | None = None) -> str | None:
    """One line saying why `dtype` on `device` would be slower than float32, or None where it is not (or the
    system cannot say)."""
    if device == "auto":  # as the hf engine decides it
        import torch

        device = "cuda" if torch.cuda.is_available() else "cpu"
    if not device.startswith("cpu"):
        return None
    if dtype == "float16":
        return "note: float16 on a CPU is slower than float32 (no native float16 matrix products): use bfloat16"
    if dtype != "bfloat16":
        return None
    flags = cpu_flags() if flags is None else flags
    if flags is None or any(f in flags for f in NATIVE_BF16):
        return None
    return "note: this CPU has no native bfloat16 matrix products (AMX, AVX512-BF16): bfloat16 runs slower than float32"
