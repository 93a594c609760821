"""Chapter 6's comparison of the extraction methods, as checks that can be tested.

- ``run_snippet``: execute the code a user writes for a method and check its ``extractor``
  against ``BareForward``;
- ``check_methods``: does every method of ``build_extractor`` return the reference tensors, bit
  for bit, for each workload;
- ``reaches_nested``: which methods return the output of a module inside a stage (``layer3.1``);
- ``comparison_table``: one row per method, from these checks, ``METHOD_TABLE`` and the
  benchmark's results; and the phrases the chapter's prose reads from them.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import torch
import torchvision
from torch import nn
from torchvision.models._utils import IntermediateLayerGetter
from torchvision.models.feature_extraction import create_feature_extractor

from backbones_tutorial.bench.compat import works as compat_works
from backbones_tutorial.bench.report import Target, fmt_mib, format_interval, rounds_text
from backbones_tutorial.bench.report import agreement as bench_agreement
from backbones_tutorial.bench.results import BenchSettings, Results
from backbones_tutorial.bench.verdicts import bootstrap_interval
from backbones_tutorial.checks import check_choice
from backbones_tutorial.display import Table
from backbones_tutorial.extractors.cut import truncate
from backbones_tutorial.extractors.methods import (
    METHOD_TABLE,
    METHODS,
    STAGES,
    BareForward,
    HookExtractor,
    build_extractor,
)

__all__ = ["Reach", "Snippet", "agreement_facts", "block_facts", "check_methods", "comparison_table",
           "compatibility_phrase", "count_lines", "equality_table", "missed_phrase", "nested_table", "ratio_range",
           "reaches_nested", "rerun_facts", "run_kind", "run_snippet", "same_tensors", "single_block_facts"]

_WORDS = {1: "one", 2: "two", 3: "three", 4: "four", 5: "five", 6: "six", 7: "seven", 8: "eight", 9: "nine"}


def same_tensors(got: Sequence[torch.Tensor], expected: Sequence[torch.Tensor]) -> bool:
    """True if the two sequences hold identical tensors: same length, shapes, dtypes and values,
    with no tolerance at all."""
    if len(got) != len(expected):
        return False
    try:
        for a, b in zip(got, expected, strict=True):
            torch.testing.assert_close(a, b, rtol=0, atol=0)
    except AssertionError:
        return False
    return True


def count_lines(code: str) -> int:
    """The non-blank lines of ``code``: how the chapter counts the code a user writes."""
    return sum(1 for line in code.splitlines() if line.strip())


def _remove_hooks(extractor: object) -> None:
    if isinstance(extractor, HookExtractor):
        extractor.remove()  # hooks stay on the model until removed


@dataclass(frozen=True)
class Snippet:
    """A user's snippet after it ran: its code, what it defined, whether it returned the reference."""

    code: str
    namespace: dict[str, object]
    returns_reference: bool

    @property
    def lines(self) -> int:
        return count_lines(self.code)


def run_snippet(code: str, model: nn.Module, x: torch.Tensor, layers: Sequence[str] = STAGES,
                show: bool = True) -> Snippet:
    """Execute ``code``, which must define ``extractor``, with ``model``, ``torch``,
    ``torchvision`` and ``nn`` in scope; check that ``extractor(x)`` returns ``BareForward``'s
    maps of ``layers`` (a dict's values count in order). ``show``: display the code as a Markdown
    block and print the line count and the check (what chapter 6 shows under each method)."""
    with torch.no_grad():
        want = BareForward(model, layers)(x)
    namespace: dict[str, object] = {"model": model, "torch": torch, "torchvision": torchvision, "nn": nn}
    exec(code, namespace)
    extractor = namespace.get("extractor")
    if not callable(extractor):
        raise ValueError(f"a snippet must define a callable `extractor`; this one defined {extractor!r}")
    with torch.no_grad():
        got = extractor(x)
    got = list(got.values()) if isinstance(got, dict) else list(got)  # torchvision's extractors: dicts
    snippet = Snippet(code, namespace, same_tensors(got, want))
    if show:
        from IPython.display import Markdown, display

        span = layers[0] if len(layers) == 1 else f"{layers[0]} .. {layers[-1]}"
        display(Markdown(f"```python\n{code}```"))
        print(f"{snippet.lines} lines; returns the reference maps of {span}: {snippet.returns_reference}")
    return snippet


