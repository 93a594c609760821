"""The benchmark: its targets and verdicts, its JSON, its memory probe's protocol and its
arguments (fast, no subprocess), and a --quick smoke run of the real command (``make smoke``)."""

import json
import os
import pathlib
import runpy
import subprocess

import pytest

from backbones_tutorial import bench, bench_report, memory
from backbones_tutorial.__main__ import main
from backbones_tutorial.methods import METHODS

ROOT = pathlib.Path(__file__).resolve().parents[1]
COMMITTED = ROOT / "book" / "data" / "bench.json"
RERUN = ROOT / "book" / "data" / "bench-rerun.json"
THIRD = ROOT / "book" / "data" / "bench-third.json"


def _row(method, ratio, verdict="within", settled=True):
    return bench.MethodResult(method, ratio, (ratio - 0.01, ratio + 0.01), verdict, 30, settled, 10.0 * ratio,
                              1000, None)


def _results(rows: dict[str, dict[str, tuple]], scratch=(1.0, "within"), quick=False) -> bench.Results:
    """Results with the given (ratio, verdict) per method; every other figure is a placeholder."""
    workloads = {w: [_row(m, *rv) for m, rv in r.items()] for w, r in rows.items()}
    return bench.Results(bench.Settings(quick=quick), {"cpu": "test", "threads": "1", "torch": "x"}, workloads,
                         {w: 10.0 for w in rows}, {w: None for w in rows},
                         {"ratio_median": scratch[0], "ratio_interval": [scratch[0] - 0.01, scratch[0] + 0.01],
                          "verdict": scratch[1], "rounds": 30, "settled": True, "ours_ms": 1.0,
                          "torchvision_ms": 1.0}, {})


ALL_WITHIN = {w: {m: (1.0, "within") for m in METHODS} for w in bench.WORKLOADS}


def test_targets_are_the_methods_that_stop_early_and_the_from_scratch_resnet():
    rows = {w: dict(r) for w, r in ALL_WITHIN.items()}
    rows["all stages"]["wrapper"] = (1.05, "slower")
    rows["layer2 only"]["fx"] = (1.02, "undecided")
    checks = bench.targets(_results(rows, scratch=(0.95, "faster")))
    assert [(t.workload, t.label) for t in checks] == [
        ("all stages", "children"), ("all stages", "subclass"), ("all stages", "wrapper"), ("all stages", "fx"),
        ("all stages", "intermediate_layer_getter"), ("layer2 only", "children"), ("layer2 only", "fx"),
        ("layer2 only", "intermediate_layer_getter"), (None, "from-scratch ResNet34"),
    ]
    assert [t.label for t in checks if not t.met] == ["wrapper", "fx", "from-scratch ResNet34"]
    assert checks[6].text == "layer2 only: fx within 3% of bare (1.020, 1.010-1.030)"
    assert checks[-1].text == "from-scratch ResNet34 within 3% of torchvision's (0.950, 0.940-0.960)"
    assert checks[6].subject == "fx (layer2 only)" and checks[-1].subject == "from-scratch ResNet34"


def test_the_command_and_the_readme_print_each_verdict_never_met_outside_the_tolerance():
    rows = {w: dict(r) for w, r in ALL_WITHIN.items()}
    rows["all stages"]["fx"] = (1.2, "slower")
    rows["all stages"]["children"] = (0.968, "faster")  # the old check called this "within 3 %"
    rows["layer2 only"]["children"] = (1.02, "within", False)
    lines = bench.format_targets(_results(rows))
    assert lines[0] == "missed (faster): all stages: children within 3% of bare (0.968, 0.958-0.978)"
    assert lines[3] == "missed (slower): all stages: fx within 3% of bare (1.200, 1.190-1.210)"
    assert lines[5] == "met, budget spent: layer2 only: children within 3% of bare (1.020, 1.010-1.030)"
    assert all(not line.startswith("met") for line in lines if "(0.968" in line or "(1.200" in line)
    summary = bench.markdown_summary([_results(rows)])
    assert "- missed (slower): all stages: fx within 3% of bare (1.200, 1.190-1.210)\n" in summary
    assert "| all stages | fx | 1.200 | 1.190-1.210 | slower | 12.0 | 1,000 | n/a |" in summary


