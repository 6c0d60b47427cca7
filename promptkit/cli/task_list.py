"""`promptkit tasks`: the shipped tasks, or what the installed lm-eval offers (--lm-eval PATTERN)."""

from __future__ import annotations

import argparse
import sys

from promptkit.tasks import read_definition, shipped_names
from promptkit.tasks.lm_eval import PREFIX
from promptkit.tasks.lm_eval.index import index_is_kept, matching
from promptkit.tasks.lm_eval.library import installed_version


def cmd_tasks(args: argparse.Namespace) -> int:
    """The shipped tasks: name, category, answer type, size of the standard set, where the data comes from."""
    if args.lm_eval is not None:
        return _lm_eval_tasks(args.lm_eval)
    print("| task | category | answer | size | data without --data | what it is |")
    print("|---|---|---|---|---|---|")
    for name in shipped_names():
        d = read_definition(name)
        data = d.data
        source = (
            data.hub.path
            if data.hub
            else "generated"
            if data.generate
            else "downloaded once (hash-checked)"
            if d.download
            else "none: give --data FOLDER"
            if data.in_folder
            else "none: give --data FILE"
        )
        answer = d.answer.type + (f" ({', '.join(d.answer.labels)})" if d.answer.labels else "")
        print(f"| {name} | {d.category or ''} | {answer} | {data.size or ''} | {source} | {d.description} |")
    print("\nA task file of your own: --task path/to/task.yaml (promptkit schema --task prints its schema).")
    return 0


def _lm_eval_tasks(pattern: str) -> int:
    """What the installed lm-eval offers: its tasks, groups and tags matching the pattern."""
    if not index_is_kept():
        print("reading lm-eval's index of its task files, once (5 to 10 s) ...", file=sys.stderr, flush=True)
    entries = sorted(matching(pattern), key=lambda e: e.name)
    print(f"lm-eval {installed_version()}: {len(entries)} names" + (f" matching {pattern!r}" if pattern else ""))
    print("| name | kind | output type or tasks |")
    print("|---|---|---|")
    for e in entries:
        what = e.output_type if e.kind == "task" else f"{len(e.members)}: {', '.join(e.members[:5])}"
        print(f"| {PREFIX}{e.name} | {e.kind} | {what}{', ...' if len(e.members) > 5 else ''} |")
    print(f"\nRun one: promptkit eval --task {PREFIX}NAME --data FOLDER ... (docs/lm_eval.md).")
    return 0
