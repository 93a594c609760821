"""The benchmark: its ratio bookkeeping, its targets, its JSON, its memory probe's protocol and its
arguments (fast, no subprocess), and a --quick smoke run of the real command (``make smoke``)."""

import json
import pathlib
import subprocess

import pytest

from backbones_tutorial import bench
from backbones_tutorial.__main__ import main
from backbones_tutorial.methods import METHODS, STAGES

ROOT = pathlib.Path(__file__).resolve().parents[1]
COMMITTED = ROOT / "book" / "data" / "bench.json"


def _results(ratios: dict[str, dict[str, float]], scratch: float) -> bench.Results:
    """Results with the given median ratios; every other figure is a placeholder."""
    workloads = {
        w: [bench.MethodResult(m, r, (r - 0.01, r + 0.01), 10.0 * r, 1000, None) for m, r in rows.items()]
        for w, rows in ratios.items()
    }
    return bench.Results(bench.Settings(), {"cpu": "test", "threads": "2", "torch": "x"}, workloads,
                         {w: 10.0 for w in ratios}, {w: None for w in ratios},
                         {"ratio_median": scratch, "ours_ms": 1.0, "torchvision_ms": 1.0},
                         {m: {"torch.fx": True} for m in METHODS})


EVERY_METHOD_AT_ONE = {w: {m: 1.0 for m in METHODS} for w in bench.WORKLOADS}


def test_interleaved_ratios_divide_by_the_reference_of_the_same_round_and_shuffle(monkeypatch):
    monkeypatch.setattr(bench, "_timer", lambda device: (lambda fn: fn()))  # "seconds" = return value
    calls = []
    durations = {"bare": [1.0, 2.0, 4.0, 1.0, 2.0, 4.0], "a": [1.1, 2.2, 4.4, 1.1, 2.2, 4.4],
                 "b": [3.0, 6.0, 12.0, 3.0, 6.0, 12.0]}

    def candidate(name):
        def fn():
            calls.append(name)
            return durations[name][calls.count(name) - 1]
        return fn

    out = bench.interleaved_ratios({n: candidate(n) for n in durations}, "bare", rounds=6, warmup=0, device="cpu")
    assert out["a"][0] == pytest.approx([1.1] * 6)  # per-round ratio, not ratio of medians
    assert out["b"][0] == pytest.approx([3.0] * 6)
    assert out["b"][1] == durations["b"]  # and the seconds themselves
    rounds = [calls[i:i + 3] for i in range(0, 18, 3)]
    assert all(sorted(r) == ["a", "b", "bare"] for r in rounds)  # each candidate once per round
    assert len({tuple(r) for r in rounds}) > 1  # in an order that changes between rounds


def test_warmup_calls_are_not_timed(monkeypatch):
    monkeypatch.setattr(bench, "_timer", lambda device: (lambda fn: fn()))
    seen = []
    out = bench.interleaved_ratios({"bare": lambda: seen.append(1) or 1.0}, "bare", rounds=3, warmup=2, device="cpu")
    assert len(seen) == 5 and out["bare"][0] == [1.0, 1.0, 1.0]


def test_targets_are_the_methods_that_stop_early_and_the_from_scratch_resnet():
    """By the stop rules: all five methods but the hooks for all stages, children, fx and
    IntermediateLayerGetter for layer2 alone, then the from-scratch ResNet34."""
    ratios = {"all stages": {m: 1.0 for m in METHODS}, "layer2 only": {m: 1.0 for m in METHODS}}
    ratios["all stages"]["wrapper"] = 1.05  # missed: 5 % slower
    ratios["layer2 only"]["fx"] = 1.02  # met: within 3 %
    checks = bench.targets(_results(ratios, scratch=1.04))
    assert [(t.workload, t.label) for t in checks] == [
        ("all stages", "children"), ("all stages", "subclass"), ("all stages", "wrapper"), ("all stages", "fx"),
        ("all stages", "intermediate_layer_getter"), ("layer2 only", "children"), ("layer2 only", "fx"),
        ("layer2 only", "intermediate_layer_getter"), (None, "from-scratch ResNet34"),
    ]
    assert [t.label for t in checks if not t.met] == ["wrapper", "from-scratch ResNet34"]
    assert all(t.tolerance == 0.03 for t in checks)
    assert checks[2].ratio == 1.05 and checks[6].ratio == 1.02 and checks[-1].ratio == 1.04
    assert checks[6].text == "layer2 only: fx within 3% of bare (1.020)"
    assert checks[-1].text == "from-scratch ResNet34 within 3% of torchvision's (1.040)"
    assert checks[6].subject == "fx (layer2 only)" and checks[-1].subject == "from-scratch ResNet34"


