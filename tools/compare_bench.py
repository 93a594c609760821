"""Do two benchmark runs reach the same verdicts? ``python tools/compare_bench.py A.json B.json``

Prints every comparison with both verdicts and exits with status 1 when any differs. Compares the
first run of each file (the CPU run, when the command measured one)."""

import sys

from backbones_tutorial.bench import results
from backbones_tutorial.bench.report import agreement


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__.splitlines()[0], file=sys.stderr)
        return 2
    a, b = (results.load_runs(path)[0] for path in argv)
    rows = agreement(a, b)
    width = max(len(name) for name, _, _ in rows)
    for name, va, vb in rows:
        print(f"{name:<{width}}  {va:<9}  {vb:<9}  {'same' if va == vb else 'DIFFERS'}")
    same = sum(va == vb for _, va, vb in rows)
    print(f"{same} of {len(rows)} verdicts agree")
    return 0 if same == len(rows) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
