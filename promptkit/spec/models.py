"""Deprecated: moved to `promptkit.runspec.models`."""

from promptkit.runspec.models import *  # noqa: F403
