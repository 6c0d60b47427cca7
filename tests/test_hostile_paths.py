"""Hostile paths on the command line: every file and folder a command takes, broken in every way a
data file can be, is one line naming the flag and the path, exit 2, no traceback, nothing written.

Cases are data: for each command, its path flags and the kind of path each names; for each kind, the
ways to break it. The product is the corpus.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from promptkit.cli import main
from promptkit.cli.parser import build_parser
from promptkit.cli.paths import check_command_paths
from promptkit.files.paths import DATA, RECORDING
from promptkit.runs.records import RECORD
from promptkit.runspec.files import SPEC_FILE as SPEC
from promptkit.stages.framework.templating import TEMPLATE_FILE as TEMPLATE

GOOD_GSM8K = json.dumps({"question": "Ann has 2 apples and buys 3. How many?", "answer": "2 + 3 = 5\n#### 5"}) + "\n"
GOOD_REPLAY = json.dumps({"prompt": "x", "completions": [" 5"]}) + "\n"
GOOD_POOL = json.dumps({"exemplars": [{"question": f"q{i}?", "rationale": "r.", "answer": str(i)} for i in (1, 2)]})
GOOD_SPEC = "task: {name: gsm8k, data: g.jsonl}\nengine: {kind: replay, path: r.jsonl}\nmethod: {name: few_shot, pool: pool.json}\n"
SUMMARY = {"task": "gsm8k", "method": "direct", "engine": "replay", "model": "r.jsonl", "n": 1, "correct": 1,
           "accuracy": 1.0, "ci95": [0.2, 1.0], "engine_calls": 1, "prompt_tokens": 0, "completion_tokens": 0,
           "wall_seconds": 0.1, "options": {}}  # fmt: skip
PREDICTION = {"id": "0", "question": "q", "gold": "5", "prediction": "5", "correct": True, "trace": []}
GOOD_FILES = {
    "g.jsonl": GOOD_GSM8K,
    "r.jsonl": GOOD_REPLAY,
    "t.j2": "Q: {{ question }}\nA:",
    "pool.json": GOOD_POOL,
    "s.yaml": GOOD_SPEC,
    "run1/summary.json": json.dumps(SUMMARY),
    "run1/predictions.jsonl": json.dumps(PREDICTION) + "\n",
}

# Each command with every path it takes; {name} is a good path unless the case breaks it.
REPLAY = ["--engine", "replay", "--replay", "{replay}"]
COMMANDS: dict[str, list[str]] = {
    "eval": ["eval", "--task", "gsm8k", "--method", "few_shot", "--data", "{data}", "--pool", "{pool}", *REPLAY,
             "--template", "{template}", "--cache", "{cache}", "--out", "{out_run}", "--allow-path", "{allow}"],
    "run": ["run", "{spec}", "--data", "{data}", *REPLAY, "--cache", "{cache}", "--out", "{out_run}",
            "--allow-path", "{allow}"],
    "sweep": ["sweep", "{spec}", "--set", "method.shots=1,2", "--data", "{data}", *REPLAY, "--cache", "{cache}",
              "--out", "{out_root}", "--allow-path", "{allow}"],
    "render": ["render", "{spec}", "--data", "{data}", "--template", "{template}", "--pool", "{pool}",
               "--allow-path", "{allow}"],
    "compare": ["compare", "--specs", "{spec}", "--data", "{data}", "--template", "{template}", "--pool", "{pool}",
                *REPLAY, "--cache", "{cache}", "--out", "{out_root}", "--allow-path", "{allow}"],
    "auto-cot": ["auto-cot", "--task", "gsm8k", "--pool", "{questions}", "--clusters", "1", *REPLAY, "--cache", "{cache}",
                 "--out", "{out_file}"],
    "report": ["report", "{runs}", "--out", "{out_root}"],
    "view": ["view", "{runs}", "--out", "{out_file}"],
    "make-last-letters": ["make-last-letters", "--count", "3", "--out", "{out_file}"],
}  # fmt: skip
GOOD_PATHS = {"data": "g.jsonl", "pool": "pool.json", "questions": "g.jsonl", "replay": "r.jsonl", "template": "t.j2", "spec": "s.yaml",
              "cache": "c.sqlite", "allow": "g.jsonl", "out_run": "out", "out_root": "outs", "out_file": "o.json",
              "runs": "run1"}  # fmt: skip
# How each placeholder is named in the error line.
LABELS = {"data": "--data", "pool": "--pool", "questions": "--pool", "replay": "--replay", "template": "--template", "spec": "spec file",
          "cache": "--cache", "allow": "--allow-path", "out_run": "--out", "out_root": "--out", "out_file": "--out",
          "runs": "run"}  # fmt: skip

UNREADABLE = "/proc/sys/vm/compact_memory"  # write-only even for root, who reads any file of mode 000


def _sparse(size: int) -> Callable[[Path, str], str]:
    def make(d: Path, suffix: str) -> str:
        path = d / f"huge{suffix}"
        with path.open("wb") as fh:  # sparse: no disk is used
            fh.truncate(size + 1)
        return str(path)

    return make


def _file(content: str | bytes, name: str = "bad") -> Callable[[Path, str], str]:
    def make(d: Path, suffix: str) -> str:
        path = d / f"{name}{suffix}"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
        return str(path)

    return make


def _folder(d: Path, suffix: str) -> str:
    (d / f"dir{suffix}").mkdir()
    (d / f"dir{suffix}" / "x").write_text("x")
    return str(d / f"dir{suffix}")


def _dangling(d: Path, suffix: str) -> str:
    (d / f"link{suffix}").symlink_to(d / "nowhere")
    return str(d / f"link{suffix}")


def _damaged_cache(d: Path, suffix: str) -> str:
    """A real promptkit cache whose middle pages were overwritten: opens, then fails SQLite's quick_check."""
    path = d / "damaged.sqlite"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE generations (request TEXT NOT NULL, idx INTEGER NOT NULL, engine TEXT NOT NULL, "
               "text TEXT NOT NULL, finish TEXT NOT NULL, prompt_tokens INTEGER NOT NULL, tokens INTEGER NOT NULL, "
               "PRIMARY KEY (request, idx))")  # fmt: skip
    with db:
        db.executemany("INSERT INTO generations VALUES (?, ?, 'e', ?, 'stop', 1, 1)",
                       [(f"{i:064x}", 0, "x" * 300) for i in range(2000)])  # fmt: skip
    db.close()
    data = bytearray(path.read_bytes())
    for offset in range(3 * 4096, len(data) - 4096, 3 * 4096):
        data[offset : offset + 4096] = b"\xa5" * 4096
    path.write_bytes(bytes(data))
    return str(path)


