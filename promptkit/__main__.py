from promptkit.cli import entry

entry()