def test_a_wider_tolerance_changes_the_outcome():
    ratios = {w: dict(rows) for w, rows in EVERY_METHOD_AT_ONE.items()}
    ratios["layer2 only"]["children"] = 1.05
    assert not bench.targets(_results(ratios, 1.0))[5].met
    wide = bench.targets(_results(ratios, 1.0), tolerance=0.10)
    assert wide[5].met and wide[5].text == "layer2 only: children within 10% of bare (1.050)"


def test_the_command_and_the_readme_print_each_target_with_its_outcome():
    ratios = {w: dict(rows) for w, rows in EVERY_METHOD_AT_ONE.items()}
    ratios["all stages"]["fx"] = 1.2
    run = _results(ratios, 1.0)
    lines = bench.format_targets(run)
    assert lines[3] == "MISSED: all stages: fx within 3% of bare (1.200)"
    assert lines[0] == "met: all stages: children within 3% of bare (1.000)"
    summary = bench.markdown_summary([run])
    assert "- missed: all stages: fx within 3% of bare (1.200)\n" in summary
    assert "- met: from-scratch ResNet34 within 3% of torchvision's (1.000)\n" in summary


def test_results_find_a_methods_row_and_name_what_they_lack():
    run = _results({"all stages": {"fx": 1.5, "hooks": 2.0}}, 1.0)
    assert run.result("hooks", "all stages").ratio_median == 2.0
    with pytest.raises(ValueError, match="unknown workload 'layer2 only'; valid choices: 'all stages'"):
        run.result("fx", "layer2 only")
    with pytest.raises(ValueError, match="unknown method of workload 'all stages' 'children'"):
        run.result("children", "all stages")


def test_the_committed_results_load_and_write_back_unchanged():
    """bench.load reads book/data/bench.json, and to_json writes the very same text back."""
    runs = bench.load(COMMITTED)
    assert bench.to_json(runs) == COMMITTED.read_text()
    (run,) = runs
    assert list(run.workloads) == list(bench.WORKLOADS)
    assert all([r.method for r in rows] == list(METHODS) for rows in run.workloads.values())
    assert run.settings.size == 224 and run.settings.rounds >= 30  # a full run, not --quick


def test_json_round_trip_of_results_built_by_hand(tmp_path):
    run = _results(EVERY_METHOD_AT_ONE, 0.99)
    path = tmp_path / "bench.json"
    path.write_text(bench.to_json([run, run]))
    assert bench.load(path) == [run, run]
    assert json.loads(path.read_text())[0]["workloads"]["layer2 only"][0]["ratio_iqr"] == [0.99, 1.01]


def test_load_rejects_a_file_that_is_not_bench_output(tmp_path):
    bad = tmp_path / "x.json"
    bad.write_text('{"a": 1}')
    with pytest.raises(ValueError, match="not a results file"):
        bench.load(bad)


def test_the_memory_probe_reports_the_last_line_of_its_subprocess(monkeypatch):
    seen = []

    def fake_run(args, **kwargs):
        seen.append((args, kwargs["env"]["MALLOC_MMAP_THRESHOLD_"]))
        out = {"fx": "a warning\n12.5\n", "hooks": "None\n"}.get(args[3], "")
        return subprocess.CompletedProcess(args, 0 if out else 1, out, "Traceback: boom")

    monkeypatch.setattr(bench.subprocess, "run", fake_run)
    settings = bench.Settings(size=40, batch=2)
    assert bench.peak_memory_mib("fx", "layer2 only", settings) == 12.5
    assert bench.peak_memory_mib("hooks", "all stages", settings) is None
    with pytest.raises(RuntimeError, match="memory probe for children / all stages failed:\nTraceback: boom"):
        bench.peak_memory_mib("children", "all stages", settings)
    args, threshold = seen[0]
    assert args[1:] == ["-m", "backbones_tutorial.bench", "fx", "layer2 only", "cpu", "40", "2"]
    assert threshold == str(128 * 1024)