COMMON = {
    "missing": (lambda d, s: str(d / f"missing{s}"), ["not found"]),
    "dangling-link": (_dangling, ["not found", "link to nothing"]),
    "device": (lambda d, s: "/dev/zero", ["not a regular file"]),
    "unreadable": (lambda d, s: UNREADABLE, ["cannot read"]),
}
TEXT = {
    "binary": (_file(b"\x00\x01\x02binary"), ["binary"]),
    "not-utf8": (_file(b"caf\xe9 {\n"), ["not UTF-8"]),
    "empty": (_file(b""), ["empty"]),
}
FOLDER_FOR_FILE = {"folder": (_folder, ["a folder, not a file"])}
OUTPUT_FOLDER = {
    "is-a-file": (_file("x", "taken"), ["a file, not a folder"]),
    "parent-is-a-file": (lambda d, s: _file("x", "taken")(d, "") + "/sub", ["taken is a file, not a folder"]),
    "parent-unwritable": (lambda d, s: "/proc/promptkit-out/sub", ["cannot write"]),
}
OUTPUT_FILE = {
    "is-a-folder": (_folder, ["a folder, not a file"]),
    "parent-is-a-file": (lambda d, s: _file("x", "taken")(d, "") + "/o.json", ["taken is a file, not a folder"]),
    "parent-unwritable": (lambda d, s: "/proc/promptkit-out/o.json", ["cannot write"]),
    "a-device": (lambda d, s: "/dev/zero", ["not a regular file"]),
}

