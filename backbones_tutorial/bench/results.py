"""The benchmark's records: its settings, each method's result, a run's results, and their JSON form.

Every part of the benchmark (the runner, its worker processes, the report, chapter 6) reads these;
they import nothing else of the benchmark but its vocabulary (``WORKLOADS``, ``SCRATCH``).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field

from backbones_tutorial.bench.verdicts import HALF_WIDTH, MAX_BLOCKS, TOLERANCE
from backbones_tutorial.checks import check_choice
from backbones_tutorial.extractors.methods import METHODS
from backbones_tutorial.models.resnet import STAGES

__all__ = ["BenchSettings", "COMPARISONS", "Comparison", "MethodResult", "Results", "SCRATCH", "WORKLOADS",
           "from_dict", "load_runs", "to_json"]

# What the benchmark times: each workload's layers (against the bare forward), and the from-scratch
# ResNet34 (``ours`` against ``torchvision``).
WORKLOADS = {"all stages": list(STAGES), "layer2 only": ["layer2"]}
SCRATCH = "from-scratch ResNet34"
COMPARISONS = [f"{w} / {m}" for w in WORKLOADS for m in METHODS] + [f"{SCRATCH} / ours"]


@dataclass
class BenchSettings:
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
    settings: BenchSettings
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


def to_json(runs: list[Results]) -> str:
    return json.dumps([asdict(r) for r in runs], indent=2) + "\n"


def from_dict(d: dict) -> Results:
    """Rebuild ``Results`` from its JSON form (see ``to_json``)."""
    workloads = {
        w: [MethodResult(**{**m, "ratio_interval": tuple(m["ratio_interval"])}) for m in methods]
        for w, methods in d["workloads"].items()
    }
    return Results(BenchSettings(**d["settings"]), d["machine"], workloads, d["bare_ms"],
                   d["bare_peak_memory_mib"], d["scratch_vs_torchvision"], d["compatibility"], d["drift"],
                   d["bare_block_ms"])


def load_runs(path) -> list[Results]:
    """The runs stored in a JSON file written by ``bench``."""
    with open(path) as f:
        data = json.load(f)
    if not isinstance(data, list) or not all(isinstance(r, dict) and "workloads" in r for r in data):
        raise ValueError(f"{path} is not a results file written by 'python -m backbones_tutorial bench'")
    return [from_dict(r) for r in data]


