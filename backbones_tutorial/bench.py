"""``python -m backbones_tutorial bench``: what each extraction method costs, measured.

Latency is taken as a ratio to the bare forward (``methods.BareForward``) timed in the same round:
every round times each method once, in a shuffled order, each call between two calls of the
bare forward, with the thread count fixed; a method's ratio in a round is its time over the mean
of its two neighbours, so the drifts of a shared machine cancel. Rounds are added until the
bootstrap interval of every median ratio is narrow enough for a two-sided verdict, or the time
budget is spent (``verdicts``). Peak memory is measured in a fresh subprocess per method
and workload. The from-scratch ResNet34 is compared with torchvision's the same way. A full run
also computes the compatibility matrix on ResNet50 (``compat``).
"""

from __future__ import annotations

import functools
import json
import os
import platform
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import torch
import torchvision
from torch import nn

from .bench_report import (  # noqa: F401  (the chapter and the command read them here)
    WORKLOADS,
    Target,
    agreement,
    fmt_mib,
    format_targets,
    markdown_summary,
    rounds_text,
    table,
    targets,
    verdict_of,
    verdict_text,
)
from .checks import check_choice
from .freeze import count_params
from .memory import probe_in_subprocess
from .methods import METHODS, BareForward, HookExtractor, build_extractor
from .resnet import resnet34
from .verdicts import (
    HALF_WIDTH,
    TOLERANCE,
    Verdict,
    interleaved_rounds,
    judge,
    spread,
)

DRIFT_LAGS = (1, 6)  # neighbours, and a round of the all-stages workload (six methods) apart
# Shares of budget_s, in the order they run; what one leaves unspent passes to the next.
BUDGET_SHARE = {"all stages": 0.55, "layer2 only": 0.25, "from-scratch ResNet34": 0.2}


@dataclass
class Settings:
    device: str = "cpu"
    size: int = 224
    batch: int = 1
    rounds: int = 30  # the least number of rounds; more are added until the intervals are narrow
    max_rounds: int = 400
    budget_s: float = 900.0  # for all the timing rounds together (memory probes and matrix apart)
    warmup: int = 3
    threads: int = 1  # torch's intra-op threads, fixed for every timed call
    memory: bool = True
    quick: bool = False  # a smoke run: every code path once, verdicts not meaningful
    tolerance: float = TOLERANCE
    half_width: float = HALF_WIDTH


@dataclass
class MethodResult:
    method: str
    ratio_median: float  # latency / bare forward latency, median over rounds
    ratio_interval: tuple[float, float]  # 95 % bootstrap interval of that median
    verdict: str  # within / slower / faster / undecided, for the tolerance of the settings
    rounds: int
    settled: bool  # False: the budget ran out before the interval was narrow enough
    ms_median: float
    params: int
    peak_memory_mib: float | None


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

    def result(self, method: str, workload: str) -> MethodResult:
        """The row of ``method`` in ``workload``."""
        check_choice(workload, self.workloads, "workload")
        rows = self.workloads[workload]
        check_choice(method, [r.method for r in rows], f"method of workload {workload!r}")
        return next(r for r in rows if r.method == method)


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


def timed_calls(candidates: dict[str, Callable[[], object]], device: str) -> Callable[[str], float]:
    """``measure(name)``: the seconds of one call of ``candidates[name]``, CUDA synchronised
    before and after as ``torch.utils.benchmark.Timer`` does.

    Not ``Timer.timeit(1)`` itself: it makes two untimed warm-up calls before every timed one,
    which tripled the cost of a round of single calls. The thread count is fixed by ``run``."""
    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)

    def measure(name: str) -> float:
        fn = candidates[name]
        sync()
        start = time.perf_counter()
        fn()
        sync()
        return time.perf_counter() - start
    return measure


def _verdicts(candidates: dict[str, Callable[[], object]], reference: str, settings: Settings, budget_s: float,
              progress: Callable[[str], None]) -> tuple[dict[str, Verdict], dict[str, float], float, dict[str, float]]:
    """Interleaved rounds of ``candidates``; each one's verdict against ``reference``, the median
    ms of every candidate, the seconds the rounds took and the reference's drift at DRIFT_LAGS."""
    compared = [n for n in candidates if n != reference]
    start = time.perf_counter()
    rounds = interleaved_rounds(
        candidates, reference, compared, timed_calls(candidates, settings.device), settings.rounds,
        settings.max_rounds, budget_s, tolerance=settings.tolerance, width=settings.half_width,
        warmup=settings.warmup, progress=progress)
    verdicts = {n: judge(rounds.ratios[n], settings.tolerance, settings.half_width) for n in compared}
    ms = {n: statistics.median(t) * 1000 for n, t in rounds.seconds.items()}
    drift = {str(lag): spread(rounds.seconds[reference], lag) for lag in DRIFT_LAGS
             if lag < len(rounds.seconds[reference])}
    return verdicts, ms, time.perf_counter() - start, drift