def test_a_quick_run_says_its_verdicts_are_not_meaningful():
    run = _results(ALL_WITHIN, quick=True)
    assert all(line.startswith("not meaningful (quick smoke run): ") for line in bench.format_targets(run))
    assert "missed" not in bench.markdown_summary([run]) and "- met:" not in bench.markdown_summary([run])
    assert bench.verdict_text("slower", True, run.settings) == "(slower: quick, not meaningful)"


def test_results_find_a_methods_row_and_name_what_they_lack():
    run = _results({"all stages": {"fx": (1.5, "slower"), "hooks": (2.0, "slower")}})
    assert run.result("hooks", "all stages").ratio_median == 2.0
    with pytest.raises(ValueError, match="unknown workload 'layer2 only'; valid choices: 'all stages'"):
        run.result("fx", "layer2 only")
    with pytest.raises(ValueError, match="unknown method of workload 'all stages' 'children'"):
        run.result("children", "all stages")


def test_the_committed_results_load_and_write_back_unchanged():
    """bench.load reads book/data/bench.json, and to_json writes the very same text back."""
    runs = bench.load(COMMITTED)
    assert bench.to_json(runs) == COMMITTED.read_text()
    run = runs[0]
    assert list(run.workloads) == list(bench.WORKLOADS)
    assert all([r.method for r in rows] == list(METHODS) for rows in run.workloads.values())
    assert run.settings.size == 224 and run.settings.rounds >= 30 and not run.settings.quick
    for rows in run.workloads.values():
        for r in rows:
            lo, hi = r.ratio_interval
            assert lo <= r.ratio_median <= hi
            assert r.verdict == bench.verdict_of(r.ratio_interval, run.settings.tolerance)
    assert run.machine["threads"] == str(run.settings.threads)


def test_json_round_trip_of_results_built_by_hand(tmp_path):
    run = _results(ALL_WITHIN, scratch=(0.99, "within"))
    path = tmp_path / "bench.json"
    path.write_text(bench.to_json([run, run]))
    assert bench.load(path) == [run, run]
    stored = json.loads(path.read_text())[0]["workloads"]["layer2 only"][0]
    assert stored["ratio_interval"] == [0.99, 1.01] and stored["verdict"] == "within"


def test_load_rejects_a_file_that_is_not_bench_output(tmp_path):
    bad = tmp_path / "x.json"
    bad.write_text('{"a": 1}')
    with pytest.raises(ValueError, match="not a results file"):
        bench.load(bad)


def test_the_memory_probe_runs_its_pairs_in_one_subprocess_and_reads_one_line_each(monkeypatch):
    seen = []

    def fake_run(args, **kwargs):
        seen.append((args, kwargs["env"]["MALLOC_MMAP_THRESHOLD_"]))
        ok = "fx:layer2 only:layer2" in args
        return subprocess.CompletedProcess(args, 0 if ok else 1, "a warning\n12.5\nNone\n" if ok else "", "boom")

    monkeypatch.setattr(memory.subprocess, "run", fake_run)
    pairs = [("fx", "layer2 only"), ("hooks", "all stages")]
    assert memory.probe_in_subprocess(pairs, bench.WORKLOADS, "cpu", 40, 2) == [12.5, None]
    args, threshold = seen[0]
    assert args[1:] == ["-m", "backbones_tutorial.memory", "cpu", "40", "2", "fx:layer2 only:layer2",
                        "hooks:all stages:layer1,layer2,layer3,layer4"]
    assert threshold == str(128 * 1024)
    with pytest.raises(RuntimeError, match=r"memory probe for \[\('children', 'all stages'\)\] failed:\nboom"):
        memory.probe_in_subprocess([("children", "all stages")], bench.WORKLOADS, "cpu", 40, 2)


def test_a_full_run_probes_each_pair_in_its_own_process_and_a_quick_run_in_one(monkeypatch):
    calls = []
    monkeypatch.setattr(bench, "probe_in_subprocess", lambda pairs, *a: calls.append(list(pairs)) or [1.0] * len(pairs))
    pairs = [("bare", "all stages"), ("fx", "all stages"), ("fx", "layer2 only")]
    assert bench.peak_memories(pairs, bench.Settings()) == dict.fromkeys(pairs, 1.0)
    assert calls == [[p] for p in pairs]
    calls.clear()
    bench.peak_memories(pairs, bench.Settings(quick=True))
    assert calls == [pairs]


