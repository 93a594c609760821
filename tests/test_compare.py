"""Chapter 6's checks: snippets against the reference, every method against the reference, which
methods reach a nested module, and the tables and phrases built from them."""

import pathlib

import pytest
import torch
import torchvision
from conftest import random_bn_statistics
from torchvision.models.feature_extraction import create_feature_extractor

from backbones_tutorial.bench import compare, report, results
from backbones_tutorial.extractors.methods import METHODS, STAGES

COMMITTED = pathlib.Path(__file__).resolve().parents[1] / "book" / "data" / "bench.json"
WORKLOADS = {"all stages": list(STAGES), "layer2 only": ["layer2"]}


@pytest.fixture(scope="module")
def resnet18():
    """A small torchvision ResNet with non-trivial BatchNorm statistics (so no block is close to
    an identity), and an odd-sized input."""
    torch.manual_seed(0)
    model = torchvision.models.resnet18(weights=None).eval()
    random_bn_statistics(model, seed=1)  # a wrong mode or weight shows in the values
    return model


@pytest.fixture(scope="module")
def x():
    return torch.randn(1, 3, 45, 61, generator=torch.Generator().manual_seed(2))


def _hooks_left(model) -> int:
    return sum(len(m._forward_hooks) for m in model.modules())


def test_same_tensors_accepts_only_identical_tensors():
    a = torch.arange(6.0).reshape(2, 3)
    assert compare.same_tensors([a, a + 1], [a.clone(), a + 1])
    assert not compare.same_tensors([a], [a + 1e-7])  # no tolerance
    assert not compare.same_tensors([a], [a.double()])  # nor a different dtype
    assert not compare.same_tensors([a], [a.reshape(3, 2)])
    assert not compare.same_tensors([a], [a, a])  # nor a missing map


def test_count_lines_counts_the_non_blank_lines():
    assert compare.count_lines("import torch\n\n\ndef f(x):\n    return x\n   \n") == 3
    assert compare.count_lines("") == 0


FX_SNIPPET = '''\
from torchvision.models.feature_extraction import create_feature_extractor

extractor = create_feature_extractor(model, {"layer1": "c2", "layer2": "c3", "layer3": "c4", "layer4": "c5"})
'''


def test_run_snippet_executes_shows_and_checks_a_users_code(resnet18, x, capsys):
    snippet = compare.run_snippet(FX_SNIPPET, resnet18, x)
    assert snippet.returns_reference and snippet.lines == 2
    with torch.no_grad():  # what the snippet defined is the user's extractor, usable afterwards
        got = snippet.namespace["extractor"](x)
        want = create_feature_extractor(resnet18, {s: s for s in STAGES})(x)
    assert all(torch.equal(a, b) for a, b in zip(got.values(), want.values(), strict=True))
    out = capsys.readouterr().out
    assert "2 lines; returns the reference maps of layer1 .. layer4: True" in out
    assert "Markdown object" in out  # displayed (outside a notebook display() prints its repr)


def test_run_snippet_says_when_the_maps_are_not_the_reference(resnet18, x, capsys):
    off_by_one = FX_SNIPPET.replace('"layer1": "c2", ', "").replace('"layer4": "c5"', '"layer4": "c5", "avgpool": "p"')
    assert not compare.run_snippet(off_by_one, resnet18, x, show=False).returns_reference
    one_stage = ("stem = nn.Sequential(model.conv1, model.bn1, model.relu, model.maxpool)\n"
                 "extractor = lambda x: [model.layer2(model.layer1(stem(x)))]\n")
    assert compare.run_snippet(one_stage, resnet18, x, layers=["layer2"]).returns_reference
    assert "2 lines; returns the reference maps of layer2: True" in capsys.readouterr().out
    assert not compare.run_snippet(one_stage, resnet18, x, show=False).returns_reference  # 1 map, 4 wanted
    with pytest.raises(ValueError, match="must define a callable `extractor`; this one defined None"):
        compare.run_snippet("features = {}", resnet18, x, show=False)


