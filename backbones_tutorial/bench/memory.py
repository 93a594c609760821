"""The benchmark's memory probe: the peak memory of one forward pass, in a fresh subprocess.

A fresh process per method and workload, so that nothing another method allocated counts. In the
subprocess: build the model and the extractor exactly as the benchmark times them, run one forward
(it allocates lazily created state: fx, oneDNN primitives), reset the peak, run one more and report
how far it rose: the resident set size on Linux (``/proc/self/clear_refs``), or
``torch.cuda.max_memory_allocated`` on a GPU. ``--quick`` probes every pair in one subprocess
(every code path once; its figures are then not independent).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Sequence

import torch

from backbones_tutorial.bench.worker import bench_input, bench_model
from backbones_tutorial.extractors.methods import BareForward, build_extractor

__all__ = ["Pair", "probe", "probe_in_subprocess"]

Pair = tuple[str, str]  # (method or "bare", workload)


def probe_in_subprocess(pairs: Sequence[Pair], workloads: dict[str, list[str]], device: str, size: int,
                        batch: int) -> list[float | None]:
    """Peak MiB of one forward for each ``(method, workload)`` pair, all in one fresh subprocess."""
    args = [sys.executable, "-m", "backbones_tutorial.bench.memory", device, str(size), str(batch)]
    args += [f"{m}:{w}:{','.join(workloads[w])}" for m, w in pairs]
    # A fixed mmap threshold: glibc otherwise raises it after the first large free, so the timed
    # forward would reuse heap pages kept from the warm-up one and its peak would not show in RSS.
    env = {**os.environ, "MALLOC_MMAP_THRESHOLD_": str(128 * 1024)}
    done = subprocess.run(args, capture_output=True, text=True, check=False, env=env)
    if done.returncode != 0:
        raise RuntimeError(f"memory probe for {list(pairs)} failed:\n{done.stderr[-2000:]}")
    values = done.stdout.strip().splitlines()[-len(pairs):]
    if len(values) != len(pairs):
        raise RuntimeError(f"memory probe for {list(pairs)} printed {values!r}, expected {len(pairs)} lines")
    return [None if v == "None" else float(v) for v in values]


def _status_kib(key: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    raise KeyError(key)


def probe(method: str, layers: list[str], device: str, size: int, batch: int) -> float | None:
    """Run in the subprocess: build, one forward, reset the peak, one forward, the peak increase."""
    model, x = bench_model(device), bench_input(size, batch, device)
    extractor = BareForward(model, layers) if method == "bare" else build_extractor(method, model, layers).eval()
    with torch.inference_mode():
        extractor(x)
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


if __name__ == "__main__":  # the probe's entry point (see probe_in_subprocess)
    device, size, batch = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    for spec in sys.argv[4:]:
        method, _, layers = spec.split(":")
        print(probe(method, layers.split(","), device, size, batch), flush=True)
