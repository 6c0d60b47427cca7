"""Deprecated: moved to `promptkit.runspec.methods` (`PRESETS` is `METHODS`)."""

from promptkit.runspec.methods import *  # noqa: F403
from promptkit.runspec.methods import METHODS as PRESETS  # noqa: F401
from promptkit.runspec.methods import Method as Preset  # noqa: F401