def test_check_methods_finds_every_method_equal_and_leaves_no_hook(resnet18, x):
    equal = compare.check_methods(resnet18, x, WORKLOADS)
    assert equal == {(m, w): True for m in METHODS for w in WORKLOADS}
    assert _hooks_left(resnet18) == 0


def test_check_methods_reports_a_method_that_returns_other_tensors(resnet18, x, monkeypatch):
    real = compare.build_extractor

    class Shifted(torch.nn.Module):  # the right maps, each off by 1e-6
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, x):
            return [t + 1e-6 for t in self.inner(x)]

    def broken(method, model, layers):
        extractor = real(method, model, layers)
        return Shifted(extractor) if method == "wrapper" else extractor

    monkeypatch.setattr(compare, "build_extractor", broken)
    equal = compare.check_methods(resnet18, x, {"layer2 only": ["layer2"]})
    assert [key for key, ok in equal.items() if not ok] == [("wrapper", "layer2 only")]


def test_the_equality_table_shows_the_checks_and_the_stop_rule_for_the_last_workload():
    equal = {(m, w): not (m == "fx" and w == "layer2 only") for m in METHODS for w in WORKLOADS}
    table = compare.equality_table(equal, WORKLOADS, "resnet18")
    assert table.columns == ("method", "equal: all stages", "equal: layer2 only",
                             "stops after the deepest layer (layer2 only)")
    assert table.rows[3] == ("fx", "True", "False", "True")
    assert table.rows[1] == ("subclass", "True", "True", "False")
    assert table.rows[5] == ("hooks", "True", "True", "False")
    assert table.caption == "build_extractor(method, resnet18, layers) against BareForward, rtol=0 and atol=0"


@pytest.fixture(scope="module")
def layer3_0(resnet18, x):
    """The output of layer3.0, the first of layer3's two blocks, by calling the modules by hand."""
    m = resnet18
    with torch.no_grad():
        h = m.maxpool(m.relu(m.bn1(m.conv1(x))))
        return m.layer3[0](m.layer2(m.layer1(h)))


def test_reaches_nested_finds_the_methods_that_return_a_block_inside_a_stage(resnet18, x, layer3_0):
    nested = {m: compare.reaches_nested(m, resnet18, x, "layer3.0", layer3_0) for m in METHODS}
    assert {m for m, r in nested.items() if r.reaches} == {"children", "fx", "hooks"}
    assert nested["children"].how == 'truncate(model, "layer3.0")'
    assert nested["intermediate_layer_getter"].how == "refuses the name: top-level children only"
    assert nested["subclass"].how == nested["wrapper"].how == "none of its outputs: edit forward"
    assert _hooks_left(resnet18) == 0


def test_reaches_nested_says_no_when_the_tensor_is_not_the_modules_output(resnet18, x, layer3_0):
    wrong = layer3_0.relu() + 1  # the right shape, other values
    assert not any(compare.reaches_nested(m, resnet18, x, "layer3.0", wrong).reaches for m in METHODS)
    with pytest.raises(ValueError, match="unknown extraction method 'slices'"):
        compare.reaches_nested("slices", resnet18, x, "layer3.0", layer3_0)
    with pytest.raises(AttributeError):
        compare.reaches_nested("fx", resnet18, x, "layer3.7", layer3_0)


def test_a_top_level_name_is_reached_by_every_method(resnet18, x):
    """layer3 is a stage: the subclass and the wrapper return it, IntermediateLayerGetter accepts it."""
    m = resnet18
    with torch.no_grad():
        want = m.layer3(m.layer2(m.layer1(m.maxpool(m.relu(m.bn1(m.conv1(x)))))))
    assert all(compare.reaches_nested(method, m, x, "layer3", want).reaches for method in METHODS)


def test_the_nested_table_lists_each_answer():
    nested = {"fx": compare.Reach(True, "create_feature_extractor"), "hooks": compare.Reach(False, "no")}
    table = compare.nested_table(nested, "layer3.1")
    assert table.columns == ("method", "returns layer3.1", "how / why not")
    assert table.rows == (("fx", "True", "create_feature_extractor"), ("hooks", "False", "no"))