def check_methods(model: torchvision.models.ResNet, x: torch.Tensor,
                  workloads: Mapping[str, Sequence[str]]) -> dict[tuple[str, str], bool]:
    """``{(method, workload): True}`` where ``build_extractor(method, model, layers)`` returns
    exactly ``BareForward``'s tensors for ``x``."""
    with torch.no_grad():
        references = {w: BareForward(model, layers)(x) for w, layers in workloads.items()}
    equal = {}
    for method in METHODS:
        for workload, layers in workloads.items():
            extractor = build_extractor(method, model, layers).eval()
            with torch.no_grad():
                equal[method, workload] = same_tensors(extractor(x), references[workload])
            _remove_hooks(extractor)
    return equal


def equality_table(equal: Mapping[tuple[str, str], bool], workloads: Mapping[str, Sequence[str]],
                   model_name: str) -> Table:
    """``check_methods``'s answers, with each method's stop rule applied to the last workload."""
    last = list(workloads)[-1]
    rows = tuple(
        (m.name, *(str(equal[m.name, w]) for w in workloads), str(m.runs_only_needed_layers(workloads[last])))
        for m in METHOD_TABLE
    )
    return Table(
        ("method", *(f"equal: {w}" for w in workloads), f"stops after the deepest layer ({last})"), rows,
        caption=f"build_extractor(method, {model_name}, layers) against BareForward, rtol=0 and atol=0",
    )


@dataclass(frozen=True)
class Reach:
    """Whether a method returned a nested module's output, and how (or why not)."""

    reaches: bool
    how: str


def reaches_nested(method: str, model: torchvision.models.ResNet, x: torch.Tensor, name: str,
                   want: torch.Tensor) -> Reach:
    """Can ``method`` return the output of the nested module ``name`` (``"layer3.1"``), whose true
    output for ``x`` is ``want``? Each method is asked in its own way; the subclass and the wrapper
    as they are, since their forward returns a fixed list of maps."""
    check_choice(method, METHODS, "extraction method")
    model.get_submodule(name)  # raises for a name that is not a module of the model
    with torch.no_grad():
        if method == "children":
            return Reach(torch.equal(truncate(model, name)(x), want), f'truncate(model, "{name}")')
        if method == "fx":
            got = create_feature_extractor(model, {name: "out"})(x)["out"]
            return Reach(torch.equal(got, want), f'create_feature_extractor(model, {{"{name}": ...}})')
        if method == "hooks":
            hooked = HookExtractor(model, [name])
            got = hooked(x)[0]
            hooked.remove()
            return Reach(torch.equal(got, want), f'HookExtractor(model, ["{name}"])')
        if method == "intermediate_layer_getter":
            try:
                getter = IntermediateLayerGetter(model, {name: "out"})
            except ValueError:
                return Reach(False, "refuses the name: top-level children only")
            return Reach(torch.equal(getter(x)["out"], want), f'IntermediateLayerGetter(model, {{"{name}": ...}})')
        extractor = build_extractor(method, model, STAGES).eval()  # subclass, wrapper
        found = any(torch.equal(level, want) for level in extractor(x))
        return Reach(found, "one of its outputs" if found else "none of its outputs: edit forward")


def nested_table(nested: Mapping[str, Reach], name: str) -> Table:
    return Table(
        ("method", f"returns {name}", "how / why not"),
        tuple((m, str(r.reaches), r.how) for m, r in nested.items()),
        caption=f"asking each method for the output of {name}, checked with torch.equal",
    )


