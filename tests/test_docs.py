"""Every command the README and docs/ show is checked by a test, so a reader can type it.

Each line of a ```bash block (and each `promptkit ...` or `python evals/...` code span of the prose
that is a whole command, not a usage synopsis with [options] or DIR...) is one test, named by its
file and line:

- `promptkit ...`: parsed by promptkit's own argument parser; its method, engine, extractor and task
  names are real ones, and a spec it names exists; the commands that need no model (`tasks`,
  `schema`, `render`, `make-last-letters`) are run, and must exit 0;
- `python evals/SCRIPT.py ...`: the script exists and its `--help` lists every flag used;
- `make TARGET`: the Makefile has the target;
- `pip ...`, `apt-get ...`: one of the README's install lines, which test_readme.py ties to the Makefile;
- anything else: in NOT_RUN below, with the reason.

The links between the pages are checked too: every relative link names a file that exists, and its
#anchor a heading of that file.
"""

from __future__ import annotations

import functools
import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from promptkit.cli.parser import build_parser

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), ROOT / "CHANGELOG.md"]

# Commands shown that no test runs, each with the reason; the promptkit lines beside them are checked.
NOT_RUN = {
    "vllm serve": "starts a server of a 7B model on GPUs; tests/test_vllm_resume_and_serve.py starts `vllm serve` "
    "on loopback with SmolLM2 and runs the openai engine against it",
}

# Commands that call no model, and so are run here, by their subcommand.
RUN_HERE = {"tasks", "schema", "render", "make-last-letters"}

# Placeholders (capitals) given a real value where a command is run here.
PLACEHOLDERS = {"T": "last_letters", "M": "few_shot_cot", "SPEC": "evals/specs/last_letters_few_shot_cot.yaml"}

# Spec files the pages name that stand for the reader's own: "saved as `spec.yaml`".
READERS_SPECS = {"spec.yaml", "best.yaml"}  # best.yaml: what a prompt search writes (docs/search.md)


@dataclass(frozen=True)
class Command:
    where: str  # "docs/specs.md:42", where it starts
    argv: tuple[str, ...]

    @property
    def kind(self) -> str:
        if self.argv[0] == "promptkit":
            return "promptkit"
        if self.argv[0] == "python" and len(self.argv) > 1 and self.argv[1].startswith("evals/"):
            return "evals"
        if self.argv[0] in ("make", "pip", "apt-get"):
            return self.argv[0]
        return next((prefix for prefix in NOT_RUN if " ".join(self.argv).startswith(prefix)), "unknown")


def _split(text: str, where: str) -> list[Command]:
    """One shell line (continuations joined), split at `&&` into commands; comments dropped."""
    tokens = shlex.split(text, comments=True)
    assert not {"|", "||", ";", ">", "<", "&"} & set(tokens), f"{where}: only `&&` joins commands here: {text}"
    commands, current = [], []
    for token in [*tokens, "&&"]:
        if token == "&&":
            if current:
                commands.append(current)
            current = []
        else:
            current.append(token)
    return [Command(f"{where}.{i + 1}" if len(commands) > 1 else where, tuple(argv)) for i, argv in enumerate(commands)]


def _is_synopsis(span: str) -> bool:
    """`promptkit view DIR [DIR ...] [--out FILE.html]`: a usage line to read, not a command to type."""
    return "[" in span or "|" in span or any(t == "..." or t.endswith("...") for t in span.split())


def collect() -> list[Command]:
    commands = []
    for page in PAGES:
        rel = page.relative_to(ROOT).as_posix()
        lines = page.read_text().splitlines()
        prose = []  # the page with fenced blocks blanked, so code spans keep their line numbers
        fence, pending, start = None, "", 0
        for no, line in enumerate(lines, 1):
            if fence is None and line.startswith("```"):
                fence = line[3:].strip()
                prose.append("")
                continue
            if fence is not None and line.strip() == "```":
                assert not pending, f"{rel}:{start}: a command ends in a backslash"
                fence = None
                prose.append("")
                continue
            if fence is None:
                prose.append(line)
                continue
            prose.append("")
            if fence != "bash":
                continue
            if not pending:
                start = no
            if line.rstrip().endswith("\\"):
                pending += line.rstrip()[:-1] + " "
                continue
            text, pending = pending + line, ""
            if text.strip() and not text.strip().startswith("#"):
                commands += _split(text, f"{rel}:{start}")
        text = "\n".join(prose)
        for m in re.finditer(r"`([^`]+)`", text):
            span = " ".join(m.group(1).split())
            if span.startswith(("promptkit ", "python evals/")) and not _is_synopsis(span):
                line_no = text.count("\n", 0, m.start()) + 1
                commands += _split(span, f"{rel}:{line_no} (prose)")
    seen: dict[str, int] = {}
    for i, command in enumerate(commands):  # two code spans on one line: "docs/specs.md:80 (prose) #2"
        seen[command.where] = seen.get(command.where, 0) + 1
        if seen[command.where] > 1:
            commands[i] = Command(f"{command.where} #{seen[command.where]}", command.argv)
    return commands


