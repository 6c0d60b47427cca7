"""A task's `download`: its data folder fetched once over HTTP, hash-checked, then read without the network.

The server is a real one on loopback serving a copy of Zhao et al.'s SST-2 folder; the task file is the shipped
sst2 with its address pointed there.
"""

from __future__ import annotations

import functools
import re
import shutil
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from promptkit.errors import PromptkitError
from promptkit.tasks import load_task, read_definition
from promptkit.tasks.download import download_folder
from promptkit.tasks.files import SHIPPED_DIR, load_train


@pytest.fixture
def served(tmp_path, shared_data):
    """(folder served, the paths requested): a loopback server over a copy of the SST-2 folder."""
    folder = tmp_path / "served"
    shutil.copytree(shared_data / "zhao" / "sst2", folder)
    requested: list[str] = []

    class Handler(SimpleHTTPRequestHandler):
        def do_GET(self):
            requested.append(self.path)
            super().do_GET()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Handler, directory=str(folder)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield folder, requested, f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


def _task_file(tmp_path: Path, url: str) -> Path:
    text = (SHIPPED_DIR / "sst2.yaml").read_text(encoding="utf-8")
    text, count = re.subn(r"(?m)^  url: \S+$", f"  url: {url}", text)
    assert count == 1
    path = tmp_path / "task" / "sst2_web.yaml"
    path.parent.mkdir()
    path.write_text(text, encoding="utf-8")
    return path


def test_a_task_fetches_its_folder_once_and_reads_it_as_the_folder_data_names(tmp_path, served, shared_data,
                                                                              monkeypatch):  # fmt: skip
    monkeypatch.setenv("PROMPTKIT_HOME", str(tmp_path / "home"))
    _, requested, url = served
    task_path = _task_file(tmp_path, url)

    fetched = load_task(str(task_path))
    assert sorted(requested) == ["/stsa.binary.test", "/stsa.binary.train"]
    given = load_task("sst2", shared_data / "zhao" / "sst2")
    assert len(fetched.examples) == 300 and fetched.examples == given.examples
    assert load_train(str(task_path), fetched.folder).examples == load_train("sst2", given.folder).examples

    again = load_task(str(task_path))  # the files are there and pass their check: no request
    assert again.examples == fetched.examples and len(requested) == 2
    definition = read_definition(str(task_path))
    assert download_folder("sst2_web", definition.download).parent == tmp_path / "home" / "data"


def test_a_file_that_fails_its_hash_is_refused_and_not_kept(tmp_path, served, monkeypatch):
    monkeypatch.setenv("PROMPTKIT_HOME", str(tmp_path / "home"))
    folder, _, url = served
    with (folder / "stsa.binary.test").open("a", encoding="utf-8") as f:
        f.write("1 one line more than the reference\n")
    task_path = _task_file(tmp_path, url)
    with pytest.raises(PromptkitError) as error:
        load_task(str(task_path))
    message = str(error.value)
    assert "\n" not in message and f"cannot fetch {url}stsa.binary.test" in message
    assert "SHA256" in message.upper() and "give --data FOLDER" in message
    definition = read_definition(str(task_path))
    assert not (download_folder(definition.name, definition.download) / "stsa.binary.test").exists()


def test_an_unreachable_address_is_one_line_naming_it(tmp_path, monkeypatch):
    monkeypatch.setenv("PROMPTKIT_HOME", str(tmp_path / "home"))
    import socket

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    task_path = _task_file(tmp_path, f"http://127.0.0.1:{port}/")
    with pytest.raises(PromptkitError, match=rf"^task 'sst2': cannot fetch http://127.0.0.1:{port}/stsa.binary.test: "):
        load_task(str(task_path))


@pytest.mark.parametrize(
    "change, fault",
    [
        ({"url": "ftp://example.org/data/"}, "download.url"),
        ({"url": "https://example.org/data"}, "download.url"),
        ({"files": {"stsa.binary.test": "00"}}, "is not a SHA-256"),
        ({"files": {"../secret": "0" * 64}}, "is not a plain file name"),
        ({"files": {"stsa.binary.test": "0" * 64}}, "download.files lacks stsa.binary.train (train.in_folder)"),
    ],
)
def test_a_bad_download_field_is_one_line_naming_it(tmp_path, change, fault):
    import yaml

    data = yaml.safe_load((SHIPPED_DIR / "sst2.yaml").read_text(encoding="utf-8"))
    data["download"].update(change)
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    with pytest.raises(PromptkitError) as error:
        read_definition(str(path))
    assert "\n" not in str(error.value) and fault in str(error.value) and str(path) in str(error.value)
