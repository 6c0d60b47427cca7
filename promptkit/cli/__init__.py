"""The `promptkit` command line: argument parsing and printing over the library (promptkit.runs).

parser (the flags), paths (every path named, checked first), specs (flags to specs), commands (each
command, thin over promptkit.runs.experiments), app (the entry point and its error handling).
"""

from promptkit.cli.app import entry, main

__all__ = ["entry", "main"]
