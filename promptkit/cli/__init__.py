"""The `promptkit` command line: argument parsing and printing over the library (promptkit.runs)."""

from promptkit.cli.commands import entry, main

__all__ = ["entry", "main"]
