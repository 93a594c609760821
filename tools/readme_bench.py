"""Rewrite the benchmark block of README.md from book/data/bench.json (``make readme``)."""

import pathlib
import re

from backbones_tutorial.bench import report, results

ROOT = pathlib.Path(__file__).resolve().parents[1]
START, END = "<!-- bench:start -->", "<!-- bench:end -->"


def main() -> None:
    readme = ROOT / "README.md"
    data = ROOT / "book" / "data"
    rerun = results.load_runs(data / "bench-rerun.json")[0]
    summary = report.markdown_summary(results.load_runs(data / "bench.json"), rerun=rerun)
    block = f"{START}\n{summary}{END}"
    text, n = re.subn(re.escape(START) + ".*?" + re.escape(END), lambda _: block, readme.read_text(), flags=re.S)
    if n != 1:
        raise SystemExit(f"README.md needs exactly one {START} ... {END} block, found {n}")
    readme.write_text(text)


if __name__ == "__main__":
    main()
