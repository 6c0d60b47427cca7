"""Deprecated: moved to `promptkit.runspec.read_policy`."""

from promptkit.runspec.read_policy import *  # noqa: F403