def _yes_no(flag: bool) -> str:
    return "yes" if flag else "no"


def comparison_table(run: Results, lines: Mapping[str, int], nested: Mapping[str, bool]) -> Table:
    """One row per method: the lines of its snippet, whether it needs the source, whether it
    reaches a nested module, how many tools of the compatibility matrix work, and the benchmark's parameters, time ratio
    and peak memory for each workload (``a / b``), then its pitfall."""
    workloads = list(run.workloads)
    works = compat_works(run.compatibility)

    def per_workload(method: str, fmt) -> str:
        return " / ".join(fmt(run.result(method, w)) for w in workloads)

    rows = tuple(
        (
            m.name, str(lines[m.name]), m.source, _yes_no(nested[m.name]),
            f"{sum(works[m.name].values())} of {len(works[m.name])}",
            per_workload(m.name, lambda r: f"{r.params / 1e6:.1f}M"),
            per_workload(m.name, lambda r: f"{r.ratio_median:.2f}"),
            per_workload(m.name, lambda r: fmt_mib(r.peak_memory_mib)),
            m.pitfall,
        )
        for m in METHOD_TABLE
    )
    s = run.settings
    return Table(
        ("method", "lines", "needs source", "nested", "tools that work", "parameters", "time / bare", "peak MiB",
         "pitfall"),
        rows,
        caption=(f"{_WORDS[len(METHOD_TABLE)].capitalize()} ways to extract ResNet50 features. Parameters, "
                 f"time and memory: {' / '.join(workloads)}; {s.device}, input {s.batch} x 3 x {s.size} x "
                 f"{s.size}; time: the mean of the blocks' median ratios, {rounds_text(run)}"),
    )


def ratio_range(run: Results, methods: Sequence[str], workload: str) -> tuple[float, float]:
    """The lowest and the highest median ratio of ``methods`` in ``workload``."""
    ratios = [run.result(m, workload).ratio_median for m in methods]
    return min(ratios), max(ratios)


def _and(items: Sequence[str]) -> str:
    """["a", "b", "c"] -> "a, b and c"."""
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def compatibility_phrase(result_by_tool: Mapping[str, bool]) -> str:
    """``{"torch.fx": True, "TorchScript": False, ...}`` as a clause of the chapter's prose."""
    passed = [tool for tool, ok in result_by_tool.items() if ok]
    failed = [tool for tool, ok in result_by_tool.items() if not ok]
    count = _WORDS.get(len(result_by_tool), str(len(result_by_tool)))
    if not failed:
        return f"passed all {count} compatibility checks"
    if not passed:
        return f"failed all {count} compatibility checks"
    checks = "checks" if len(failed) > 1 else "check"
    return f"failed the {_and(failed)} {checks} but passed the other {_WORDS.get(len(passed), str(len(passed)))}"


def missed_phrase(targets: Sequence[Target]) -> str:
    """The targets not met, as a clause, each with its verdict and interval: "none was missed",
    "not met: fx (layer2 only), undecided (1.021-1.038)"."""
    missed = [f"{t.subject}, {t.verdict} ({format_interval(t.interval)})" for t in targets if not t.met]
    return "none was missed" if not missed else "not met: " + _and(missed)


def run_kind(settings: BenchSettings) -> str:
    """Whether a run used the default input size and rounds, as a clause of the chapter's prose."""
    default = BenchSettings()
    if settings.size >= default.size and settings.rounds >= default.rounds:
        return "a full run, with the default input size and number of rounds"
    return "a short run, with a smaller input or fewer rounds than the defaults, so treat its ratios as rough"


