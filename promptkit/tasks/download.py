"""A task's data folder fetched from the web once (a task file's `download`), for tasks kept in their own layout.

Through pooch, which is made for exactly this: it downloads to a temporary file, checks the SHA-256 the task file
lists before moving it into place, and on a later call reads the file without the network when its hash still
matches. A file that fails its check is never used.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from promptkit.errors import PromptkitError
from promptkit.files.paths import state_dir
from promptkit.tasks.definition import FolderDownload, TaskDefinition


def download_folder(name: str, download: FolderDownload) -> Path:
    """Where a task's fetched folder lives: one per task name and file list, so an edited list never mixes copies."""
    digest = hashlib.sha256(json.dumps(download.model_dump(), sort_keys=True).encode()).hexdigest()[:12]
    return state_dir() / "data" / f"{name}-{digest}"


def fetched_folder(definition: TaskDefinition, *, progress: bool = True) -> Path:
    """The task's data folder, fetched into promptkit's folder when a file is missing or fails its check."""
    import pooch

    download = definition.download
    if download is None:
        raise PromptkitError(f"task {definition.name!r} has no download: give --data FOLDER")
    folder = download_folder(definition.name, download)
    for file, digest in download.files.items():
        url = download.url + file
        try:
            pooch.retrieve(url, known_hash=f"sha256:{digest}", fname=file, path=folder, progressbar=progress)
        except (OSError, ValueError) as exc:  # requests' errors are OSErrors; a failed hash check a ValueError
            reason = " ".join(str(exc).split())[:300]
            raise PromptkitError(
                f"task {definition.name!r}: cannot fetch {url}: {reason}; give --data FOLDER "
                f"({definition.data.expects or 'the folder holding ' + ', '.join(download.files)})"
            ) from None
    return folder
