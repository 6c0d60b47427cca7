"""Deprecated: moved to `promptkit.runspec.files`."""

from promptkit.runspec.files import *  # noqa: F403
from promptkit.runspec.load import load_spec  # noqa: F401
