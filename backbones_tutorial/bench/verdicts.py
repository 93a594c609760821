"""How the benchmark decides: an interval for each ratio, a two-sided verdict, and blocks of
rounds (each in a fresh process) added until every interval is narrow enough for its verdict.

- ``block_interval``: Student's t interval of the mean of the blocks' median ratios. A block is
  one fresh process. The median of its rounds is precise about that process, but a process, and
  the minutes it runs in, can move a ratio by a percent or more on a shared machine, so an
  interval over the rounds of one process claims a precision that a rerun does not reproduce;
- ``blocked_runs``: add blocks until every interval is settled, or the budget is spent;
- ``bootstrap_interval``: a percentile bootstrap of the median per-round ratio (seeded, so the
  same rounds give the same interval): the precision within one process;
- ``decide``: ``within`` the tolerance of 1 (the whole interval inside ``[1 - tol, 1 + tol]``),
  ``slower`` or ``faster`` than that (the whole interval beyond it), else ``undecided``;
- ``interleaved_rounds``: time each candidate between two calls of the reference, in a shuffled
  order, round after round; a candidate leaves once it is settled (a decided ``slower``/``faster``,
  or an interval of half-width at most ``half_width``); stop when none is left, or when the time
  budget or the round limit is spent.

Nothing here reads a clock of its own: the timer and the clock are arguments, so the tests drive
the logic with fake ones.
"""

from __future__ import annotations

import random
import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from backbones_tutorial.checks import is_int

__all__ = ["HALF_WIDTH", "LEVEL", "MAX_BLOCKS", "RESAMPLES", "Rounds", "T975", "TOLERANCE", "VERDICTS", "Verdict",
           "block_interval", "blocked_runs", "bootstrap_interval", "decide", "half_width", "interleaved_rounds",
           "judge_blocks", "sandwich_ratio", "settled", "spread"]

# Student's t quantile t(0.975, df) for df = 1, 2, ...: the two-sided 95 % interval of a mean
T975 = (12.7062, 4.3027, 3.1824, 2.7764, 2.5706, 2.4469, 2.3646, 2.3060, 2.2622, 2.2281, 2.2010, 2.1788, 2.1604,
        2.1448, 2.1314, 2.1199, 2.1098, 2.1009, 2.0930, 2.0860, 2.0796, 2.0739, 2.0687, 2.0639, 2.0595, 2.0555,
        2.0518, 2.0484, 2.0452, 2.0423, 2.0395, 2.0369, 2.0345, 2.0322, 2.0301, 2.0281, 2.0262, 2.0244, 2.0227)
MAX_BLOCKS = len(T975) + 1
TOLERANCE = 0.03  # the question: is the ratio within 3 % of 1?
HALF_WIDTH = 0.01  # how narrow an interval must be for a "within" or "undecided" to settle
LEVEL = 0.95
RESAMPLES = 2000
WITHIN, SLOWER, FASTER, UNDECIDED = "within", "slower", "faster", "undecided"
VERDICTS = (WITHIN, SLOWER, FASTER, UNDECIDED)


def bootstrap_interval(ratios: Sequence[float], level: float = LEVEL, resamples: int = RESAMPLES,
                       seed: int = 0) -> tuple[float, float]:
    """The ``level`` percentile-bootstrap interval of the median of ``ratios``."""
    values = np.asarray(ratios, dtype=float)
    if values.size < 2:
        raise ValueError(f"a bootstrap interval needs at least 2 rounds, got {values.size}")
    rng = np.random.default_rng(seed)
    medians = np.median(values[rng.integers(0, values.size, (resamples, values.size))], axis=1)
    lo, hi = np.quantile(medians, [(1 - level) / 2, (1 + level) / 2])
    return float(lo), float(hi)


def decide(interval: tuple[float, float], tolerance: float = TOLERANCE) -> str:
    """Two-sided: ``within`` when the whole interval lies in ``[1 - tol, 1 + tol]``, ``slower``
    (``faster``) when it lies wholly above (below) it, ``undecided`` when it straddles a bound."""
    lo, hi = interval
    if lo > hi:
        raise ValueError(f"an interval needs lo <= hi, got {interval}")
    if 1 - tolerance <= lo and hi <= 1 + tolerance:
        return WITHIN
    if lo > 1 + tolerance:
        return SLOWER
    if hi < 1 - tolerance:
        return FASTER
    return UNDECIDED


def half_width(interval: tuple[float, float]) -> float:
    return (interval[1] - interval[0]) / 2


def settled(interval: tuple[float, float], tolerance: float = TOLERANCE, width: float = HALF_WIDTH) -> bool:
    """Whether more rounds are needed: not for a clear ``slower``/``faster``, nor for an interval
    already at most ``width`` wide on each side."""
    return decide(interval, tolerance) in (SLOWER, FASTER) or half_width(interval) <= width


def block_interval(medians: Sequence[float]) -> tuple[float, float]:
    """Student's t 95 % interval of the mean of ``medians``, one per block (fresh process)."""
    values = np.asarray(medians, dtype=float)
    if not 2 <= values.size <= MAX_BLOCKS:
        raise ValueError(f"a block interval needs 2 to {MAX_BLOCKS} blocks, got {values.size}")
    h = T975[values.size - 2] * float(values.std(ddof=1)) / float(np.sqrt(values.size))
    mean = float(values.mean())
    return mean - h, mean + h


@dataclass(frozen=True)
class Verdict:
    """One comparison with its reference: the ratio, its interval, the verdict."""

    ratio: float  # judge: the median over rounds; judge_blocks: the mean of the blocks' medians
    interval: tuple[float, float]  # judge: bootstrap interval; judge_blocks: block_interval
    tolerance: float
    verdict: str  # one of VERDICTS
    rounds: int  # in all blocks together
    settled: bool  # False: the budget ran out before the interval was narrow enough
    block_ratios: tuple[float, ...] = ()  # judge_blocks: each block's median ratio, in the order run


