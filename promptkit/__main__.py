from promptkit.cli.commands import entry

entry()
