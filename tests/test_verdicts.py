"""The benchmark's decisions, driven by a fake timer and a fake clock: intervals, two-sided
verdicts, rounds added until the intervals are narrow, the budget. No timing is measured here."""

import statistics

import pytest

from backbones_tutorial.bench import verdicts as v


def test_the_bootstrap_interval_contains_the_median_and_narrows_with_more_rounds():
    few = [1.0, 1.1, 0.9, 1.05, 0.95, 1.02]
    lo, hi = v.bootstrap_interval(few)
    assert lo <= statistics.median(few) <= hi
    many = few * 20  # the same spread, twenty times the rounds
    lo2, hi2 = v.bootstrap_interval(many)
    assert hi2 - lo2 < hi - lo
    assert v.bootstrap_interval(few) == (lo, hi)  # seeded: the same rounds, the same interval
    assert v.bootstrap_interval([2.0] * 10) == (2.0, 2.0)  # no spread, no width
    with pytest.raises(ValueError, match="at least 2 rounds, got 1"):
        v.bootstrap_interval([1.0])


@pytest.mark.parametrize(("interval", "verdict"), [
    ((0.98, 1.02), v.WITHIN), ((0.97, 1.03), v.WITHIN),  # the bounds belong to the tolerance
    ((1.031, 1.2), v.SLOWER), ((0.5, 0.969), v.FASTER),
    ((1.02, 1.04), v.UNDECIDED), ((0.96, 0.99), v.UNDECIDED), ((0.9, 1.1), v.UNDECIDED),
])
def test_the_verdict_is_two_sided(interval, verdict):
    assert v.decide(interval, 0.03) == verdict


def test_a_ratio_outside_the_tolerance_is_never_within():
    """The old one-sided check called 0.968 "within 3 %"; an interval around it cannot be."""
    assert v.decide((0.960, 0.975), 0.03) != v.WITHIN
    assert v.judge_blocks([[0.968] * 10] * 5).verdict == v.FASTER
    with pytest.raises(ValueError, match="lo <= hi"):
        v.decide((1.1, 1.0))


def test_settled_means_decided_or_narrow():
    assert v.settled((1.5, 2.5))  # clearly slower, however wide
    assert v.settled((0.995, 1.013))  # half-width 0.009 <= 0.01
    assert not v.settled((0.98, 1.025))  # within, but half-width 0.0225
    assert v.settled((1.02, 1.035))  # undecided but narrow: the ratio sits at the bound, more rounds won't tell


class FakeMachine:
    """Candidates whose "duration" follows a script; a clock that advances by each duration."""

    def __init__(self, durations):
        self.durations, self.now, self.calls = durations, 0.0, {n: 0 for n in durations}
        self.order = []

    def measure(self, name):
        seq = self.durations[name]
        d = seq[self.calls[name] % len(seq)]
        self.calls[name] += 1
        self.order.append(name)
        self.now += d
        return d

    def clock(self):
        return self.now


def _run(machine, rounds=10, **kw):
    names = list(machine.durations)
    candidates = {n: (lambda: None) for n in names}
    return v.interleaved_rounds(candidates, "bare", [n for n in names if n != "bare"], machine.measure, rounds, **kw)


def test_each_round_puts_every_candidate_between_two_reference_calls_in_a_changing_order():
    m = FakeMachine({"bare": [1.0], "a": [1.0], "b": [2.0]})
    out = _run(m, rounds=6)
    assert out.rounds("a") == out.rounds("b") == 6 and len(out.seconds["bare"]) == 6 * 2 + 1
    assert m.order[::2] == ["bare"] * 13  # every other call, so every candidate call has two neighbours
    rounds = [tuple(m.order[i:i + 5]) for i in range(0, 24, 4)]  # a round starts from the last "bare"
    assert all(sorted(r[1::2]) == ["a", "b"] for r in rounds)
    assert len({r[1] for r in rounds}) == 2  # the order changes from round to round


