"""``python -m backbones_tutorial bench``: what each extraction method costs, measured.

Latency is taken as a ratio to the bare forward (``methods.BareForward``), measured in blocks.
A block is a fresh process (``bench_worker``) that times interleaved rounds: each method once per
round, in a shuffled order, each call between two calls of the bare forward, with the thread
count fixed; a method's ratio in a round is its time over the mean of its two neighbours, so the
drifts of a shared machine cancel. A block's median ratio is one measurement; blocks are added
until Student's t interval of the mean of those medians is narrow enough for a two-sided verdict,
or the time budget is spent (``verdicts.blocked_runs``). Each method runs on its own copy of the
model. Peak memory is measured in a fresh subprocess per method and workload. The from-scratch
ResNet34 is compared with torchvision's the same way. A full run also computes the compatibility
matrix on ResNet50 (``compat``).
"""

from __future__ import annotations

import json
import os
import platform
import statistics
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import torch
import torchvision

from .bench_report import (  # noqa: F401  (the chapter and the command read them here)
    WORKLOADS,
    Target,
    agreement,
    fmt_mib,
    format_interval,
    format_targets,
    markdown_summary,
    rounds_text,
    table,
    targets,
    verdict_of,
    verdict_text,
)
from .bench_worker import SCRATCH, BlockSpec, bench_model, measure_block, measure_block_in_subprocess
from .checks import check_choice
from .freeze import count_params
from .memory import probe_in_subprocess
from .methods import METHODS, build_extractor
from .verdicts import (
    HALF_WIDTH,
    MAX_BLOCKS,
    TOLERANCE,
    Verdict,
    blocked_runs,
    judge_blocks,
    spread,
)

DRIFT_LAGS = (1, 6)  # neighbours, and a round of the all-stages workload (six methods) apart
COMPARISONS = [f"{w} / {m}" for w in WORKLOADS for m in METHODS] + [f"{SCRATCH} / ours"]


@dataclass
class Settings:
    device: str = "cpu"
    size: int = 224
    batch: int = 1
    rounds: int = 20  # interleaved rounds in each block (fresh process)
    blocks: int = 5  # the least number of blocks; more are added until the intervals are narrow
    max_blocks: int = MAX_BLOCKS
    budget_s: float = 900.0  # for all the blocks together (memory probes and matrix apart)
    warmup: int = 3
    threads: int = 1  # torch's intra-op threads, fixed for every timed call
    memory: bool = True
    quick: bool = False  # a smoke run: every code path once, blocks in this process, verdicts not meaningful
    tolerance: float = TOLERANCE
    half_width: float = HALF_WIDTH


@dataclass
class MethodResult:
    method: str
    ratio_median: float  # latency / bare forward latency: the mean over blocks of each block's median
    ratio_interval: tuple[float, float]  # Student's t 95 % interval of that mean (verdicts.block_interval)
    verdict: str  # within / slower / faster / undecided, for the tolerance of the settings
    rounds: int  # in all its blocks
    settled: bool  # False: the budget ran out before the interval was narrow enough
    ms_median: float  # median of its own calls (the tables show the bare forward's median x the ratio)
    params: int
    peak_memory_mib: float | None
    block_ratios: list[float] = field(default_factory=list)  # each block's median ratio, in the order run
    round_ratios: list[list[float]] = field(default_factory=list)  # every round's ratio, block by block


@dataclass(frozen=True)
class Comparison:
    """One comparison of a run, read the same way whether a workload's row or the from-scratch
    ResNet34's record holds it (``Results.comparisons``)."""

    ratio: float
    interval: tuple[float, float]
    verdict: str
    settled: bool
    block_ratios: list[float]
    round_ratios: list[list[float]]


