"""``python -m backbones_tutorial bench``: what each extraction method costs, measured.

Latency is taken as a ratio to the bare forward (``methods.BareForward``) measured in the same
round: every round times each method once, in a shuffled order, so slow drifts of a shared
machine hit all methods alike; the headline is the median ratio over rounds. Peak memory is
measured in a fresh subprocess per method and workload. The from-scratch ResNet34 is compared
with torchvision's the same way.
"""

from __future__ import annotations

import functools
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import torch
import torchvision
from torch import nn

from .checks import check_choice
from .display import Table, fmt_int
from .freeze import count_params
from .methods import METHODS, BareForward, HookExtractor, build_extractor, compatibility, runs_only_needed_layers
from .resnet import STAGES, resnet34

WORKLOADS = {"all stages": list(STAGES), "layer2 only": ["layer2"]}
TOLERANCE = 0.03  # how far a median ratio may lie from its reference for a target to be met


@dataclass
class Settings:
    device: str = "cpu"
    size: int = 224
    batch: int = 1
    rounds: int = 30
    warmup: int = 3
    memory: bool = True


@dataclass
class MethodResult:
    method: str
    ratio_median: float  # latency / bare forward latency, median over rounds
    ratio_iqr: tuple[float, float]  # 25th and 75th percentiles of the per-round ratio
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
    scratch_vs_torchvision: dict[str, float] = field(default_factory=dict)
    compatibility: dict[str, dict[str, bool]] = field(default_factory=dict)

    def result(self, method: str, workload: str) -> MethodResult:
        """The row of ``method`` in ``workload``."""
        check_choice(workload, self.workloads, "workload")
        rows = self.workloads[workload]
        check_choice(method, [r.method for r in rows], f"method of workload {workload!r}")
        return next(r for r in rows if r.method == method)


def _machine(device: str) -> dict[str, str]:
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


def _timer(device: str) -> Callable[[Callable[[], object]], float]:
    def run(fn: Callable[[], object]) -> float:
        if device == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        fn()
        if device == "cuda":
            torch.cuda.synchronize()
        return time.perf_counter() - start
    return run


def _quantile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[int(q * 100) - 1]


