"""Re-execute chapters in place, top to bottom, and store their outputs (``make execute``).

Runs each notebook in a fresh kernel from its own folder, records no timing metadata, and
fails on the first cell error, so what is committed is what strict nbval will reproduce.
"""

from __future__ import annotations

import pathlib
import sys
import time

import nbformat
from nbclient import NotebookClient


def execute(path: pathlib.Path) -> float:
    nb = nbformat.read(path, as_version=4)
    start = time.perf_counter()
    client = NotebookClient(nb, timeout=300, kernel_name="python3", record_timing=False,
                            resources={"metadata": {"path": str(path.parent)}})
    client.execute()
    for cell in nb.cells:
        cell.metadata.pop("execution", None)
    nbformat.validate(nb)
    nbformat.write(nb, path)
    return time.perf_counter() - start


def main(paths: list[str]) -> int:
    targets = [pathlib.Path(p) for p in paths] or sorted(pathlib.Path("book").glob("[0-9]*.ipynb"))
    for path in targets:
        print(f"{path}: executed in {execute(path):.1f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