def judge_blocks(blocks: Sequence[Sequence[float]], tolerance: float = TOLERANCE,
                 width: float = HALF_WIDTH) -> Verdict:
    """The verdict on one candidate's per-round ratios, one list per block (fresh process)."""
    medians = tuple(float(statistics.median(b)) for b in blocks)
    interval = block_interval(medians)
    return Verdict(statistics.fmean(medians), interval, tolerance, decide(interval, tolerance),
                   sum(len(b) for b in blocks), settled(interval, tolerance, width), medians)


def blocked_runs(run_block: Callable[[list[str], int], Mapping[str, Sequence[float]]], compared: Sequence[str],
                 min_blocks: int, max_blocks: int, budget_s: float, clock: Callable[[], float] = time.perf_counter,
                 tolerance: float = TOLERANCE, width: float = HALF_WIDTH,
                 progress: Callable[[str], None] = lambda s: None) -> dict[str, list[list[float]]]:
    """Blocks of rounds until every candidate's ``block_interval`` is settled.

    ``run_block(open, k)`` runs block ``k`` (a fresh process, in the benchmark) for the candidates
    still ``open`` and returns each one's per-round ratios. From ``min_blocks`` on, a candidate
    whose interval is settled (a clear ``slower``/``faster``, or a half-width of at most
    ``width``) leaves; the run ends when none is open, or when ``budget_s`` seconds of ``clock``
    (checked from ``min_blocks`` on: those always run) or ``max_blocks`` blocks are spent.
    Returns every candidate's ratios, block by block."""
    if not 2 <= min_blocks <= max_blocks <= MAX_BLOCKS:
        raise ValueError(f"need 2 <= min_blocks <= max_blocks <= {MAX_BLOCKS}, got {min_blocks} and {max_blocks}")
    if len(set(compared)) != len(compared) or not compared:
        raise ValueError(f"need distinct candidates to compare, got {list(compared)}")
    out: dict[str, list[list[float]]] = {name: [] for name in compared}
    start, k, open_ = clock(), 0, list(compared)
    while open_ and k < max_blocks:
        got = run_block(list(open_), k)
        if sorted(got) != sorted(open_) or any(len(got[n]) < 1 for n in open_):
            raise RuntimeError(f"block {k} returned ratios for {sorted(got)}, expected some for each of {open_}")
        for name in open_:
            out[name].append([float(r) for r in got[name]])
        k += 1
        if k >= min_blocks:
            open_ = [n for n in open_
                     if not settled(block_interval([statistics.median(b) for b in out[n]]), tolerance, width)]
        progress(f"block {k}: {len(open_)} of {len(compared)} intervals still too wide")
        if k >= min_blocks and clock() - start >= budget_s:
            break
    return out


def sandwich_ratio(before: float, candidate: float, after: float) -> float:
    """A candidate's time over the mean of the reference calls on either side of it."""
    return candidate / ((before + after) / 2)


@dataclass
class Rounds:
    """What ``interleaved_rounds`` measured: every call's seconds, and each compared candidate's
    ratio to its own neighbouring reference calls, one per round it took part in."""

    seconds: dict[str, list[float]]
    ratios: dict[str, list[float]]

    def rounds(self, name: str) -> int:
        return len(self.ratios[name])


def spread(times: Sequence[float], lag: int) -> float:
    """The interquartile range of ``times[i + lag] / times[i]``: how much one candidate's own
    calls ``lag`` places apart differ, i.e. how much the machine drifts over that distance."""
    values = np.asarray(times, dtype=float)
    if not 1 <= lag < values.size:
        raise ValueError(f"need 1 <= lag < {values.size} (the number of times), got {lag}")
    q1, q3 = np.quantile(values[lag:] / values[:-lag], [0.25, 0.75])
    return float(q3 - q1)


def interleaved_rounds(
    candidates: dict[str, Callable[[], object]], reference: str, compared: Sequence[str],
    measure: Callable[[str], float], rounds: int, warmup: int = 0, seed: int = 0,
) -> Rounds:
    """Time the ``compared`` candidates against ``reference`` for ``rounds`` rounds, each call next
    to a reference call.

    ``measure(name)`` times one call of ``candidates[name]``. A round calls the candidates in a
    freshly shuffled order (``random.Random(seed)``) with a reference call before, between and after
    them, ``R a R b R`` (the next round starts from that last ``R``), and each candidate's ratio is
    its time over the mean of its two neighbours. On a shared machine a call's time drifts within
    seconds (``spread`` measures by how much), so a ratio of neighbours is steadier than one of
    calls a round apart. How many rounds are enough is decided over blocks (``blocked_runs``).
    """
    if not is_int(rounds, 2):
        raise ValueError(f"need at least 2 rounds, got {rounds!r}")
    for name in [reference, *compared]:
        if name not in candidates:
            raise ValueError(f"{name!r} is not a candidate; candidates: {list(candidates)}")
    if reference in compared:
        raise ValueError(f"the reference {reference!r} cannot be compared with itself")
    for _ in range(warmup):
        for name in candidates:
            candidates[name]()
    out = Rounds({name: [] for name in [reference, *compared]}, {name: [] for name in compared})
    rng = random.Random(seed)
    before = measure(reference)  # a round starts with the last reference call of the round before
    out.seconds[reference].append(before)
    for _ in range(rounds):
        for name in rng.sample(list(compared), len(compared)):
            t = measure(name)
            after = measure(reference)
            out.seconds[name].append(t)
            out.seconds[reference].append(after)
            out.ratios[name].append(sandwich_ratio(before, t, after))
            before = after
    return out