def interleaved_ratios(
    candidates: dict[str, Callable[[], object]], reference: str, rounds: int, warmup: int, device: str,
    progress: Callable[[str], None] = lambda s: None,
) -> dict[str, tuple[list[float], list[float]]]:
    """Per-round (ratio to ``reference``, seconds) for each candidate.

    Each round runs every candidate once in a freshly shuffled (seeded) order, so that no method
    always follows the same neighbour (whose caches and allocations it would inherit).
    """
    timer, names = _timer(device), list(candidates)
    for _ in range(warmup):
        for name in names:
            candidates[name]()
    seconds: dict[str, list[float]] = {name: [] for name in names}
    rng = random.Random(0)
    for r in range(rounds):
        order = rng.sample(names, len(names))
        for name in order:
            seconds[name].append(timer(candidates[name]))
        if (r + 1) % max(1, rounds // 5) == 0 or r + 1 == rounds:
            progress(f"round {r + 1}/{rounds}")
    ref = seconds[reference]
    return {name: ([s / b for s, b in zip(seconds[name], ref, strict=True)], seconds[name]) for name in names}


def _input(settings: Settings) -> torch.Tensor:
    g = torch.Generator().manual_seed(0)
    return torch.randn(settings.batch, 3, settings.size, settings.size, generator=g).to(settings.device)


def _model(settings: Settings) -> torchvision.models.ResNet:
    torch.manual_seed(0)
    return torchvision.models.resnet50(weights=None).eval().to(settings.device)


def peak_memory_mib(method: str, workload: str, settings: Settings) -> float | None:
    """Peak memory of one forward of ``method`` on ``workload``, in a fresh subprocess."""
    args = [sys.executable, "-m", "backbones_tutorial.bench", method, workload, settings.device,
            str(settings.size), str(settings.batch)]
    # A fixed mmap threshold: glibc otherwise raises it after the first large free, so the timed
    # forward would reuse heap pages kept from the warm-up one and its peak would not show in RSS.
    env = {**os.environ, "MALLOC_MMAP_THRESHOLD_": str(128 * 1024)}
    done = subprocess.run(args, capture_output=True, text=True, check=False, env=env)
    if done.returncode != 0:
        raise RuntimeError(f"memory probe for {method} / {workload} failed:\n{done.stderr[-2000:]}")
    value = done.stdout.strip().splitlines()[-1]
    return None if value == "None" else float(value)


def _probe(method: str, workload: str, device: str, size: int, batch: int) -> float | None:
    """Run in the subprocess: build, reset the peak, one forward, report the peak increase."""
    settings = Settings(device=device, size=size, batch=batch)
    model, x = _model(settings), _input(settings)
    layers = WORKLOADS[workload]
    extractor = BareForward(model, layers) if method == "bare" else build_extractor(method, model, layers).eval()
    with torch.inference_mode():
        extractor(x)  # first call allocates lazily-created state (fx, oneDNN primitives)
        if device == "cuda":
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
            base = torch.cuda.memory_allocated()
            extractor(x)
            torch.cuda.synchronize()
            return (torch.cuda.max_memory_allocated() - base) / 2**20
        try:  # Linux: writing 5 to clear_refs resets the peak resident set size (VmHWM)
            with open("/proc/self/clear_refs", "w") as f:
                f.write("5")
        except OSError:
            return None
        base = _status_kib("VmRSS")
        extractor(x)
        return (_status_kib("VmHWM") - base) / 1024


def _status_kib(key: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    raise KeyError(key)


def _progress_in(progress: Callable[[str], None], workload: str, step: str) -> None:
    progress(f"{workload}: {step}")


def run(settings: Settings, progress: Callable[[str], None] = lambda s: None) -> Results:
    results = Results(settings, _machine(settings.device))
    x = _input(settings)
    for workload, layers in WORKLOADS.items():
        model = _model(settings)
        candidates: dict[str, nn.Module] = {"bare": BareForward(model, layers)}
        candidates |= {m: build_extractor(m, model, layers).eval() for m in METHODS}
        calls: dict[str, Callable[[], object]] = {name: functools.partial(e, x) for name, e in candidates.items()}
        progress(f"{workload}: timing {len(calls)} extractors, {settings.rounds} interleaved rounds")
        with torch.inference_mode():
            ratios = interleaved_ratios(calls, "bare", settings.rounds, settings.warmup, settings.device,
                                        functools.partial(_progress_in, progress, workload))
        results.bare_ms[workload] = statistics.median(ratios["bare"][1]) * 1000
        if settings.memory:
            results.bare_peak_memory_mib[workload] = peak_memory_mib("bare", workload, settings)
        rows = []
        for m in METHODS:
            ratio, seconds = ratios[m]
            memory = None
            if settings.memory:
                progress(f"{workload}: peak memory of {m} (fresh process)")
                memory = peak_memory_mib(m, workload, settings)
            rows.append(MethodResult(m, statistics.median(ratio), (_quantile(ratio, 0.25), _quantile(ratio, 0.75)),
                                     statistics.median(seconds) * 1000, count_params(candidates[m]), memory))
        hooks = candidates["hooks"]
        if isinstance(hooks, HookExtractor):
            hooks.remove()
        results.workloads[workload] = rows

    progress("from-scratch ResNet34 against torchvision's")
    torch.manual_seed(0)
    tv = torchvision.models.resnet34(weights=None).eval().to(settings.device)
    ours = resnet34().eval().to(settings.device)
    ours.load_state_dict(tv.state_dict(), strict=True)
    with torch.inference_mode():
        r = interleaved_ratios({"torchvision": lambda: tv(x), "ours": lambda: ours(x)}, "torchvision",
                               settings.rounds, settings.warmup, settings.device)
    progress("compatibility with torch.fx, TorchScript and torch.compile")
    cpu_model = torchvision.models.resnet50(weights=None).eval()
    results.compatibility = {m: compatibility(m, cpu_model, STAGES) for m in METHODS}
    results.scratch_vs_torchvision = {
        "ratio_median": statistics.median(r["ours"][0]),
        "ours_ms": statistics.median(r["ours"][1]) * 1000,
        "torchvision_ms": statistics.median(r["torchvision"][1]) * 1000,
    }
    return results


def to_json(runs: list[Results]) -> str:
    return json.dumps([asdict(r) for r in runs], indent=2) + "\n"


def table(results: Results) -> Table:
    """One row per workload and method: the median ratio (with its IQR), ms, parameters, memory."""
    rows = []
    for workload, methods in results.workloads.items():
        layers = WORKLOADS[workload]
        rows.append((workload, "bare forward", "1.000", f"{results.bare_ms[workload]:.1f}", "",
                     fmt_mib(results.bare_peak_memory_mib.get(workload))))
        for m in methods:
            lo, hi = m.ratio_iqr
            mark = "" if runs_only_needed_layers(m.method, layers) else " *"
            rows.append(("", m.method + mark, f"{m.ratio_median:.3f} ({lo:.3f}-{hi:.3f})", f"{m.ms_median:.1f}",
                         fmt_int(m.params), fmt_mib(m.peak_memory_mib)))
    s = results.settings
    caption = (f"{s.device}, input {s.batch} x 3 x {s.size} x {s.size}, median of {s.rounds} interleaved rounds; "
               f"* = computes layers past the deepest one requested")
    return Table(("workload", "method", "time / bare (IQR)", "ms", "parameters", "peak MiB"), tuple(rows), caption)


def fmt_mib(value: float | None) -> str:
    """A peak memory in MiB as the tables show it: one decimal, or "n/a" where none was measured."""
    return "n/a" if value is None else f"{value:.1f}"


@dataclass(frozen=True)
class Target:
    """One of the benchmark's targets: a median ratio within ``tolerance`` of its reference."""

    workload: str | None  # None: the from-scratch ResNet34 against torchvision's
    label: str  # the method, or "from-scratch ResNet34"
    ratio: float  # median over rounds of the per-round ratio to the reference
    tolerance: float
    met: bool

    @property
    def subject(self) -> str:
        """What is compared: ``"children (layer2 only)"``, ``"from-scratch ResNet34"``."""
        return self.label if self.workload is None else f"{self.label} ({self.workload})"

    @property
    def text(self) -> str:
        """The target as a sentence: ``"layer2 only: fx within 3% of bare (1.018)"``."""
        if self.workload is None:
            return f"{self.label} within {self.tolerance:.0%} of torchvision's ({self.ratio:.3f})"
        return f"{self.workload}: {self.label} within {self.tolerance:.0%} of bare ({self.ratio:.3f})"


def targets(results: Results, tolerance: float = TOLERANCE) -> list[Target]:
    """The issue's targets: methods that run only the needed layers, and the from-scratch
    ResNet34, within ``tolerance`` of their reference (median ratio)."""
    checks = [
        Target(workload, m.method, m.ratio_median, tolerance, m.ratio_median <= 1 + tolerance)
        for workload, methods in results.workloads.items()
        for m in methods
        if runs_only_needed_layers(m.method, WORKLOADS[workload])
    ]
    ratio = results.scratch_vs_torchvision["ratio_median"]
    checks.append(Target(None, "from-scratch ResNet34", ratio, tolerance, ratio <= 1 + tolerance))
    return checks


def format_targets(results: Results, missed: str = "MISSED") -> list[str]:
    """One line per target, as the command prints them: ``"met: all stages: fx within ..."``."""
    return [f"{'met' if t.met else missed}: {t.text}" for t in targets(results)]


def from_dict(d: dict) -> Results:
    """Rebuild ``Results`` from its JSON form (see ``to_json``)."""
    workloads = {
        w: [MethodResult(**{**m, "ratio_iqr": tuple(m["ratio_iqr"])}) for m in methods]
        for w, methods in d["workloads"].items()
    }
    return Results(Settings(**d["settings"]), d["machine"], workloads, d["bare_ms"],
                   d["bare_peak_memory_mib"], d["scratch_vs_torchvision"], d["compatibility"])


def load(path) -> list[Results]:
    """The runs stored in a JSON file written by ``bench``."""
    with open(path) as f:
        data = json.load(f)
    if not isinstance(data, list) or not all(isinstance(r, dict) and "workloads" in r for r in data):
        raise ValueError(f"{path} is not a results file written by 'python -m backbones_tutorial bench'")
    return [from_dict(r) for r in data]


def markdown_summary(runs: list[Results]) -> str:
    """The results as the README reports them: one table per run, then the targets."""
    out = []
    for run in runs:
        s, m = run.settings, run.machine
        out.append(f"{s.device} ({m['cpu']}, {m['threads']} threads; torch {m['torch']}), input {s.batch} x 3 x "
                   f"{s.size} x {s.size}, median of {s.rounds} interleaved rounds:\n")
        out.append("| workload | method | time / bare forward | ms | parameters kept | peak MiB |")
        out.append("|---|---|---|---|---|---|")
        for workload, rows in run.workloads.items():
            out.append(f"| {workload} | bare forward | 1.000 | {run.bare_ms[workload]:.1f} | | "
                       f"{fmt_mib(run.bare_peak_memory_mib.get(workload))} |")
            for r in rows:
                out.append(f"| {workload} | {r.method} | {r.ratio_median:.3f} | {r.ms_median:.1f} | "
                           f"{fmt_int(r.params)} | {fmt_mib(r.peak_memory_mib)} |")
        out.append("")
        out += [f"- {line}" for line in format_targets(run, missed="missed")]
        out.append("")
    return "\n".join(out)


if __name__ == "__main__":  # the memory probe's entry point (see peak_memory_mib)
    method, workload, device, size, batch = sys.argv[1:6]
    print(_probe(method, workload, device, int(size), int(batch)))