def test_the_comparison_table_reads_the_runs_records_and_the_matrix():
    run = results.load_runs(COMMITTED)[0]
    lines = {"children": 8, "subclass": 11, "wrapper": 13, "fx": 2, "intermediate_layer_getter": 2, "hooks": 10}
    nested = {m: m in ("children", "fx", "hooks") for m in METHODS}
    table = compare.comparison_table(run, lines, nested)
    assert table.columns == ("method", "lines", "needs source", "nested", "tools that work", "parameters",
                             "time / bare", "peak MiB", "pitfall")
    works = {}
    for c in run.compatibility["cells"]:
        works.setdefault(c["method"], []).append(c["ran"] and c["max_abs_diff"] <= c["tolerance"])
    for row, m in zip(table.rows, METHODS, strict=True):
        all_, l2 = run.result(m, "all stages"), run.result(m, "layer2 only")
        assert row[:4] == (m, str(lines[m]), row[2], "yes" if nested[m] else "no")
        assert row[4] == f"{sum(works[m])} of {len(works[m])}"
        assert row[6] == f"{all_.ratio_median:.2f} / {l2.ratio_median:.2f}"
    assert table.rows[0][2] == "no (slices)" and table.rows[1][2] == "yes (overrides)"
    assert table.caption.startswith("Six ways to extract ResNet50 features.")


def test_ratio_range_is_the_lowest_and_highest_median():
    run = results.load_runs(COMMITTED)[0]
    lo, hi = compare.ratio_range(run, ["children", "fx", "intermediate_layer_getter"], "layer2 only")
    ratios = [r.ratio_median for r in run.workloads["layer2 only"] if r.method in
              ("children", "fx", "intermediate_layer_getter")]
    assert (lo, hi) == (min(ratios), max(ratios))


def test_the_compatibility_phrase_names_what_failed_and_what_passed():
    tools = ("torch.fx", "TorchScript", "torch.compile")
    assert compare.compatibility_phrase(dict.fromkeys(tools, True)) == "passed all three compatibility checks"
    assert compare.compatibility_phrase(dict.fromkeys(tools, False)) == "failed all three compatibility checks"
    assert (compare.compatibility_phrase({"torch.fx": True, "TorchScript": False, "torch.compile": True})
            == "failed the TorchScript check but passed the other two")
    assert (compare.compatibility_phrase({"torch.fx": False, "TorchScript": False, "torch.compile": True})
            == "failed the torch.fx and TorchScript checks but passed the other one")


def _target(label, workload, met):
    ratio = 1.0 if met else 1.1
    return report.Target(workload, label, ratio, (ratio - 0.01, ratio + 0.01), 0.03,
                        "within" if met else "slower", True)


def test_the_missed_phrase_lists_the_missed_targets_with_verdict_and_interval():
    assert compare.missed_phrase([_target("fx", "all stages", True)]) == "none was missed"
    assert (compare.missed_phrase([_target("fx", "layer2 only", False), _target("fx", "all stages", True)])
            == "not met: fx (layer2 only), slower (1.090-1.110)")
    two = [_target("wrapper", "all stages", False), _target("from-scratch ResNet34", None, False)]
    assert compare.missed_phrase(two) == ("not met: wrapper (all stages), slower (1.090-1.110) and "
                                          "from-scratch ResNet34, slower (1.090-1.110)")
    at_bound = report.Target("layer2 only", "fx", 1.0296, (1.0211, 1.0381), 0.03, "undecided", True)
    assert compare.missed_phrase([at_bound]) == "not met: fx (layer2 only), undecided (1.021-1.039)"


def test_run_kind_tells_a_full_run_from_a_short_one():
    assert compare.run_kind(results.BenchSettings(size=224, rounds=20)).startswith("a full run")
    assert compare.run_kind(results.BenchSettings(size=64, rounds=20)).startswith("a short run")
    assert compare.run_kind(results.BenchSettings(size=224, rounds=3)).startswith("a short run")


def _with(run, workload, method, **changes):
    """``run`` with one row of ``workload`` changed."""
    import dataclasses

    rows = [dataclasses.replace(r, **changes) if r.method == method else r for r in run.workloads[workload]]
    return dataclasses.replace(run, workloads={**run.workloads, workload: rows})


