"""What the benchmark reports: its tables, its targets with their verdicts, the README's summary."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from backbones_tutorial.bench.results import WORKLOADS
from backbones_tutorial.bench.verdicts import FASTER, SLOWER, UNDECIDED, WITHIN
from backbones_tutorial.display import Table, fmt_int
from backbones_tutorial.extractors.methods import runs_only_needed_layers

if TYPE_CHECKING:
    from backbones_tutorial.bench.results import BenchSettings, Results

__all__ = ["OUTCOME", "Target", "agreement", "fmt_mib", "format_interval", "format_targets", "markdown_summary",
           "results_table", "rounds_text", "targets", "verdict_text", "verdicts_of"]



def format_interval(lo_hi) -> str:
    """``"1.014-1.031"``: rounded outwards, so the interval shown contains the interval decided on
    (an upper end of 1.0302 shows as 1.031, not as a 1.030 that would look within 3 %)."""
    lo, hi = lo_hi
    return f"{math.floor(lo * 1000 + 1e-9) / 1000:.3f}-{math.ceil(hi * 1000 - 1e-9) / 1000:.3f}"


def results_table(results: Results, rerun: Results | None = None) -> Table:
    """One row per workload and method: median ratio, its 95 % interval, verdict (with a
    ``rerun``'s where it differs), ms, parameters, memory."""
    again = _rerun_verdicts(results, rerun)
    rows = []
    for workload, methods in results.workloads.items():
        layers = WORKLOADS[workload]
        bare_ms = results.bare_ms[workload]
        rows.append((workload, "bare forward", "1.000", "", "", f"{bare_ms:.1f}", "",
                     fmt_mib(results.bare_peak_memory_mib.get(workload))))
        for m in methods:
            mark = "" if runs_only_needed_layers(m.method, layers) else " *"
            verdict = verdict_text(m.verdict, m.settled, results.settings) + again.get(f"{workload} / {m.method}", "")
            rows.append(("", m.method + mark, f"{m.ratio_median:.3f}", format_interval(m.ratio_interval), verdict,
                         f"{bare_ms * m.ratio_median:.1f}", fmt_int(m.params), fmt_mib(m.peak_memory_mib)))
    s = results.settings
    caption = (f"{s.device}, {s.threads} thread(s), input {s.batch} x 3 x {s.size} x {s.size}, {rounds_text(results)}; "
               f"ratio: the mean of the blocks' median ratios; verdict: its 95 % t interval against "
               f"1 +- {s.tolerance:.0%}; ms: the bare forward's median times "
               "the ratio; * = computes layers past the deepest one requested")
    return Table(("workload", "method", "time / bare", "95 % interval", "verdict", "ms", "parameters", "peak MiB"),
                 tuple(rows), caption)


def _rerun_verdicts(results: Results, rerun: Results | None) -> dict[str, str]:
    """``{comparison: " (rerun: slower)"}`` for each comparison whose verdict the rerun did not reach."""
    if rerun is None:
        return {}
    return {name: f" (rerun: {b})" for name, a, b in agreement(results, rerun) if a != b}


def rounds_text(results: Results) -> str:
    """``"5 to 12 blocks (fresh processes) of 20 interleaved rounds"``: the least and most blocks
    any comparison took."""
    counts = [len(c.block_ratios) for c in results.comparisons().values()]
    lo, hi = min(counts), max(counts)
    where = "in one process: quick" if results.settings.quick else "fresh processes"
    blocks = f"{lo} blocks" if lo == hi else f"{lo} to {hi} blocks"
    return f"{blocks} ({where}) of {results.settings.rounds} interleaved rounds"


def verdict_text(verdict: str, settled: bool, settings: BenchSettings) -> str:
    """The verdict as printed: a quick run's is marked as not meaningful, an unsettled one as such."""
    if settings.quick:
        return f"({verdict}: quick, not meaningful)"
    return verdict if settled else f"{verdict} (budget spent)"


def fmt_mib(value: float | None) -> str:
    """A peak memory in MiB as the tables show it: one decimal, or "n/a" where none was measured."""
    return "n/a" if value is None else f"{value:.1f}"


@dataclass(frozen=True)
class Target:
    """One of the benchmark's targets: a ratio expected to be within ``tolerance`` of 1, with the
    verdict that the interval of its median gave."""

    workload: str | None  # None: the from-scratch ResNet34 against torchvision's
    label: str  # the method, or "from-scratch ResNet34"
    ratio: float  # median over rounds of the per-round ratio to the reference
    interval: tuple[float, float]
    tolerance: float
    verdict: str  # one of verdicts.VERDICTS
    settled: bool

    @property
    def met(self) -> bool:
        """Met only when the whole interval lies within the tolerance."""
        return self.verdict == WITHIN

    @property
    def subject(self) -> str:
        """What is compared: ``"children (layer2 only)"``, ``"from-scratch ResNet34"``."""
        return self.label if self.workload is None else f"{self.label} ({self.workload})"

    @property
    def text(self) -> str:
        """The target as a sentence: ``"layer2 only: fx within 3% of bare (1.018, 1.010-1.025)"``."""
        figures = f"({self.ratio:.3f}, {format_interval(self.interval)})"
        if self.workload is None:
            return f"{self.label} within {self.tolerance:.0%} of torchvision's {figures}"
        return f"{self.workload}: {self.label} within {self.tolerance:.0%} of bare {figures}"


def targets(results: Results) -> list[Target]:
    """The targets: methods that run only the needed layers, and the from-scratch ResNet34, each
    expected within the run's tolerance of its reference."""
    tol = results.settings.tolerance
    checks = [
        Target(workload, m.method, m.ratio_median, m.ratio_interval, tol, m.verdict, m.settled)
        for workload, methods in results.workloads.items()
        for m in methods
        if runs_only_needed_layers(m.method, WORKLOADS[workload])
    ]
    s = results.scratch_vs_torchvision
    checks.append(Target(None, "from-scratch ResNet34", s["ratio_median"], tuple(s["ratio_interval"]), tol,
                         s["verdict"], s["settled"]))
    return checks


OUTCOME = {WITHIN: "met", SLOWER: "missed (slower)", FASTER: "missed (faster)", UNDECIDED: "undecided"}


def format_targets(results: Results) -> list[str]:
    """One line per target: ``"met: all stages: fx within 3% of bare (1.009, 0.998-1.016)"``; a
    quick run says that its outcomes are not meaningful instead."""
    if results.settings.quick:
        return [f"not meaningful (quick smoke run): {t.text}" for t in targets(results)]
    return [f"{OUTCOME[t.verdict]}{'' if t.settled else ', budget spent'}: {t.text}" for t in targets(results)]


def markdown_summary(runs: list[Results], rerun: Results | None = None) -> str:
    """The results as the README reports them: one table per run, then the targets; with a
    ``rerun`` of the first run, its verdicts where they differ and how many agree."""
    out = []
    for k, run in enumerate(runs):
        s, m = run.settings, run.machine
        again = _rerun_verdicts(run, rerun if k == 0 else None)
        out.append(f"{s.device} ({m['cpu']}, {m['threads']} thread(s); torch {m['torch']}), input {s.batch} x 3 x "
                   f"{s.size} x {s.size}, {rounds_text(run)}; ratio: the mean of the blocks' median ratios, "
                   f"with its 95 % t interval; verdicts against 1 +- {s.tolerance:.0%}; ms: the bare forward's "
                   "median times the ratio:\n")
        out.append("| workload | method | time / bare forward | 95 % interval | verdict | ms | parameters kept "
                   "| peak MiB |")
        out.append("|---|---|---|---|---|---|---|---|")
        for workload, rows in run.workloads.items():
            bare_ms = run.bare_ms[workload]
            out.append(f"| {workload} | bare forward | 1.000 | | | {bare_ms:.1f} | | "
                       f"{fmt_mib(run.bare_peak_memory_mib.get(workload))} |")
            for r in rows:
                verdict = verdict_text(r.verdict, r.settled, s) + again.get(f"{workload} / {r.method}", "")
                out.append(f"| {workload} | {r.method} | {r.ratio_median:.3f} | {format_interval(r.ratio_interval)} | "
                           f"{verdict} | {bare_ms * r.ratio_median:.1f} | {fmt_int(r.params)} | "
                           f"{fmt_mib(r.peak_memory_mib)} |")
        out.append("")
        out += [f"- {line}" for line in format_targets(run)]
        if k == 0 and rerun is not None:
            both = agreement(run, rerun)
            out.append(f"- a second run of the same command reached the same verdict in "
                       f"{sum(a == b for _, a, b in both)} of {len(both)} comparisons")
        out.append("")
    return "\n".join(out)


def verdicts_of(results: Results) -> dict[str, str]:
    """Every comparison of a run and its verdict: ``{"all stages / fx": "within", ...}``."""
    return {name: c.verdict for name, c in results.comparisons().items()}


def agreement(a: Results, b: Results) -> list[tuple[str, str, str]]:
    """``(comparison, verdict in a, verdict in b)`` for every comparison of two runs, which must
    make the same comparisons (the same workloads and methods)."""
    va, vb = verdicts_of(a), verdicts_of(b)
    if list(va) != list(vb):
        raise ValueError(f"the two runs compare different things: {list(va)} and {list(vb)}")
    return [(k, va[k], vb[k]) for k in va]
