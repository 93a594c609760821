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

import os
import platform
import statistics
from collections.abc import Callable

import torch
import torchvision

from backbones_tutorial.bench.memory import probe_in_subprocess
from backbones_tutorial.bench.results import COMPARISONS, SCRATCH, WORKLOADS, BenchSettings, MethodResult, Results
from backbones_tutorial.bench.verdicts import (
    Verdict,
    blocked_runs,
    judge_blocks,
    spread,
)
from backbones_tutorial.bench.worker import BlockSpec, bench_model, measure_block, measure_block_in_subprocess
from backbones_tutorial.extractors.methods import METHODS, build_extractor
from backbones_tutorial.params import count_params

__all__ = ["DRIFT_LAGS", "peak_memories", "run_benchmark"]

DRIFT_LAGS = (1, 6)  # neighbours, and a round of the all-stages workload (six methods) apart


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


def peak_memories(pairs: list[tuple[str, str]], settings: BenchSettings,
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


def _blocks(settings: BenchSettings, progress: Callable[[str], None]
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


def run_benchmark(settings: BenchSettings, progress: Callable[[str], None] = lambda s: None,
                  matrix: bool = True) -> Results:
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
        from backbones_tutorial.bench import compat

        if settings.quick:  # one method, a small input, no compile and no ONNX (the tests prove those)
            tools = [t for t in compat.TOOLS if not t.startswith("compile") and t != "onnx"]
            results.compatibility = compat.resnet50_matrix((45, 39), ["children"], tools, progress)
        else:
            results.compatibility = compat.resnet50_matrix(progress=progress)
    return results
