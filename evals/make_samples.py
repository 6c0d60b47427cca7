"""Writes the task samples promptkit ships (promptkit/tasks/samples/), so its first run needs no network.

    python evals/make_samples.py --zhao ../shared/data/zhao

The sst2 sample is what `promptkit demo` scores: the first 150 reviews of Zhao et al.'s 300-review test subsample
(the task's standard set, in its order) and the first 500 lines of their training file as the pool demonstrations are
drawn from. Each file's SHA-256, and its source's, go in SOURCE.json; tests/test_samples.py derives the files again
from the same sources and compares them byte for byte.
"""

from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path

from promptkit.runs.demo import LIMIT as DEMO_LIMIT
from promptkit.tasks import read_definition
from promptkit.tasks.samples import SAMPLES_DIR, SOURCE_FILE

SST2_TEST_REVIEWS = DEMO_LIMIT  # what the demo scores by default
SST2_POOL_LINES = 500


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sst2_sample(zhao_sst2: Path) -> tuple[dict[str, bytes], dict]:
    """The sample's files {name: bytes} and its SOURCE.json, from Zhao et al.'s data/sst2 folder."""
    definition = read_definition("sst2")
    assert definition.download is not None and definition.data.subsample is not None
    test_bytes = (zhao_sst2 / "stsa.binary.test").read_bytes()
    train_bytes = (zhao_sst2 / "stsa.binary.train").read_bytes()
    for name, data in (("stsa.binary.test", test_bytes), ("stsa.binary.train", train_bytes)):
        if sha256(data) != definition.download.files[name]:
            raise SystemExit(f"{zhao_sst2 / name}: not the file the sst2 task lists (its SHA-256 differs)")
    test_lines = test_bytes.decode("utf-8").splitlines(keepends=True)
    drawn = definition.data.subsample.indices(len(test_lines))[:SST2_TEST_REVIEWS]
    files = {
        "stsa.binary.test": "".join(test_lines[i] for i in drawn).encode("utf-8"),
        "stsa.binary.train": "".join(train_bytes.decode("utf-8").splitlines(keepends=True)[:SST2_POOL_LINES]).encode(),
    }
    source = {
        "task": "sst2",
        "source": definition.download.url,
        "license": "Apache-2.0 (the repository); SST-2 itself: Socher et al. (2013)",
        "files": {
            "stsa.binary.test": {
                "sha256": sha256(files["stsa.binary.test"]),
                "from": "stsa.binary.test",
                "from_sha256": definition.download.files["stsa.binary.test"],
                "lines": f"the first {SST2_TEST_REVIEWS} of the task's standard subsample "
                f"(RandomState({definition.data.subsample.seed}).choice({len(test_lines)}, "
                f"{definition.data.subsample.size})), in that order",
                "positions": drawn,
            },
            "stsa.binary.train": {
                "sha256": sha256(files["stsa.binary.train"]),
                "from": "stsa.binary.train",
                "from_sha256": definition.download.files["stsa.binary.train"],
                "lines": f"the first {SST2_POOL_LINES} lines",
            },
        },
    }
    return files, source


def write_sample(folder: Path, files: dict[str, bytes], source: dict) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (folder / name).write_bytes(data)
    (folder / SOURCE_FILE).write_text(json.dumps(source, indent=1) + "\n", encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--zhao", type=Path, required=True, help="Zhao et al.'s data folder (holding sst2/)")
    parser.add_argument("--out", type=Path, default=SAMPLES_DIR, help="where the samples go (default: the package's)")
    args = parser.parse_args()
    files, source = sst2_sample(args.zhao / "sst2")
    write_sample(args.out / "sst2", files, source)
    print(f"sst2: {', '.join(f'{n} {len(d):,} bytes' for n, d in files.items())} -> {args.out / 'sst2'}")


if __name__ == "__main__":
    main()