def _input(settings: Settings) -> torch.Tensor:
    g = torch.Generator().manual_seed(0)
    return torch.randn(settings.batch, 3, settings.size, settings.size, generator=g).to(settings.device)


def _model(settings: Settings) -> torchvision.models.ResNet:
    torch.manual_seed(0)
    return torchvision.models.resnet50(weights=None).eval().to(settings.device)


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


def _row(method: str, v: Verdict, ms: float, params: int, memory: float | None) -> MethodResult:
    return MethodResult(method, v.ratio, v.interval, v.verdict, v.rounds, v.settled, ms, params, memory)


def _progress_in(progress: Callable[[str], None], workload: str, step: str) -> None:
    progress(f"{workload}: {step}")


def run(settings: Settings, progress: Callable[[str], None] = lambda s: None, matrix: bool = True) -> Results:
    """Time, probe and (with ``matrix``) check the compatibility of every method; see the module."""
    torch.set_num_threads(settings.threads)
    results = Results(settings, _machine(settings.device))
    x = _input(settings)
    spare = 0.0  # budget seconds left unspent by the sections before

    def budget(section: str) -> float:
        return BUDGET_SHARE[section] * settings.budget_s + spare

    pairs = [(m, w) for w in WORKLOADS for m in ("bare", *METHODS)]
    memory = peak_memories(pairs, settings, progress) if settings.memory else dict.fromkeys(pairs)
    for workload, layers in WORKLOADS.items():
        model = _model(settings)
        extractors: dict[str, nn.Module] = {"bare": BareForward(model, layers)}
        extractors |= {m: build_extractor(m, model, layers).eval() for m in METHODS}
        calls: dict[str, Callable[[], object]] = {name: functools.partial(e, x) for name, e in extractors.items()}
        progress(f"{workload}: timing {len(calls)} extractors, interleaved rounds")
        with torch.inference_mode():
            allowed = budget(workload)
            verdicts, ms, spent, results.drift[workload] = _verdicts(
                calls, "bare", settings, allowed, functools.partial(_progress_in, progress, workload))
        spare = max(0.0, allowed - spent)
        results.bare_ms[workload] = ms["bare"]
        results.bare_peak_memory_mib[workload] = memory["bare", workload]
        results.workloads[workload] = [
            _row(m, verdicts[m], ms[m], count_params(extractors[m]), memory[m, workload]) for m in METHODS]
        hooks = extractors["hooks"]
        if isinstance(hooks, HookExtractor):
            hooks.remove()

    progress("from-scratch ResNet34 against torchvision's")
    torch.manual_seed(0)
    tv = torchvision.models.resnet34(weights=None).eval().to(settings.device)
    ours = resnet34().eval().to(settings.device)
    ours.load_state_dict(tv.state_dict(), strict=True)
    with torch.inference_mode():
        verdicts, ms, _, _ = _verdicts({"torchvision": lambda: tv(x), "ours": lambda: ours(x)}, "torchvision",
                                    settings, budget("from-scratch ResNet34"),
                                    functools.partial(_progress_in, progress, "ResNet34"))
    v = verdicts["ours"]
    results.scratch_vs_torchvision = {
        "ratio_median": v.ratio, "ratio_interval": list(v.interval), "verdict": v.verdict, "rounds": v.rounds,
        "settled": v.settled, "ours_ms": ms["ours"], "torchvision_ms": ms["torchvision"]}
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
                   d["bare_peak_memory_mib"], d["scratch_vs_torchvision"], d["compatibility"], d["drift"])


def load(path) -> list[Results]:
    """The runs stored in a JSON file written by ``bench``."""
    with open(path) as f:
        data = json.load(f)
    if not isinstance(data, list) or not all(isinstance(r, dict) and "workloads" in r for r in data):
        raise ValueError(f"{path} is not a results file written by 'python -m backbones_tutorial bench'")
    return [from_dict(r) for r in data]