COMMANDS = collect()


def test_the_pages_show_commands_and_every_one_has_a_check():
    assert any(c.where.startswith("README.md:") and c.kind == "promptkit" for c in COMMANDS)
    assert all(any(c.where.startswith(f"docs/{name}") for c in COMMANDS) for name in ("specs.md", "tasks.md"))
    unknown = [f"{c.where}: {' '.join(c.argv)}" for c in COMMANDS if c.kind == "unknown"]
    assert not unknown, f"commands no test checks (check them here, or add them to NOT_RUN with the reason): {unknown}"


def _ids(commands: list[Command]) -> list[str]:
    return [c.where for c in commands]


def _of(kind: str) -> list[Command]:
    return [c for c in COMMANDS if c.kind == kind]


# ---------------------------------------------------------------- promptkit


def _is_placeholder(value: str) -> bool:
    return re.fullmatch(r"[A-Z][A-Z0-9_]*", value) is not None


def _method_names() -> list[str]:
    import promptkit

    registry = promptkit.METHODS if hasattr(promptkit, "METHODS") else promptkit.PRESETS
    return registry.names()


def _task_files_shown() -> set[str]:
    """The task files the pages write out: YAML blocks whose first line is '# NAME.yaml'."""
    names = set()
    for page in PAGES:
        names |= set(re.findall(r"```yaml\n# (\S+\.yaml)\n", page.read_text()))
    return names


def _check_names(args, where: str) -> None:
    import promptkit

    def known(value, names, what):
        if value is not None and not _is_placeholder(value):
            assert value in names, f"{where}: {what} {value!r} is not one of {', '.join(names)}"

    tuning = getattr(args, "command", None) == "tune"  # its methods are argparse's choices, checked by parsing
    for method in ([args.method] if getattr(args, "method", None) and not tuning else []) + (
        args.methods.split(",") if getattr(args, "methods", None) else []
    ):
        known(method, _method_names(), "method")
    known(getattr(args, "engine", None), promptkit.ENGINE_KINDS.names(), "engine")
    extractor = getattr(args, "extractor", None)
    if not (extractor or "").startswith("lm-eval:"):  # an lm-eval task's filter: checked where it runs
        known(extractor, promptkit.EXTRACTORS.names(), "extractor")
    task = getattr(args, "task", None)
    if isinstance(task, str) and not _is_placeholder(task):
        if task.startswith("lm-eval:"):
            from promptkit.tasks.lm_eval import lm_eval_task_names

            assert lm_eval_task_names(task), f"{where}: lm-eval knows no {task}"
        elif task.endswith(".yaml"):
            assert task in _task_files_shown(), f"{where}: the task file {task} is written out on no page"
        else:
            known(task, promptkit.shipped_names(), "task")
    for spec in [args.spec] if getattr(args, "spec", None) else []:
        if not _is_placeholder(spec) and spec not in READERS_SPECS:
            assert (ROOT / spec).is_file(), f"{where}: no spec file {spec}"


@pytest.mark.parametrize("command", _of("promptkit"), ids=_ids(_of("promptkit")))
def test_promptkit_commands_parse(command, capsys):
    try:
        args = build_parser().parse_args(list(command.argv[1:]))
    except SystemExit as exc:
        pytest.fail(f"{command.where}: `{' '.join(command.argv)}` does not parse: {capsys.readouterr().err.strip()}"
                    f" (exit {exc.code})")  # fmt: skip
    _check_names(args, command.where)


def _runnable(command: Command) -> list[str]:
    """The command's arguments with placeholders filled in and the repository's files made absolute."""
    argv = []
    for arg in command.argv[1:]:
        arg = PLACEHOLDERS.get(arg, arg)
        assert not _is_placeholder(arg), f"{command.where}: give the placeholder {arg} a value in PLACEHOLDERS"
        argv.append(str(ROOT / arg) if not arg.startswith("-") and (ROOT / arg).exists() else arg)
    return argv