def test_bench_rejects_cuda_without_a_gpu_and_tiny_settings(capsys):
    import torch

    if not torch.cuda.is_available():
        with pytest.raises(SystemExit) as e:
            main(["bench", "--device", "cuda"])
        assert e.value.code == 2 and "torch.cuda.is_available() is False" in capsys.readouterr().err
    with pytest.raises(SystemExit) as e:
        main(["bench", "--rounds", "1"])
    assert e.value.code == 2 and "--rounds >= 3" in capsys.readouterr().err
    with pytest.raises(SystemExit) as e:
        main(["bench", "--size", "16"])
    assert e.value.code == 2 and "--size >= 32" in capsys.readouterr().err


def test_the_committed_fx_and_torchscript_columns_hold_on_a_small_bottleneck_resnet():
    """The committed matrix comes from ResNet50; the same methods on a ResNet of the same
    Bottleneck blocks, one per stage, must give the same torch.fx and TorchScript answers.
    (torch.compile costs seconds per method on 2 cores: the smoke run checks that column, on
    ResNet50 itself.)"""
    import torch
    from torchvision.models.resnet import Bottleneck, ResNet

    from backbones_tutorial.methods import compatibility

    (run,) = bench.load(COMMITTED)
    torch.manual_seed(0)
    small = ResNet(Bottleneck, [1, 1, 1, 1]).eval()
    tools = ("torch.fx", "TorchScript")
    live = {m: compatibility(m, small, STAGES, tools=tools) for m in METHODS}
    assert live == {m: {t: run.compatibility[m][t] for t in tools} for m in METHODS}


def test_readme_reports_the_committed_results():
    import re

    block = re.search(r"<!-- bench:start -->\n(.*?)<!-- bench:end -->", (ROOT / "README.md").read_text(), re.S)
    assert block, "README.md lost its bench block"
    want = bench.markdown_summary(bench.load(COMMITTED))
    assert block.group(1) == want, "README.md's benchmark table is stale: run make readme"


@pytest.mark.smoke
def test_bench_quick_writes_results_for_every_method(tmp_path, capsys):
    """The command end to end, memory probes included, as a --quick run (64 x 64, 3 rounds; most
    of its time goes to starting the 14 probe processes and to torch.compile, not to the input
    size); its compatibility matrix (ResNet50, all three tools) must be the committed one."""
    out = tmp_path / "bench.json"
    argv = ["bench", "--quick", "--device", "cpu", "--out", str(out), "--plot", str(tmp_path / "b.png")]
    assert main(argv) == 0
    printed = capsys.readouterr()
    (run,) = bench.load(out)
    assert list(run.workloads) == list(bench.WORKLOADS)
    for rows in run.workloads.values():
        assert [r.method for r in rows] == list(METHODS)
        for r in rows:
            assert r.ratio_median > 0 and r.ratio_iqr[0] <= r.ratio_median <= r.ratio_iqr[1]
            assert r.params > 0
            assert r.peak_memory_mib is None or r.peak_memory_mib >= 0
    assert run.scratch_vs_torchvision["ratio_median"] > 0
    assert all(m in printed.out for m in METHODS) and "wrote" in printed.out
    assert printed.out.count("met: ") + printed.out.count("MISSED: ") == len(bench.targets(run))
    assert "[bench cpu] all stages" in printed.err  # progress is visible
    assert (tmp_path / "b.png").stat().st_size > 0
    assert json.loads(out.read_text())[0]["settings"]["size"] == 64
    (committed,) = bench.load(COMMITTED)
    assert run.compatibility == committed.compatibility  # chapter 6 shows the committed matrix
