"""Deprecated: the run spec moved to `promptkit.runspec` (and `presets` to `runspec.methods`).

Importing from here still works for one release and warns once per import.
"""

from __future__ import annotations

import warnings

from promptkit.runspec import *  # noqa: F403 (the old package's names, unchanged)
from promptkit.runspec import __all__ as __all__

warnings.warn(
    "promptkit.spec is deprecated: import from promptkit.runspec (presets are promptkit.runspec.methods)",
    DeprecationWarning,
    stacklevel=2,
)
