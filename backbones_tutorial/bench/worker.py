"""One block of the benchmark: interleaved rounds of the open comparisons, in a fresh process.

``bench`` starts ``python -m backbones_tutorial.bench.worker`` once per block, with a JSON
``BlockSpec`` on stdin, and reads a JSON ``measure_block`` result from the last line of stdout.
A fresh process per block, because a process (its allocations, the minutes it runs in) moves a
ratio by more than the rounds within it vary: the blocks' medians are what a rerun reproduces.
A comparison is named ``"<section> / <candidate>"``: the sections are the workloads of
``results.WORKLOADS`` (against ``bare``) and ``SCRATCH`` (``ours`` against ``torchvision``).
"""

from __future__ import annotations

import copy
import functools
import json
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

import torch
import torchvision
from torch import nn

from backbones_tutorial.bench.results import SCRATCH, WORKLOADS
from backbones_tutorial.bench.verdicts import interleaved_rounds
from backbones_tutorial.extractors.methods import BareForward, HookExtractor, build_extractor
from backbones_tutorial.models.resnet import resnet34

__all__ = ["BlockSpec", "REFERENCE", "bench_input", "bench_model", "main", "measure_block",
           "measure_block_in_subprocess", "split", "timed_calls"]

REFERENCE = {**dict.fromkeys(WORKLOADS, "bare"), SCRATCH: "torchvision"}


@dataclass(frozen=True)
class BlockSpec:
    """What one block measures, and how: the comparisons still open, the input, the rounds."""

    open: list[str]  # "<section> / <candidate>"
    seed: int  # the block's index: its own shuffled order of calls
    device: str
    size: int
    batch: int
    threads: int
    warmup: int
    rounds: int


def split(comparison: str) -> tuple[str, str]:
    """``"all stages / fx"`` -> ``("all stages", "fx")``."""
    section, sep, candidate = comparison.partition(" / ")
    if not sep or section not in REFERENCE:
        raise ValueError(f"{comparison!r} is not '<section> / <candidate>' with a section of {list(REFERENCE)}")
    return section, candidate


def timed_calls(candidates: dict[str, Callable[[], object]], device: str) -> Callable[[str], float]:
    """``measure(name)``: the seconds of one call of ``candidates[name]``, CUDA synchronised
    before and after as ``torch.utils.benchmark.Timer`` does.

    Not ``Timer.timeit(1)`` itself: it makes two untimed warm-up calls before every timed one,
    which tripled the cost of a round of single calls. The thread count is fixed by the caller."""
    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)

    def measure(name: str) -> float:
        fn = candidates[name]
        sync()
        start = time.perf_counter()
        fn()
        sync()
        return time.perf_counter() - start
    return measure


def bench_input(size: int | tuple[int, int], batch: int, device: str) -> torch.Tensor:
    """The benchmark's one seeded batch, ``batch x 3 x H x W`` (a square side, or (H, W))."""
    h, w = (size, size) if isinstance(size, int) else size
    return torch.randn(batch, 3, h, w, generator=torch.Generator().manual_seed(0)).to(device)


def bench_model(device: str = "cpu") -> torchvision.models.ResNet:
    """The benchmark's one model: torchvision's ResNet50, random weights drawn with seed 0, eval mode.
    The timing blocks, the memory probes and the compatibility matrix all build it here."""
    torch.manual_seed(0)
    return torchvision.models.resnet50(weights=None).eval().to(device)


def _section_calls(section: str, candidates: list[str], x: torch.Tensor,
                   device: str) -> tuple[dict[str, Callable[[], object]], list[nn.Module]]:
    """The calls of one section's reference and candidates, and the modules to clean up after.

    Each extractor gets its own copy of the model: hooks registered on a shared model would fire,
    and clone, inside every other method's call of the same modules (the bare forward's too)."""
    if section == SCRATCH:
        torch.manual_seed(0)
        tv = torchvision.models.resnet34(weights=None).eval().to(device)
        ours = resnet34().eval().to(device)
        ours.load_state_dict(tv.state_dict(), strict=True)
        return {"torchvision": functools.partial(tv, x), "ours": functools.partial(ours, x)}, []
    model, layers = bench_model(device), WORKLOADS[section]
    modules: dict[str, nn.Module] = {"bare": BareForward(copy.deepcopy(model), layers)}
    modules |= {m: build_extractor(m, copy.deepcopy(model), layers).eval() for m in candidates}
    return {name: functools.partial(e, x) for name, e in modules.items()}, list(modules.values())


def measure_block(spec: BlockSpec) -> dict[str, dict[str, list[float]]]:
    """Interleaved rounds of each section that has open comparisons, in the order of REFERENCE.

    Returns ``{"ratios": {comparison: per-round ratios}, "seconds": {comparison: per-call
    seconds}, "reference_seconds": {section: the reference's per-call seconds}}``."""
    torch.set_num_threads(spec.threads)
    x = bench_input(spec.size, spec.batch, spec.device)
    by_section: dict[str, list[str]] = {}
    for comparison in spec.open:
        section, candidate = split(comparison)
        by_section.setdefault(section, []).append(candidate)
    out: dict[str, dict[str, list[float]]] = {"ratios": {}, "seconds": {}, "reference_seconds": {}}
    for section in (s for s in REFERENCE if s in by_section):
        candidates, reference = by_section[section], REFERENCE[section]
        calls, modules = _section_calls(section, candidates, x, spec.device)
        with torch.inference_mode():
            rounds = interleaved_rounds(calls, reference, candidates, timed_calls(calls, spec.device), spec.rounds,
                                        warmup=spec.warmup, seed=spec.seed)
        for c in candidates:
            out["ratios"][f"{section} / {c}"] = rounds.ratios[c]
            out["seconds"][f"{section} / {c}"] = rounds.seconds[c]
        out["reference_seconds"][section] = rounds.seconds[reference]
        for m in modules:
            if isinstance(m, HookExtractor):
                m.remove()
    return out


def measure_block_in_subprocess(spec: BlockSpec) -> dict[str, dict[str, list[float]]]:
    """``measure_block(spec)`` in a fresh ``python -m backbones_tutorial.bench.worker``."""
    done = subprocess.run([sys.executable, "-m", "backbones_tutorial.bench.worker"], input=json.dumps(asdict(spec)),
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"benchmark block {spec.seed} failed:\n{done.stderr[-2000:]}")
    lines = done.stdout.strip().splitlines()
    if not lines:
        raise RuntimeError(f"benchmark block {spec.seed} printed nothing on stdout:\n{done.stderr[-2000:]}")
    return json.loads(lines[-1])


def main() -> None:
    """The worker's entry point: a BlockSpec as JSON on stdin, the result as one JSON line."""
    spec = BlockSpec(**json.loads(sys.stdin.read()))
    print(json.dumps(measure_block(spec)), flush=True)


if __name__ == "__main__":
    main()