@pytest.mark.parametrize(("argv", "message"), [
    (["--rounds", "0"], "need --rounds >= 3 and --size >= 32, got --rounds 0"),
    (["--size", "0"], "got --rounds 30 and --size 0"),
    (["--rounds", "1"], "--rounds >= 3"),
    (["--size", "16"], "--size >= 32"),
    (["--budget", "0"], "--budget must be a positive number of seconds, got 0.0"),
    (["--threads", "0"], "--threads must be at least 1, got 0"),
])
def test_bench_refuses_bad_settings_before_running(argv, message, capsys, monkeypatch):
    monkeypatch.setattr(bench, "run", lambda *a, **k: pytest.fail("ran despite bad arguments"))
    with pytest.raises(SystemExit) as e:
        main(["bench", *argv])
    assert e.value.code == 2 and message in capsys.readouterr().err


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write anywhere: a read-only folder does not refuse it")
def test_bench_refuses_a_read_only_out_folder(tmp_path, capsys, monkeypatch):
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    monkeypatch.setattr(bench, "run", lambda *a, **k: pytest.fail("ran despite an unwritable --out"))
    with pytest.raises(SystemExit) as e:
        main(["bench", "--out", str(locked / "b.json")])
    assert e.value.code == 2 and "--out" in capsys.readouterr().err