@dataclass
class Results:
    settings: Settings
    machine: dict[str, str]
    workloads: dict[str, list[MethodResult]] = field(default_factory=dict)
    bare_ms: dict[str, float] = field(default_factory=dict)
    bare_peak_memory_mib: dict[str, float | None] = field(default_factory=dict)
    scratch_vs_torchvision: dict = field(default_factory=dict)
    compatibility: dict = field(default_factory=dict)  # compat.resnet50_matrix's record; {} if skipped
    # {workload: {lag: spread}}: how much the bare forward's own calls, DRIFT_LAGS reference calls
    # apart (one method call between each), differ (verdicts.spread)
    drift: dict[str, dict[str, float]] = field(default_factory=dict)
    # {workload: the bare forward's median ms in each block}: how the machine's speed moved between blocks
    bare_block_ms: dict[str, list[float]] = field(default_factory=dict)

    def result(self, method: str, workload: str) -> MethodResult:
        """The row of ``method`` in ``workload``."""
        check_choice(workload, self.workloads, "workload")
        rows = self.workloads[workload]
        check_choice(method, [r.method for r in rows], f"method of workload {workload!r}")
        return next(r for r in rows if r.method == method)

    def comparisons(self) -> dict[str, Comparison]:
        """Every comparison of the run, by name: ``"all stages / fx"``, ...,
        ``"from-scratch ResNet34 / ours"``."""
        out = {f"{w} / {r.method}": Comparison(r.ratio_median, r.ratio_interval, r.verdict, r.settled, r.block_ratios,
                                               r.round_ratios) for w, rows in self.workloads.items() for r in rows}
        s = self.scratch_vs_torchvision
        out[f"{SCRATCH} / ours"] = Comparison(s["ratio_median"], tuple(s["ratio_interval"]), s["verdict"], s["settled"],
                                              s["block_ratios"], s["round_ratios"])
        return out


def _machine(device: str) -> dict[str, str]:
    """What moves the numbers besides the code: versions, CPU, cores, threads (set by ``run``)."""
    info = {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "cpu": _cpu_name(),
        "cores": str(os.cpu_count()),
        "threads": str(torch.get_num_threads()),
    }
    if device == "cuda":
        info["gpu"] = torch.cuda.get_device_name()
    return info


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            return next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        return platform.processor() or platform.machine()


def peak_memories(pairs: list[tuple[str, str]], settings: Settings,
                  progress: Callable[[str], None] = lambda s: None) -> dict[tuple[str, str], float | None]:
    """Peak MiB of each ``(method, workload)`` pair: one fresh subprocess per pair, or one for
    all of them in a quick run."""
    args = (WORKLOADS, settings.device, settings.size, settings.batch)
    if settings.quick:
        progress(f"peak memory of {len(pairs)} extractors in one process (quick: not independent)")
        return dict(zip(pairs, probe_in_subprocess(pairs, *args), strict=True))
    out = {}
    for pair in pairs:
        progress(f"{pair[1]}: peak memory of {pair[0]} (fresh process)")
        out[pair] = probe_in_subprocess([pair], *args)[0]
    return out


def _row(method: str, v: Verdict, blocks: list[list[float]], ms: float, params: int,
         memory: float | None) -> MethodResult:
    return MethodResult(method, v.ratio, v.interval, v.verdict, v.rounds, v.settled, ms, params, memory,
                        list(v.block_ratios), blocks)


def _blocks(settings: Settings, progress: Callable[[str], None]
            ) -> tuple[dict[str, Verdict], dict[str, list[list[float]]], list[dict]]:
    """Blocks of every comparison until each is settled: the verdicts, every comparison's ratios
    block by block, and each block's record."""
    records: list[dict] = []

    def run_block(open_: list[str], k: int) -> dict[str, list[float]]:
        spec = BlockSpec(open_, k, settings.device, settings.size, settings.batch, settings.threads,
                         settings.warmup, settings.rounds)
        progress(f"block {k + 1}: {len(open_)} comparisons, {settings.rounds} rounds"
                 + (" (quick: in this process)" if settings.quick else " in a fresh process"))
        record = measure_block(spec) if settings.quick else measure_block_in_subprocess(spec)
        records.append(record)
        return record["ratios"]

    blocks = blocked_runs(run_block, COMPARISONS, settings.blocks, settings.max_blocks, settings.budget_s,
                          tolerance=settings.tolerance, width=settings.half_width, progress=progress)
    verdicts = {c: judge_blocks(b, settings.tolerance, settings.half_width) for c, b in blocks.items()}
    return verdicts, blocks, records