def test_a_ratio_is_over_the_mean_of_the_two_neighbouring_reference_calls():
    """The machine slows down steadily: each call takes 1 % longer than the one before. A ratio
    over the neighbours cancels that drift; a ratio over a reference call a round away would not."""
    assert v.sandwich_ratio(1.0, 2.2, 1.2) == pytest.approx(2.0)
    m = DriftingMachine({"bare": 1.0, "a": 1.0, "b": 1.5}, drift=0.01)
    out = _run(m, rounds=10)
    assert out.ratios["a"] == pytest.approx([1.0] * 10, rel=1e-3)
    assert out.ratios["b"] == pytest.approx([1.5] * 10, rel=1e-3)


class DriftingMachine(FakeMachine):
    """Every call of a candidate costs its base time, times 1 + drift per call made before it."""

    def __init__(self, base, drift):
        super().__init__({n: [b] for n, b in base.items()})
        self.base, self.drift, self.n = base, drift, 0

    def measure(self, name):
        d = self.base[name] * (1 + self.drift) ** self.n
        self.n += 1
        self.order.append(name)
        self.now += d
        return d


def test_bad_round_counts_and_names_are_refused():
    m = FakeMachine({"bare": [1.0], "a": [1.0]})
    with pytest.raises(ValueError, match="need at least 2 rounds, got 1"):
        _run(m, rounds=1)
    with pytest.raises(ValueError, match="'zz' is not a candidate"):
        v.interleaved_rounds({"bare": lambda: None}, "bare", ["zz"], m.measure, 3)
    with pytest.raises(ValueError, match="the reference 'bare' cannot be compared with itself"):
        v.interleaved_rounds({"bare": lambda: None}, "bare", ["bare"], m.measure, 3)


def test_warmup_calls_are_made_but_not_timed():
    seen = []
    m = FakeMachine({"bare": [1.0], "a": [1.0]})
    candidates = {"bare": lambda: seen.append("bare"), "a": lambda: seen.append("a")}
    out = v.interleaved_rounds(candidates, "bare", ["a"], m.measure, 3, warmup=2)
    assert seen == ["bare", "a"] * 2 and out.seconds == {"bare": [1.0] * 4, "a": [1.0] * 3}


def test_spread_is_the_interquartile_range_of_ratios_lag_calls_apart():
    times = [1.0, 1.0, 2.0, 2.0, 1.0, 1.0, 2.0, 2.0, 1.0]  # ratios at lag 1: 1, 2, 1, 0.5, 1, 2, 1, 0.5
    assert v.spread(times, 1) == pytest.approx(0.375)  # quartiles 0.875 and 1.25 (linear, numpy's default)
    assert v.spread(times, 4) == 0.0  # a period of 4: calls 4 apart are equal
    with pytest.raises(ValueError, match="need 1 <= lag < 9"):
        v.spread(times, 9)


def test_the_t_quantiles_are_students():
    """The table against an independent source: scipy's Student t distribution."""
    from scipy.stats import t

    assert v.T975 == pytest.approx([t.ppf(0.975, df) for df in range(1, len(v.T975) + 1)], abs=1e-4)
    assert v.MAX_BLOCKS == len(v.T975) + 1


def test_the_block_interval_is_students_t_interval_of_the_mean():
    # mean 1.0, sample sd 0.02 over 3 blocks: half-width t(0.975, 2) * 0.02 / sqrt(3) = 0.049683
    lo, hi = v.block_interval([1.0, 1.02, 0.98])
    assert (lo, hi) == pytest.approx((1.0 - 0.049683, 1.0 + 0.049683), abs=1e-6)
    assert v.block_interval([1.5] * 4) == (1.5, 1.5)
    with pytest.raises(ValueError, match="2 to 40 blocks, got 1"):
        v.block_interval([1.0])
    with pytest.raises(ValueError, match="2 to 40 blocks, got 41"):
        v.block_interval([1.0] * 41)


def test_judge_blocks_takes_the_mean_of_each_blocks_median():
    verdict = v.judge_blocks([[1.0, 1.1, 5.0], [0.9, 1.0, 1.0], [1.02, 1.0, 0.0]])  # medians 1.1, 1.0, 1.0
    assert verdict.block_ratios == (1.1, 1.0, 1.0) and verdict.rounds == 9
    assert verdict.ratio == pytest.approx(3.1 / 3)
    assert verdict.interval == v.block_interval([1.1, 1.0, 1.0])
    assert verdict.verdict == v.UNDECIDED and not verdict.settled


