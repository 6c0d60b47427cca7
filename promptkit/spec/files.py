"""Deprecated: moved to `promptkit.runspec.files`."""

from promptkit.runspec.files import *  # noqa: F403