def _pooled(records: list[dict], kind: str, key: str) -> list[float]:
    return [t for r in records for t in r[kind].get(key, [])]


def _drift(records: list[dict], section: str) -> dict[str, float]:
    """The median over blocks of ``spread`` of the reference's calls, at each of DRIFT_LAGS."""
    times = [r["reference_seconds"][section] for r in records if section in r["reference_seconds"]]
    return {str(lag): statistics.median(spread(t, lag) for t in times)
            for lag in DRIFT_LAGS if all(lag < len(t) for t in times)}


def run(settings: Settings, progress: Callable[[str], None] = lambda s: None, matrix: bool = True) -> Results:
    """Time, probe and (with ``matrix``) check the compatibility of every method; see the module."""
    torch.set_num_threads(settings.threads)
    results = Results(settings, _machine(settings.device))
    pairs = [(m, w) for w in WORKLOADS for m in ("bare", *METHODS)]
    memory = peak_memories(pairs, settings, progress) if settings.memory else dict.fromkeys(pairs)
    verdicts, blocks, records = _blocks(settings, progress)
    model = bench_model(settings.device)
    for workload, layers in WORKLOADS.items():
        results.bare_ms[workload] = statistics.median(_pooled(records, "reference_seconds", workload)) * 1000
        results.bare_peak_memory_mib[workload] = memory["bare", workload]
        results.drift[workload] = _drift(records, workload)
        results.bare_block_ms[workload] = [statistics.median(r["reference_seconds"][workload]) * 1000
                                           for r in records if workload in r["reference_seconds"]]
        results.workloads[workload] = [
            _row(m, verdicts[f"{workload} / {m}"], blocks[f"{workload} / {m}"],
                 statistics.median(_pooled(records, "seconds", f"{workload} / {m}")) * 1000,
                 count_params(build_extractor(m, model, layers)), memory[m, workload])
            for m in METHODS]
    v = verdicts[f"{SCRATCH} / ours"]
    results.scratch_vs_torchvision = {
        "ratio_median": v.ratio, "ratio_interval": list(v.interval), "verdict": v.verdict, "rounds": v.rounds,
        "settled": v.settled, "block_ratios": list(v.block_ratios), "round_ratios": blocks[f"{SCRATCH} / ours"],
        "ours_ms": statistics.median(_pooled(records, "seconds", f"{SCRATCH} / ours")) * 1000,
        "torchvision_ms": statistics.median(_pooled(records, "reference_seconds", SCRATCH)) * 1000}
    if matrix:
        from . import compat

        if settings.quick:  # one method, a small input, no compile and no ONNX (the tests prove those)
            tools = [t for t in compat.TOOLS if not t.startswith("compile") and t != "onnx"]
            results.compatibility = compat.resnet50_matrix((45, 39), ["children"], tools, progress)
        else:
            results.compatibility = compat.resnet50_matrix(progress=progress)
    return results


def to_json(runs: list[Results]) -> str:
    return json.dumps([asdict(r) for r in runs], indent=2) + "\n"


def from_dict(d: dict) -> Results:
    """Rebuild ``Results`` from its JSON form (see ``to_json``)."""
    workloads = {
        w: [MethodResult(**{**m, "ratio_interval": tuple(m["ratio_interval"])}) for m in methods]
        for w, methods in d["workloads"].items()
    }
    return Results(Settings(**d["settings"]), d["machine"], workloads, d["bare_ms"],
                   d["bare_peak_memory_mib"], d["scratch_vs_torchvision"], d["compatibility"], d["drift"],
                   d["bare_block_ms"])


def load(path) -> list[Results]:
    """The runs stored in a JSON file written by ``bench``."""
    with open(path) as f:
        data = json.load(f)
    if not isinstance(data, list) or not all(isinstance(r, dict) and "workloads" in r for r in data):
        raise ValueError(f"{path} is not a results file written by 'python -m backbones_tutorial bench'")
    return [from_dict(r) for r in data]