class ProcessMachine:
    """Blocks whose ratios scatter little within a block around an offset of their own: each
    fresh process runs a little faster or slower than the next, as on a shared machine."""

    def __init__(self, true_ratio, between=0.02, within=0.01, rounds=20, seconds=10.0, seed=0):
        import numpy as np

        self.rng, self.true, self.between, self.within = np.random.default_rng(seed), true_ratio, between, within
        self.rounds, self.seconds, self.now, self.blocks = rounds, seconds, 0.0, []

    def run_block(self, open_, k):
        self.blocks.append(list(open_))
        self.now += self.seconds
        out = {}
        for name in open_:
            offset = self.rng.normal(0.0, self.between)
            out[name] = list(self.true[name] + offset + self.rng.normal(0.0, self.within, self.rounds))
        return out

    def clock(self):
        return self.now


def test_one_process_claims_a_precision_that_the_blocks_do_not_and_their_interval_covers_the_truth():
    """Within one block the bootstrap interval is narrow and misses the true ratio; the t interval
    over blocks, whose medians carry the process-to-process scatter, contains it."""
    m = ProcessMachine({"a": 1.0}, between=0.02, within=0.005, seed=3)
    blocks = v.blocked_runs(m.run_block, ["a"], 12, 12, 1e9, clock=m.clock)["a"]
    one = v.bootstrap_interval(blocks[0])
    assert not one[0] <= 1.0 <= one[1] and v.half_width(one) < 0.005
    missed = sum(not (lambda lo_hi: lo_hi[0] <= 1.0 <= lo_hi[1])(v.bootstrap_interval(b)) for b in blocks)
    assert missed >= 6  # most single processes miss the truth
    lo, hi = v.judge_blocks(blocks).interval
    assert lo <= 1.0 <= hi


def test_blocks_are_added_until_settled_and_a_settled_candidate_leaves():
    m = ProcessMachine({"slow": 2.0, "near": 1.0}, between=0.02, within=0.01)
    blocks = v.blocked_runs(m.run_block, ["slow", "near"], 3, 40, 1e9, clock=m.clock)
    assert len(blocks["slow"]) == 3 and m.blocks[3:] and all(b == ["near"] for b in m.blocks[3:])
    n = len(blocks["near"])
    assert n > 3 and v.judge_blocks(blocks["near"]).settled
    assert not v.judge_blocks(blocks["near"][:-1]).settled  # the block before had not settled it


def test_the_budget_and_the_block_limit_stop_blocks_that_cannot_settle():
    m = ProcessMachine({"a": 1.0}, between=0.2)
    blocks = v.blocked_runs(m.run_block, ["a"], 2, 40, 35.0, clock=m.clock)
    assert len(blocks["a"]) == 4 and m.now >= 35.0  # 10 s a block: the fourth one passes 35 s
    assert not v.judge_blocks(blocks["a"]).settled
    assert len(v.blocked_runs(ProcessMachine({"a": 1.0}, between=0.2).run_block, ["a"], 2, 5, 1e9)["a"]) == 5


def test_blocked_runs_refuses_bad_limits_and_a_block_that_measured_something_else():
    m = ProcessMachine({"a": 1.0})
    with pytest.raises(ValueError, match="2 <= min_blocks <= max_blocks <= 40, got 1 and 5"):
        v.blocked_runs(m.run_block, ["a"], 1, 5, 1.0)
    with pytest.raises(ValueError, match="got 5 and 41"):
        v.blocked_runs(m.run_block, ["a"], 5, 41, 1.0)
    with pytest.raises(ValueError, match="distinct candidates"):
        v.blocked_runs(m.run_block, ["a", "a"], 2, 5, 1.0)
    with pytest.raises(RuntimeError, match=r"block 0 returned ratios for \['b'\], expected some for each of \['a'\]"):
        v.blocked_runs(lambda open_, k: {"b": [1.0]}, ["a"], 2, 5, 1.0)


def test_the_least_number_of_blocks_runs_whatever_the_budget():
    m = ProcessMachine({"a": 1.0}, between=0.2)
    assert len(v.blocked_runs(m.run_block, ["a"], 3, 40, 1.0, clock=m.clock)["a"]) == 3
