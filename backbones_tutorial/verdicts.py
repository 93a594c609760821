"""How the benchmark decides: an interval for each median ratio, a two-sided verdict, and rounds
added until every interval is narrow enough for its verdict.

- ``bootstrap_interval``: a percentile bootstrap of the median per-round ratio (seeded, so the
  same rounds give the same interval);
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
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

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


@dataclass(frozen=True)
class Verdict:
    """One comparison with its reference: the median ratio, its interval, the verdict."""

    ratio: float  # median over rounds of the per-round ratio
    interval: tuple[float, float]  # LEVEL bootstrap interval of that median
    tolerance: float
    verdict: str  # one of VERDICTS
    rounds: int
    settled: bool  # False: the budget ran out before the interval was narrow enough


def judge(ratios: Sequence[float], tolerance: float = TOLERANCE, width: float = HALF_WIDTH) -> Verdict:
    """The verdict on one candidate's per-round ratios."""
    interval = bootstrap_interval(ratios)
    return Verdict(statistics.median(ratios), interval, tolerance, decide(interval, tolerance), len(ratios),
                   settled(interval, tolerance, width))


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
    measure: Callable[[str], float], min_rounds: int, max_rounds: int, budget_s: float,
    clock: Callable[[], float] = time.perf_counter, tolerance: float = TOLERANCE, width: float = HALF_WIDTH,
    warmup: int = 0, check_every: int = 5, progress: Callable[[str], None] = lambda s: None,
) -> Rounds:
    """Time the ``compared`` candidates against ``reference``, each call next to a reference call.

    ``measure(name)`` times one call of ``candidates[name]``. A round calls the open candidates in
    a freshly shuffled (seeded) order with a reference call before, between and after them,
    ``R a R b R`` (the next round starts from that last ``R``), and each candidate's ratio is its
    time over the mean of its two neighbours. On a shared machine a call's time drifts within
    seconds (``spread`` measures by how much), so a ratio of neighbours is steadier than one of
    calls a round apart. After ``min_rounds``, and every ``check_every`` rounds, a candidate whose
    interval is settled (a clear ``slower`` or ``faster``, or a half-width of at most ``width``)
    leaves the rounds; the run ends when none is open, or when ``budget_s`` seconds of ``clock``
    or ``max_rounds`` rounds are spent.
    """
    if not 2 <= min_rounds <= max_rounds:
        raise ValueError(f"need 2 <= min_rounds <= max_rounds, got {min_rounds} and {max_rounds}")
    for name in [reference, *compared]:
        if name not in candidates:
            raise ValueError(f"{name!r} is not a candidate; candidates: {list(candidates)}")
    if reference in compared:
        raise ValueError(f"the reference {reference!r} cannot be compared with itself")
    for _ in range(warmup):
        for name in candidates:
            candidates[name]()
    out = Rounds({name: [] for name in [reference, *compared]}, {name: [] for name in compared})
    rng, start, done, open_ = random.Random(0), clock(), 0, list(compared)
    before: float | None = None
    while open_ and done < max_rounds:
        if before is None:  # a round starts with the last reference call of the round before
            before = measure(reference)
            out.seconds[reference].append(before)
        for name in rng.sample(open_, len(open_)):
            t = measure(name)
            after = measure(reference)
            out.seconds[name].append(t)
            out.seconds[reference].append(after)
            out.ratios[name].append(sandwich_ratio(before, t, after))
            before = after
        done += 1
        if done < min_rounds or (done - min_rounds) % check_every:
            continue
        open_ = [n for n in open_ if not settled(bootstrap_interval(out.ratios[n]), tolerance, width)]
        progress(f"round {done}: {len(open_)} of {len(compared)} intervals still too wide")
        if clock() - start >= budget_s:
            break
    return out
