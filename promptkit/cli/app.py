"""The `promptkit` entry point: parse, check every path named, run the command; errors are one line.

A user's mistake is one line and exit 2; an interrupt keeps what finished (exit 130, or 143 for
SIGTERM); anything else is a bug: one line, exit 1, the traceback saved (--debug prints it).
"""

from __future__ import annotations

import os
import signal
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from promptkit.cli.commands import COMMANDS
from promptkit.cli.parser import build_parser
from promptkit.cli.paths import check_command_paths
from promptkit.errors import PromptkitError
from promptkit.files.paths import state_dir


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    args = build_parser().parse_args([a for a in argv if a != "--debug"])
    try:
        check_command_paths(args)  # every file and folder named, before any work
        return COMMANDS[args.command](args)
    except PromptkitError as exc:
        print(f"promptkit: error: {exc}", file=sys.stderr)
        return 2
    except Terminated:
        print("promptkit: terminated; finished generations are in the cache", file=sys.stderr)
        return 128 + signal.SIGTERM
    except KeyboardInterrupt:
        print("promptkit: interrupted; finished generations are in the cache", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader went away (`promptkit schema | head`): not an error of anyone's
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # so the exit flush cannot fail again
        return 128 + signal.SIGPIPE
    except Exception as exc:  # a bug, not the user's mistake: one line, and the traceback kept for a report
        if debug:
            raise
        saved = save_traceback()
        print(f"promptkit: internal error: {type(exc).__name__}: {exc} (traceback: {saved}; --debug prints it)",
              file=sys.stderr)  # fmt: skip
        return 1


def save_traceback() -> str:
    import tempfile
    import traceback

    try:
        folder = state_dir() / "crashes"
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        folder = Path(tempfile.gettempdir())
    path = folder / f"crash-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}.txt"
    path.write_text(traceback.format_exc(), encoding="utf-8")
    return str(path)


class Terminated(KeyboardInterrupt):
    """SIGTERM, turned into an exception so that cleanup runs as it does for Ctrl-C."""


def _terminate(signum, frame) -> None:
    raise Terminated()


def entry() -> None:
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    # Python's default for SIGTERM ends the process at once, skipping every cleanup (vLLM's processes).
    signal.signal(signal.SIGTERM, _terminate)
    sys.exit(main())