# placeholder -> (file suffix, {class: (make the hostile path, words the error line must contain)})
KINDS: dict[str, tuple[str, dict]] = {
    "data": (".jsonl", {**COMMON, **TEXT, "malformed": (_file('{"question": \n'), ["malformed JSON"]),
                        "too-large": (_sparse(DATA.max_bytes), ["over the", "limit"])}),
    "pool": (".json", {**COMMON, **TEXT, "malformed": (_file('{"exemplars": ['), ["malformed JSON"]),
                       "too-large": (_sparse(DATA.max_bytes), ["over the", "limit"])}),
    "questions": (".jsonl", {**COMMON, **TEXT, "malformed": (_file('{"question": \n'), ["malformed JSON"])}),
    "replay": (".jsonl", {**COMMON, **TEXT, **FOLDER_FOR_FILE, "malformed": (_file("{\n"), ["malformed JSON"]),
                          "too-large": (_sparse(RECORDING.max_bytes), ["over the", "limit"])}),
    "template": (".j2", {**COMMON, **TEXT, **FOLDER_FOR_FILE,
                         "jinja-syntax": (_file("Q: {{ question }\n"), ["Jinja syntax error", ":1"]),
                         "too-large": (_sparse(TEMPLATE.max_bytes), ["over the", "limit"])}),
    "spec": (".yaml", {**COMMON, **TEXT, **FOLDER_FOR_FILE,
                       "yaml-syntax": (_file("task: [\n"), ["YAML syntax error"]),
                       "too-large": (_sparse(SPEC.max_bytes), ["over the", "limit"])}),
    "allow": ("", COMMON),
    "cache": (".sqlite", {**{k: v for k, v in COMMON.items() if k not in ("missing", "dangling-link")},
                          **FOLDER_FOR_FILE, **{k: v for k, v in OUTPUT_FOLDER.items() if k != "is-a-file"},
                          "text": (_file("hello, not a database\n" * 50), ["not an SQLite file"]),
                          "not-utf8": (_file(b"\xff\xfe" * 100), ["not an SQLite file"]),
                          "damaged-header": (_file(b"SQLite format 3\x00" + b"\xff" * 4000), ["damaged"]),
                          "damaged-pages": (_damaged_cache, ["damaged", "damaged.sqlite"])}),
    "out_run": ("", OUTPUT_FOLDER),
    "out_root": ("", OUTPUT_FOLDER),
    "out_file": (".json", OUTPUT_FILE),
    "runs": ("", {
        "missing": (lambda d, s: str(d / "norun"), ["run folder", "not found"]),
        "a-file": (_file("x", "notrun"), ["run folder", "a file, not a folder"]),
        "summary-not-utf8": (_file(b'{"task": "\xe9"}', "bad/summary.json"), ["summary.json:1", "not UTF-8"]),
        "summary-binary": (_file(b"\x00" * 9, "bad/summary.json"), ["summary.json", "binary"]),
        "summary-empty": (_file(b"", "bad/summary.json"), ["summary.json", "empty"]),
        "summary-malformed": (_file("{", "bad/summary.json"), ["summary.json", "malformed JSON"]),
        "summary-a-list": (_file("[]", "bad/summary.json"), ["summary.json", "top level"]),
        "summary-no-accuracy": (_file(json.dumps({k: v for k, v in SUMMARY.items() if k != "accuracy"}),
                                      "bad/summary.json"), ["summary.json", "accuracy", "Field required"]),
        "summary-nan": (_file(json.dumps({**SUMMARY, "accuracy": float("nan")}), "bad/summary.json"),
                        ["summary.json", "accuracy"]),
        "summary-too-large": (_sparse(RECORD.max_bytes), ["summary.json", "over the", "limit"]),
    }),
}  # fmt: skip