def test_rerun_facts_count_the_agreements_and_find_what_moved_most():
    """A rerun that differs from the committed run only in the hooks' ratio (4 % higher, verdict
    slower): 12 of 13 agree, and the hooks moved most, by exactly 4 %."""
    import dataclasses

    run = results.load_runs(COMMITTED)[0]
    hooks = run.result("hooks", "all stages")
    rerun = _with(run, "all stages", "hooks", ratio_median=hooks.ratio_median * 1.04, verdict="slower")
    rerun = dataclasses.replace(rerun, bare_ms={**run.bare_ms, "all stages": 200.0})
    facts = compare.rerun_facts(run, rerun)
    assert (facts["n_agree"], facts["n_compared"]) == (12, 13)
    assert facts["rerun_differs"] == f"; they differ on all stages / hooks ({hooks.verdict} then slower)"
    assert facts["most_moved"] == "all stages / hooks" and facts["moved"] == pytest.approx(0.04)
    assert facts["bare_rerun"] == 200.0 and facts["bare_run"] == run.bare_ms["all stages"]
    lower = _with(run, "layer2 only", "fx", ratio_median=run.result("fx", "layer2 only").ratio_median / 1.05)
    assert compare.rerun_facts(lower, run)["moved"] == pytest.approx(0.05)  # whichever run is the larger
    assert compare.rerun_facts(run, run)["rerun_differs"] == "" and compare.rerun_facts(run, run)["moved"] == 0
    assert compare.agreement_facts(run, rerun)["differ_unsettled"] is False  # the hooks' "slower" is settled
    unsettled = _with(run, "all stages", "hooks", verdict="undecided", settled=False)
    assert compare.agreement_facts(run, unsettled)["differ_unsettled"] is (hooks.verdict != "undecided")


def test_block_facts_find_the_widest_spread_between_blocks_of_a_ratio_near_1():
    import dataclasses

    run = results.load_runs(COMMITTED)[0]
    n = len(run.result("fx", "layer2 only").block_ratios)
    wide = _with(run, "layer2 only", "fx", block_ratios=[1.0] * (n - 1) + [1.2])  # 20 % apart
    slow = _with(wide, "layer2 only", "hooks", block_ratios=[2.0] * (n - 1) + [3.0])  # far from 1: not counted
    slow = dataclasses.replace(slow, bare_block_ms={**run.bare_block_ms, "all stages": [100.0, 90.0, 120.0]})
    facts = compare.block_facts(slow)
    assert facts["block_spread_of"] == "layer2 only / fx" and facts["block_spread"] == pytest.approx(0.2)
    assert (facts["bare_block_lo"], facts["bare_block_hi"]) == (90.0, 120.0)
    counts = [len(r.block_ratios) for rows in run.workloads.values() for r in rows]
    assert facts["blocks_lo"] == min(counts + [len(run.scratch_vs_torchvision["block_ratios"])])
    assert 0 < facts["widest_half"] < 0.2


def test_single_block_facts_count_the_block_intervals_that_miss_the_runs_ratio():
    import dataclasses

    def every_row(run, ratio, rounds):
        workloads = {w: [dataclasses.replace(r, ratio_median=ratio, round_ratios=rounds) for r in rows]
                     for w, rows in run.workloads.items()}
        scratch = {**run.scratch_vs_torchvision, "ratio_median": ratio, "round_ratios": rounds}
        return dataclasses.replace(run, workloads=workloads, scratch_vs_torchvision=scratch)

    run = results.load_runs(COMMITTED)[0]
    apart = every_row(run, 1.05, [[1.0, 1.0, 1.0], [1.1, 1.1, 1.1]])  # each block certain, and each wrong
    assert compare.single_block_facts(apart) == {"one_block_half": 0.0, "block_intervals": 26, "block_missed": 26}
    spread = every_row(run, 1.0, [[0.9, 1.0, 1.1], [1.1, 1.0, 0.9]])
    facts = compare.single_block_facts(spread)
    assert facts["block_missed"] == 0 and facts["one_block_half"] > 0