def agreement_facts(run: Results, other: Results) -> dict[str, object]:
    """How far ``other`` (a later run of the same command) reached ``run``'s verdicts, as values
    for ``prose``: ``n_agree`` of ``n_compared`` agree; ``rerun_differs`` names those that differ
    (an empty string when none does); ``differ_unsettled`` is True when every one that differs is
    undecided in ``other`` with its budget spent."""
    both = bench_agreement(run, other)
    differ = [(name, a, b) for name, a, b in both if a != b]
    rows = {f"{w} / {r.method}": r for w, results in other.workloads.items() for r in results}
    return {
        "n_agree": len(both) - len(differ), "n_compared": len(both),
        "rerun_differs": "; they differ on " + ", ".join(f"{n} ({a} then {b})" for n, a, b in differ) if differ else "",
        "differ_unsettled": all(n in rows and rows[n].verdict == "undecided" and not rows[n].settled
                                for n, _, _ in differ),
    }


def rerun_facts(run: Results, rerun: Results) -> dict[str, object]:
    """What chapter 6 says about a second run of the benchmark, as values for ``prose``: the
    counts of ``agreement_facts``; the comparison whose ratio moved most between the two runs
    (``most_moved``), by how much, relative, whichever run is the larger (``moved``); and the bare
    forward's median over all stages in each run (``bare_run``, ``bare_rerun``)."""
    agreed = agreement_facts(run, rerun)
    a, b = run.comparisons(), rerun.comparisons()
    moved = {k: max(a[k].ratio / b[k].ratio, b[k].ratio / a[k].ratio) - 1 for k in a}
    most = max(moved, key=lambda k: moved[k])
    first = next(iter(run.workloads))
    return {
        "n_agree": agreed["n_agree"], "n_compared": agreed["n_compared"], "rerun_differs": agreed["rerun_differs"],
        "most_moved": most, "moved": moved[most], "bare_run": run.bare_ms[first], "bare_rerun": rerun.bare_ms[first],
    }


def block_facts(run: Results, near: float = 0.1) -> dict[str, object]:
    """How much one block (fresh process) differs from the next, as values for ``prose``: the
    number of blocks (``blocks_lo`` to ``blocks_hi``); the range of the bare forward's median over
    the blocks of the first workload (``bare_block_lo``, ``bare_block_hi``, ms); and, among the
    comparisons whose ratio is within ``near`` of 1, the widest spread of the block medians
    (highest over lowest, minus 1: ``block_spread``, of ``block_spread_of``) and the widest
    half-width of an interval (``widest_half``)."""
    comparisons = run.comparisons()
    near_1 = {k: c for k, c in comparisons.items() if abs(c.ratio - 1) < near}
    spread = {k: max(c.block_ratios) / min(c.block_ratios) - 1 for k, c in near_1.items()}
    widest = max(spread, key=lambda k: spread[k])
    counts = [len(c.block_ratios) for c in comparisons.values()]
    bare = run.bare_block_ms[next(iter(run.workloads))]
    return {
        "blocks_lo": min(counts), "blocks_hi": max(counts), "bare_block_lo": min(bare), "bare_block_hi": max(bare),
        "block_spread": spread[widest], "block_spread_of": widest,
        "widest_half": max((c.interval[1] - c.interval[0]) / 2 for c in near_1.values()),
    }


def single_block_facts(run: Results) -> dict[str, object]:
    """What an interval over the rounds of one process claims, as values for ``prose``: for every
    comparison and block, the bootstrap interval of the block's median round ratio
    (``verdicts.bootstrap_interval``); its median half-width (``one_block_half``); and in how many
    of those intervals (``block_intervals``) the comparison's ratio over all blocks does not lie
    (``block_missed``). A 95 % interval that described a rerun would miss about one in twenty."""
    intervals = [(c.ratio, bootstrap_interval(rounds)) for c in run.comparisons().values() for rounds in c.round_ratios]
    return {
        "one_block_half": statistics.median((hi - lo) / 2 for _, (lo, hi) in intervals),
        "block_intervals": len(intervals),
        "block_missed": sum(not lo <= ratio <= hi for ratio, (lo, hi) in intervals),
    }