# The hostile runs folder is `bad/` beside the case's files (a summary.json with good predictions).
RUN_FOLDER_CLASSES = {"summary-not-utf8", "summary-binary", "summary-empty", "summary-malformed", "summary-a-list",
                      "summary-no-accuracy", "summary-nan", "summary-too-large"}  # fmt: skip

CASES = [
    (command, slot, cls)
    for command, argv in COMMANDS.items()
    for slot in KINDS
    if "{" + slot + "}" in argv
    for cls in KINDS[slot][1]
]


def _make(folder: Path, slot: str, cls: str) -> tuple[str, list[str]]:
    suffix, classes = KINDS[slot]
    make, words = classes[cls]
    if slot == "runs" and cls in RUN_FOLDER_CLASSES:
        (folder / "bad").mkdir()
        (folder / "bad" / "predictions.jsonl").write_text(json.dumps(PREDICTION) + "\n")
        if cls == "summary-too-large":
            with (folder / "bad" / "summary.json").open("wb") as fh:
                fh.truncate(RECORD.max_bytes + 1)
        else:
            make(folder, "")
        return str(folder / "bad"), words
    return make(folder, suffix), words


def _argv(command: str, folder: Path, slot: str | None = None, path: str | None = None) -> list[str]:
    values = {k: str(folder / v) for k, v in GOOD_PATHS.items()}
    if slot is not None:
        values[slot] = path
    return [a.format(**values) if "{" in a else a for a in COMMANDS[command]] + (
        ["--quiet"] if command not in ("render", "report", "view", "make-last-letters") else []
    )


def _tree(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*")}


def _good(folder: Path) -> None:
    for name, content in GOOD_FILES.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content, encoding="utf-8")


def _unreadable_available() -> bool:
    try:
        with open(UNREADABLE, "rb") as fh:
            fh.read(1)
    except PermissionError:
        return True
    except OSError:
        return False
    return False


def test_the_corpus_covers_every_command_and_kind():
    assert {c for c, _, _ in CASES} == set(COMMANDS)
    assert {s for _, s, _ in CASES} == set(KINDS)
    assert len(CASES) >= 200, len(CASES)


@pytest.mark.parametrize("command", COMMANDS)
def test_the_good_paths_pass_every_check(command, tmp_path):
    _good(tmp_path)
    args = build_parser().parse_args(_argv(command, tmp_path))
    check_command_paths(args)  # raises on the first bad path


@pytest.mark.parametrize("command, slot, cls", CASES, ids=[f"{c}-{s}-{k}" for c, s, k in CASES])
def test_a_hostile_path_is_one_line_naming_flag_and_path(command, slot, cls, tmp_path):
    if cls == "unreadable" and not _unreadable_available():
        pytest.skip(f"{UNREADABLE} is readable here, and root reads files of mode 000")
    _good(tmp_path)
    path, words = _make(tmp_path, slot, cls)
    before = _tree(tmp_path)
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            code = main(_argv(command, tmp_path, slot, path))
        except SystemExit as exc:
            code = exc.code
    lines = [line for line in err.getvalue().splitlines() if line.strip()]
    assert code == 2, err.getvalue()
    assert "Traceback" not in err.getvalue()
    assert len(lines) == 1 and lines[0].startswith("promptkit: error:"), lines
    named = path if slot != "runs" or cls not in RUN_FOLDER_CLASSES else os.path.join(path, "summary.json")
    assert named in lines[0] or Path(named).name in lines[0], (named, lines[0])
    label = "--specs" if (command, slot) == ("compare", "spec") else LABELS[slot]
    assert label in lines[0], (label, lines[0])
    for word in words:
        assert word in lines[0], (word, lines[0])
    assert _tree(tmp_path) == before, "nothing is written"