def test_bench_refuses_a_folder_as_out_or_plot_before_running(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(bench, "run", lambda *a, **k: pytest.fail("ran despite an unwritable path"))
    with pytest.raises(SystemExit) as e:
        main(["bench", "--out", str(tmp_path)])
    assert e.value.code == 2 and f"--out {tmp_path}: cannot write that file" in capsys.readouterr().err
    with pytest.raises(SystemExit) as e:
        main(["bench", "--out", str(tmp_path / "b.json"), "--plot", str(tmp_path)])
    assert e.value.code == 2 and "--plot" in capsys.readouterr().err
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    with pytest.raises(SystemExit) as e:  # a path under a file can never be created
        main(["bench", "--out", str(blocker / "b.json")])
    assert e.value.code == 2


def test_bench_rejects_cuda_without_a_gpu(capsys):
    import torch

    if torch.cuda.is_available():
        pytest.skip("a GPU is present: --device cuda is valid here")
    with pytest.raises(SystemExit) as e:
        main(["bench", "--device", "cuda"])
    assert e.value.code == 2 and "torch.cuda.is_available() is False" in capsys.readouterr().err


def test_readme_reports_the_committed_results():
    import re

    block = re.search(r"<!-- bench:start -->\n(.*?)<!-- bench:end -->", (ROOT / "README.md").read_text(), re.S)
    assert block, "README.md lost its bench block"
    want = bench.markdown_summary(bench.load(COMMITTED), rerun=bench.load(RERUN)[0])
    assert block.group(1) == want, "README.md's benchmark table is stale: run make readme"


@pytest.mark.smoke
def test_bench_quick_writes_results_for_every_method(tmp_path, capsys):
    """The command end to end as a --quick run: 64 x 64, 3 rounds, one memory process, a small
    matrix without the compiles and ONNX (tests/test_compat.py proves those on a small ResNet)."""
    out = tmp_path / "bench.json"
    argv = ["bench", "--quick", "--device", "cpu", "--out", str(out), "--plot", str(tmp_path / "b.png")]
    assert main(argv) == 0
    printed = capsys.readouterr()
    (run,) = bench.load(out)
    assert list(run.workloads) == list(bench.WORKLOADS) and run.settings.quick
    for rows in run.workloads.values():
        assert [r.method for r in rows] == list(METHODS)
        for r in rows:
            assert r.ratio_interval[0] <= r.ratio_median <= r.ratio_interval[1] and r.rounds == 3
            assert r.params > 0
            assert r.peak_memory_mib is None or r.peak_memory_mib >= 0
    assert all(m in printed.out for m in METHODS) and "wrote" in printed.out
    assert "MISSED" not in printed.out and "met:" not in printed.out
    assert printed.out.count("not meaningful (quick smoke run): ") == len(bench.targets(run))
    assert "[bench cpu] all stages" in printed.err  # progress is visible
    assert (tmp_path / "b.png").stat().st_size > 0
    assert json.loads(out.read_text())[0]["settings"]["size"] == 64
    cells = run.compatibility["cells"]
    assert {c["method"] for c in cells} == {"children"} and all(c["ran"] for c in cells)


def test_agreement_lists_each_comparison_with_both_verdicts():
    a = _results(ALL_WITHIN)
    b = _results({**ALL_WITHIN, "layer2 only": {**ALL_WITHIN["layer2 only"], "fx": (1.05, "undecided")}},
                 scratch=(1.1, "slower"))
    rows = bench_report.agreement(a, b)
    assert len(rows) == 2 * len(METHODS) + 1
    assert [r for r in rows if r[1] != r[2]] == [("layer2 only / fx", "within", "undecided"),
                                                  ("from-scratch ResNet34 / ours", "within", "slower")]
    fewer = _results({"all stages": ALL_WITHIN["all stages"]})
    with pytest.raises(ValueError, match="the two runs compare different things"):
        bench_report.agreement(a, fewer)


# The one comparison whose verdict the committed rerun did not reach: the hooks with all four
# stages (within 3 % in one run, slower in the other). Chapter 6 and the README say so and state
# no verdict on it; any other disagreement, or a rerun that now agrees, fails below.
NOT_REPRODUCED = {"all stages / hooks"}


def test_the_committed_rerun_reaches_the_same_verdicts_except_the_one_the_book_names():
    """A second full run of the same command on the same machine (book/data/bench-rerun.json)
    reaches every verdict of book/data/bench.json again, the targets included, but one."""
    run, rerun = bench.load(COMMITTED)[0], bench.load(RERUN)[0]
    assert rerun.settings == run.settings and rerun.machine == run.machine
    rows = bench.agreement(run, rerun)
    assert {name for name, a, b in rows if a != b} == NOT_REPRODUCED
    assert all(t.met for r in (run, rerun) for t in bench.targets(r))
    assert {t.subject for t in bench.targets(run)}.isdisjoint({"hooks (all stages)"})  # not a target


def test_tables_mark_a_verdict_the_rerun_did_not_reach():
    a = _results(ALL_WITHIN)
    b = _results({**ALL_WITHIN, "layer2 only": {**ALL_WITHIN["layer2 only"], "fx": (1.05, "undecided")}})
    assert "within (rerun: undecided)" in repr(bench.table(a, b)) and "rerun" not in repr(bench.table(a))
    summary = bench.markdown_summary([a], rerun=b)
    assert "| layer2 only | fx | 1.000 | 0.990-1.010 | within (rerun: undecided) | 10.0 |" in summary
    assert summary.rstrip().endswith("reached the same verdict in 12 of 13 comparisons")


def test_compare_bench_exits_1_on_a_differing_verdict(tmp_path, capsys):
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    a.write_text(bench.to_json([_results(ALL_WITHIN)]))
    b.write_text(bench.to_json([_results(ALL_WITHIN, scratch=(1.1, "slower"))]))
    tool = runpy.run_path(str(ROOT / "tools" / "compare_bench.py"))  # its functions, without running main
    assert tool["main"]([str(a), str(a)]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "13 of 13 verdicts agree"
    assert tool["main"]([str(a), str(b)]) == 1
    assert capsys.readouterr().out.splitlines()[-2].split() == [
        "from-scratch", "ResNet34", "/", "ours", "within", "slower", "DIFFERS"]
    assert tool["main"]([str(a)]) == 2


def test_the_committed_third_run_differs_only_where_its_budget_ran_out_at_the_bound():
    """The third run (an hour later, a busier machine) differs from the first on two comparisons,
    each undecided with its budget spent and an interval reaching 1.03; chapter 6 says so."""
    run, third = bench.load(COMMITTED)[0], bench.load(THIRD)[0]
    assert third.settings == run.settings and third.machine == run.machine
    differ = {name for name, a, b in bench.agreement(run, third) if a != b}
    assert differ == {"all stages / intermediate_layer_getter", "all stages / hooks"}
    for name in differ:
        r = third.result(name.split(" / ")[1], "all stages")
        assert r.verdict == "undecided" and not r.settled and r.ratio_interval[0] < 1.03 <= r.ratio_interval[1]


def test_timer_timeit_of_one_call_makes_two_untimed_calls_before_it():
    """Why timed_calls does not use torch.utils.benchmark.Timer.timeit(1), as chapter 6 says: it
    calls the statement three times for one timed call (two warm-up calls first)."""
    from torch.utils import benchmark

    calls = []
    benchmark.Timer(stmt="fn()", globals={"fn": lambda: calls.append(1)}).timeit(1)
    assert len(calls) == 3