RUNNABLE = [c for c in _of("promptkit") if c.argv[1] in RUN_HERE]


def _env(tmp_path: Path | None = None) -> dict[str, str]:
    """Offline, this checkout's promptkit, and (given a folder) no state written outside it."""
    env = dict(os.environ, HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)
    if tmp_path is not None:
        env.update(PROMPTKIT_HOME=str(tmp_path / "home"), PROMPTKIT_CACHE=str(tmp_path / "cache.sqlite"))
    return env


@pytest.mark.parametrize("command", RUNNABLE, ids=_ids(RUNNABLE))
def test_promptkit_commands_that_call_no_model_run(command, tmp_path):
    """Run in an empty folder, so what they write lands there."""
    argv = _runnable(command)
    done = subprocess.run([sys.executable, "-m", "promptkit", *argv], cwd=tmp_path, env=_env(tmp_path),
                          capture_output=True, text=True, timeout=300)  # fmt: skip
    assert done.returncode == 0, f"{command.where}: `{' '.join(command.argv)}` exits {done.returncode}: {done.stderr}"
    assert done.stdout.strip()


# ---------------------------------------------------------------- evals scripts


@functools.cache
def _help(script: str) -> str:
    done = subprocess.run([sys.executable, script, "--help"], cwd=ROOT, env=_env(), capture_output=True,
                          text=True, timeout=300)  # fmt: skip
    assert done.returncode == 0, f"{script} --help exits {done.returncode}: {done.stderr}"
    return done.stdout


@pytest.mark.parametrize("command", _of("evals"), ids=_ids(_of("evals")))
def test_evals_scripts_take_the_flags_shown(command):
    script = command.argv[1]
    assert (ROOT / script).is_file(), f"{command.where}: no script {script}"
    listed = set(re.findall(r"(?<![\w-])--[\w-]+", _help(script)))
    flags = [arg.split("=", 1)[0] for arg in command.argv[2:] if arg.startswith("--")]
    assert flags, f"{command.where}: {script} with no flags"
    missing = [flag for flag in flags if flag not in listed]
    assert not missing, f"{command.where}: {script} takes no {', '.join(missing)}"


# ---------------------------------------------------------------- make, pip, apt-get


@pytest.mark.parametrize("command", _of("make"), ids=_ids(_of("make")))
def test_make_targets_exist(command):
    makefile = (ROOT / "Makefile").read_text()
    for target in command.argv[1:]:
        assert re.search(rf"^{re.escape(target)}:", makefile, re.MULTILINE), f"{command.where}: no target {target}"


def _install_lines() -> set[tuple[str, ...]]:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Install\n", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```bash\n(.*?)```", section, re.DOTALL)
    return {tuple(shlex.split(line)) for block in blocks for line in block.splitlines() if line.strip()}


INSTALLS = _of("pip") + _of("apt-get")


@pytest.mark.parametrize("command", INSTALLS, ids=_ids(INSTALLS))
def test_install_lines_are_the_readmes_which_make_runs(command):
    assert command.argv in _install_lines(), f"{command.where}: not a line of the README's Install section"


# ---------------------------------------------------------------- links


def _anchor(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def _anchors(page: Path) -> set[str]:
    text = re.sub(r"```.*?```", "", page.read_text(), flags=re.DOTALL)
    return {_anchor(h) for h in re.findall(r"^#+ (.+)$", text, re.MULTILINE)}


@pytest.mark.parametrize("page", PAGES, ids=[p.relative_to(ROOT).as_posix() for p in PAGES])
def test_links_between_the_pages_resolve(page):
    text = re.sub(r"```.*?```", "", page.read_text(), flags=re.DOTALL)
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if re.match(r"[a-z]+:", target):
            continue
        file, _, anchor = target.partition("#")
        linked = (page.parent / file).resolve() if file else page
        assert linked.is_file(), f"{page.name}: the link {target} names no file"
        if anchor:
            assert anchor in _anchors(linked), f"{page.name}: the link {target} names no heading of {file or page.name}"


def test_every_docs_page_is_linked_from_the_readme():
    readme = (ROOT / "README.md").read_text()
    for page in sorted((ROOT / "docs").glob("*.md")):
        assert f"(docs/{page.name})" in readme, f"the README's table of pages does not link docs/{page.name}"
