"""Helpers for tests of pipelines and engines, yours and ours: a tiny local model, and inference servers on loopback.

For a pipeline's own tests, `promptkit.ScriptedEngine` gives known outputs with no model at all.
"""

from promptkit.testing.servers import LocalServer, free_port
from promptkit.testing.tiny_model import build_tiny_model

__all__ = ["LocalServer", "build_tiny_model", "free_port"]
