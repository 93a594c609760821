"""The benchmark: its targets and verdicts, its JSON, its memory probe's protocol and its
arguments (fast, no subprocess), and a --quick smoke run of the real command (``make smoke``)."""

import io
import json
import os
import pathlib
import runpy
import statistics
import subprocess

import pytest
import torch

from backbones_tutorial.__main__ import main
from backbones_tutorial.bench import memory, report, results, runner, verdicts
from backbones_tutorial.bench import report as bench_report
from backbones_tutorial.bench import worker as bench_worker
from backbones_tutorial.extractors.methods import METHODS

ROOT = pathlib.Path(__file__).resolve().parents[1]
COMMITTED = ROOT / "book" / "data" / "bench.json"
RERUN = ROOT / "book" / "data" / "bench-rerun.json"
THIRD = ROOT / "book" / "data" / "bench-third.json"


def _row(method, ratio, verdict="within", settled=True):
    return results.MethodResult(method, ratio, (ratio - 0.01, ratio + 0.01), verdict, 100, settled, 10.0 * ratio,
                              1000, None, [ratio] * 5)


def _results(rows: dict[str, dict[str, tuple]], scratch=(1.0, "within"), quick=False) -> results.Results:
    """Results with the given (ratio, verdict) per method; every other figure is a placeholder."""
    workloads = {w: [_row(m, *rv) for m, rv in r.items()] for w, r in rows.items()}
    return results.Results(results.BenchSettings(quick=quick), {"cpu": "test", "threads": "1", "torch": "x"}, workloads,
                         {w: 10.0 for w in rows}, {w: None for w in rows},
                         {"ratio_median": scratch[0], "ratio_interval": [scratch[0] - 0.01, scratch[0] + 0.01],
                          "verdict": scratch[1], "rounds": 100, "settled": True, "block_ratios": [scratch[0]] * 5,
                          "round_ratios": [[scratch[0]]] * 5, "ours_ms": 1.0, "torchvision_ms": 1.0}, {})


ALL_WITHIN = {w: {m: (1.0, "within") for m in METHODS} for w in results.WORKLOADS}


def test_targets_are_the_methods_that_stop_early_and_the_from_scratch_resnet():
    rows = {w: dict(r) for w, r in ALL_WITHIN.items()}
    rows["all stages"]["wrapper"] = (1.05, "slower")
    rows["layer2 only"]["fx"] = (1.02, "undecided")
    checks = report.targets(_results(rows, scratch=(0.95, "faster")))
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
    lines = report.format_targets(_results(rows))
    assert lines[0] == "missed (faster): all stages: children within 3% of bare (0.968, 0.958-0.978)"
    assert lines[3] == "missed (slower): all stages: fx within 3% of bare (1.200, 1.190-1.210)"
    assert lines[5] == "met, budget spent: layer2 only: children within 3% of bare (1.020, 1.010-1.030)"
    assert all(not line.startswith("met") for line in lines if "(0.968" in line or "(1.200" in line)
    summary = report.markdown_summary([_results(rows)])
    assert "- missed (slower): all stages: fx within 3% of bare (1.200, 1.190-1.210)\n" in summary
    assert "| all stages | fx | 1.200 | 1.190-1.210 | slower | 12.0 | 1,000 | n/a |" in summary


def test_a_quick_run_says_its_verdicts_are_not_meaningful():
    run = _results(ALL_WITHIN, quick=True)
    assert all(line.startswith("not meaningful (quick smoke run): ") for line in report.format_targets(run))
    assert "missed" not in report.markdown_summary([run]) and "- met:" not in report.markdown_summary([run])
    assert report.verdict_text("slower", True, run.settings) == "(slower: quick, not meaningful)"


def test_results_find_a_methods_row_and_name_what_they_lack():
    run = _results({"all stages": {"fx": (1.5, "slower"), "hooks": (2.0, "slower")}})
    assert run.result("hooks", "all stages").ratio_median == 2.0
    with pytest.raises(ValueError, match="unknown workload 'layer2 only'; valid choices: 'all stages'"):
        run.result("fx", "layer2 only")
    with pytest.raises(ValueError, match="unknown method of workload 'all stages' 'children'"):
        run.result("children", "all stages")


def test_the_committed_results_load_and_write_back_unchanged():
    """results.load reads book/data/bench.json, and to_json writes the very same text back."""
    runs = results.load_runs(COMMITTED)
    assert results.to_json(runs) == COMMITTED.read_text()
    run = runs[0]
    assert list(run.workloads) == list(results.WORKLOADS)
    assert all([r.method for r in rows] == list(METHODS) for rows in run.workloads.values())
    s = run.settings
    assert s.size == 224 and s.rounds >= 20 and s.blocks >= 5 and not s.quick
    for rows in run.workloads.values():
        for r in rows:  # each figure again from the blocks' medians the file records
            assert s.blocks <= len(r.block_ratios) <= s.max_blocks and r.rounds == s.rounds * len(r.block_ratios)
            assert r.ratio_median == pytest.approx(statistics.fmean(r.block_ratios), abs=1e-12)
            assert r.ratio_interval == pytest.approx(verdicts.block_interval(r.block_ratios), abs=1e-12)
            assert r.verdict == verdicts.decide(r.ratio_interval, s.tolerance)
            assert r.settled == verdicts.settled(r.ratio_interval, s.tolerance, s.half_width)
    assert run.machine["threads"] == str(s.threads)


def test_json_round_trip_of_results_built_by_hand(tmp_path):
    run = _results(ALL_WITHIN, scratch=(0.99, "within"))
    path = tmp_path / "bench.json"
    path.write_text(results.to_json([run, run]))
    assert results.load_runs(path) == [run, run]
    stored = json.loads(path.read_text())[0]["workloads"]["layer2 only"][0]
    assert stored["ratio_interval"] == [0.99, 1.01] and stored["verdict"] == "within"


def test_load_rejects_a_file_that_is_not_bench_output(tmp_path):
    bad = tmp_path / "x.json"
    bad.write_text('{"a": 1}')
    with pytest.raises(ValueError, match="not a results file"):
        results.load_runs(bad)


def test_the_memory_probe_runs_its_pairs_in_one_subprocess_and_reads_one_line_each(monkeypatch):
    seen = []

    def fake_run(args, **kwargs):
        seen.append((args, kwargs["env"]["MALLOC_MMAP_THRESHOLD_"]))
        ok = "fx:layer2 only:layer2" in args
        return subprocess.CompletedProcess(args, 0 if ok else 1, "a warning\n12.5\nNone\n" if ok else "", "boom")

    monkeypatch.setattr(memory.subprocess, "run", fake_run)
    pairs = [("fx", "layer2 only"), ("hooks", "all stages")]
    assert memory.probe_in_subprocess(pairs, results.WORKLOADS, "cpu", 40, 2) == [12.5, None]
    args, threshold = seen[0]
    assert args[1:] == ["-m", "backbones_tutorial.bench.memory", "cpu", "40", "2", "fx:layer2 only:layer2",
                        "hooks:all stages:layer1,layer2,layer3,layer4"]
    assert threshold == str(128 * 1024)
    with pytest.raises(RuntimeError, match=r"memory probe for \[\('children', 'all stages'\)\] failed:\nboom"):
        memory.probe_in_subprocess([("children", "all stages")], results.WORKLOADS, "cpu", 40, 2)


def test_a_full_run_probes_each_pair_in_its_own_process_and_a_quick_run_in_one(monkeypatch):
    calls = []
    monkeypatch.setattr(runner, "probe_in_subprocess",
                        lambda pairs, *a: calls.append(list(pairs)) or [1.0] * len(pairs))
    pairs = [("bare", "all stages"), ("fx", "all stages"), ("fx", "layer2 only")]
    assert runner.peak_memories(pairs, results.BenchSettings()) == dict.fromkeys(pairs, 1.0)
    assert calls == [[p] for p in pairs]
    calls.clear()
    runner.peak_memories(pairs, results.BenchSettings(quick=True))
    assert calls == [pairs]


def test_a_block_runs_in_a_fresh_process_and_its_result_is_the_last_line(monkeypatch):
    seen = []

    def fake_run(args, **kwargs):
        seen.append((args, json.loads(kwargs["input"])))
        ok = json.loads(kwargs["input"])["seed"] == 0
        return subprocess.CompletedProcess(args, 0 if ok else 1, 'a warning\n{"ratios": {}}\n' if ok else "", "boom")

    monkeypatch.setattr(bench_worker.subprocess, "run", fake_run)
    spec = bench_worker.BlockSpec(["layer2 only / fx"], 0, "cpu", 40, 1, 1, 0, 3)
    assert bench_worker.measure_block_in_subprocess(spec) == {"ratios": {}}
    args, sent = seen[0]
    assert args[1:] == ["-m", "backbones_tutorial.bench.worker"] and sent["open"] == ["layer2 only / fx"]
    with pytest.raises(RuntimeError, match="benchmark block 1 failed:\nboom"):
        bench_worker.measure_block_in_subprocess(bench_worker.BlockSpec([], 1, "cpu", 40, 1, 1, 0, 3))


def test_a_full_run_measures_each_block_in_a_fresh_process_and_a_quick_run_in_this_one(monkeypatch):
    where = []

    def fake(kind):
        def measure(spec):
            where.append((kind, spec.seed, len(spec.open)))
            return {"ratios": {c: [1.0, 1.0, 1.0] for c in spec.open}, "seconds": {}, "reference_seconds": {}}
        return measure

    monkeypatch.setattr(runner, "measure_block_in_subprocess", fake("fresh"))
    monkeypatch.setattr(runner, "measure_block", fake("here"))
    verdicts_, blocks, records = runner._blocks(results.BenchSettings(blocks=2), lambda s: None)
    assert where == [("fresh", 0, 13), ("fresh", 1, 13)] and len(records) == 2  # no spread: settled at 2
    assert blocks["layer2 only / fx"] == [[1.0, 1.0, 1.0]] * 2
    assert set(verdicts_) == set(results.COMPARISONS) and all(v.verdict == "within" for v in verdicts_.values())
    where.clear()
    runner._blocks(results.BenchSettings(blocks=2, max_blocks=2, quick=True), lambda s: None)
    assert where == [("here", 0, 13), ("here", 1, 13)]


def test_the_worker_reads_a_spec_on_stdin_and_prints_each_open_comparisons_rounds(monkeypatch, capsys):
    spec = bench_worker.BlockSpec(["layer2 only / fx", "from-scratch ResNet34 / ours", "layer2 only / hooks"],
                                  0, "cpu", 32, 1, 1, 0, 2)
    monkeypatch.setattr("sys.stdin", io.StringIO(json.dumps(bench_worker.asdict(spec))))
    threads = torch.get_num_threads()
    try:
        bench_worker.main()
    finally:
        torch.set_num_threads(threads)
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert sorted(out["ratios"]) == sorted(spec.open) and all(len(r) == 2 for r in out["ratios"].values())
    assert all(len(t) == 2 for t in out["seconds"].values())
    assert {k: len(t) for k, t in out["reference_seconds"].items()} == {"layer2 only": 5, "from-scratch ResNet34": 3}
    with pytest.raises(ValueError, match="'fx' is not '<section> / <candidate>'"):
        bench_worker.split("fx")


def test_no_method_runs_inside_another_methods_call():
    """Each extractor has its own model: the hooks, registered on a shared model, would fire (and
    clone four maps) inside the bare forward and every method that calls the same modules."""
    x = torch.randn(1, 3, 32, 32)
    calls, modules = bench_worker._section_calls("all stages", list(METHODS), x, "cpu")
    hooks = next(m for m in modules if isinstance(m, bench_worker.HookExtractor))
    with torch.inference_mode():
        for name, call in calls.items():
            if name != "hooks":
                call()
                assert not hooks._store, f"the hooks fired inside {name}"
        assert len(calls["hooks"]()) == 4
    hooks.remove()


@pytest.mark.parametrize(("argv", "message"), [
    (["--rounds", "0"], "need --rounds >= 3 and --size >= 32, got --rounds 0"),
    (["--size", "0"], "got --rounds 20 and --size 0"),
    (["--blocks", "1"], "need 2 <= --blocks <= 40, got --blocks 1"),
    (["--blocks", "41"], "got --blocks 41"),
    (["--rounds", "1"], "--rounds >= 3"),
    (["--size", "16"], "--size >= 32"),
    (["--budget", "0"], "--budget must be a positive number of seconds, got 0.0"),
    (["--threads", "0"], "--threads must be at least 1, got 0"),
])
def test_bench_refuses_bad_settings_before_running(argv, message, capsys, monkeypatch):
    monkeypatch.setattr(runner, "run_benchmark", lambda *a, **k: pytest.fail("ran despite bad arguments"))
    with pytest.raises(SystemExit) as e:
        main(["bench", *argv])
    assert e.value.code == 2 and message in capsys.readouterr().err


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write anywhere: a read-only folder does not refuse it")
def test_bench_refuses_a_read_only_out_folder(tmp_path, capsys, monkeypatch):
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    monkeypatch.setattr(runner, "run_benchmark", lambda *a, **k: pytest.fail("ran despite an unwritable --out"))
    with pytest.raises(SystemExit) as e:
        main(["bench", "--out", str(locked / "b.json")])
    assert e.value.code == 2 and "--out" in capsys.readouterr().err


def test_bench_refuses_a_folder_as_out_or_plot_before_running(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(runner, "run_benchmark", lambda *a, **k: pytest.fail("ran despite an unwritable path"))
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
    want = report.markdown_summary(results.load_runs(COMMITTED), rerun=results.load_runs(RERUN)[0])
    assert block.group(1) == want, "README.md's benchmark table is stale: run make readme"


@pytest.mark.smoke
def test_bench_quick_writes_results_for_every_method(tmp_path, capsys):
    """The command end to end as a --quick run: 64 x 64, 2 blocks of 3 rounds in this process, one
    memory process, a small matrix without the compiles and ONNX (tests/test_compat.py proves
    those on a small ResNet)."""
    out = tmp_path / "bench.json"
    argv = ["bench", "--quick", "--device", "cpu", "--out", str(out), "--plot", str(tmp_path / "b.png")]
    assert main(argv) == 0
    printed = capsys.readouterr()
    (run,) = results.load_runs(out)
    assert list(run.workloads) == list(results.WORKLOADS) and run.settings.quick
    for rows in run.workloads.values():
        assert [r.method for r in rows] == list(METHODS)
        for r in rows:
            assert r.ratio_interval[0] <= r.ratio_median <= r.ratio_interval[1]
            assert r.rounds == 6 and len(r.block_ratios) == 2
            assert r.params > 0
            assert r.peak_memory_mib is None or r.peak_memory_mib >= 0
    assert all(m in printed.out for m in METHODS) and "wrote" in printed.out
    assert "MISSED" not in printed.out and "met:" not in printed.out
    assert printed.out.count("not meaningful (quick smoke run): ") == len(report.targets(run))
    assert "[bench cpu] block 2: 13 comparisons, 3 rounds (quick: in this process)" in printed.err
    assert (tmp_path / "b.png").stat().st_size > 0
    assert json.loads(out.read_text())[0]["settings"]["size"] == 64
    cells = run.compatibility["cells"]
    assert {c["method"] for c in cells} == {"children"} and all(c["ran"] for c in cells)


@pytest.mark.smoke
def test_a_real_block_in_a_fresh_process():
    """``python -m backbones_tutorial.bench_worker`` itself, on a small input: what a full run
    starts once per block."""
    spec = bench_worker.BlockSpec(["from-scratch ResNet34 / ours", "layer2 only / children"], 3, "cpu", 32, 1, 1,
                                  1, 3)
    out = bench_worker.measure_block_in_subprocess(spec)
    assert sorted(out["ratios"]) == sorted(spec.open) and all(len(r) == 3 for r in out["ratios"].values())
    assert all(0.2 < r < 5 for ratios in out["ratios"].values() for r in ratios)


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


# The comparisons whose verdict the committed rerun did not reach (chapter 6 names them); any
# other disagreement, or a rerun that now agrees on one of these, fails below.
NOT_REPRODUCED: set[str] = set()


def test_the_committed_rerun_reaches_the_same_verdicts():
    """A second full run of the same command on the same machine (book/data/bench-rerun.json)
    reaches the verdicts of book/data/bench.json again."""
    run, rerun = results.load_runs(COMMITTED)[0], results.load_runs(RERUN)[0]
    assert rerun.settings == run.settings and rerun.machine == run.machine
    rows = report.agreement(run, rerun)
    assert {name for name, a, b in rows if a != b} == NOT_REPRODUCED


def test_the_committed_round_ratios_give_the_block_ratios():
    """Each block's median from the rounds the file records, for both committed runs."""
    for path in (COMMITTED, RERUN):
        run = results.load_runs(path)[0]
        rows = [r for rows in run.workloads.values() for r in rows]
        pairs = [(r.block_ratios, r.round_ratios) for r in rows]
        pairs.append((run.scratch_vs_torchvision["block_ratios"], run.scratch_vs_torchvision["round_ratios"]))
        for blocks, rounds in pairs:
            assert blocks == [statistics.median(b) for b in rounds]
            assert all(len(b) == run.settings.rounds for b in rounds)


def test_tables_mark_a_verdict_the_rerun_did_not_reach():
    a = _results(ALL_WITHIN)
    b = _results({**ALL_WITHIN, "layer2 only": {**ALL_WITHIN["layer2 only"], "fx": (1.05, "undecided")}})
    assert "within (rerun: undecided)" in repr(report.results_table(a, b))
    assert "rerun" not in repr(report.results_table(a))
    summary = report.markdown_summary([a], rerun=b)
    assert "| layer2 only | fx | 1.000 | 0.990-1.010 | within (rerun: undecided) | 10.0 |" in summary
    assert summary.rstrip().endswith("reached the same verdict in 12 of 13 comparisons")


def test_compare_bench_exits_1_on_a_differing_verdict(tmp_path, capsys):
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    a.write_text(results.to_json([_results(ALL_WITHIN)]))
    b.write_text(results.to_json([_results(ALL_WITHIN, scratch=(1.1, "slower"))]))
    tool = runpy.run_path(str(ROOT / "tools" / "compare_bench.py"))  # its functions, without running main
    assert tool["main"]([str(a), str(a)]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "13 of 13 verdicts agree"
    assert tool["main"]([str(a), str(b)]) == 1
    assert capsys.readouterr().out.splitlines()[-2].split() == [
        "from-scratch", "ResNet34", "/", "ours", "within", "slower", "DIFFERS"]
    assert tool["main"]([str(a)]) == 2


def test_timer_timeit_of_one_call_makes_two_untimed_calls_before_it():
    """Why timed_calls does not use torch.utils.benchmark.Timer.timeit(1), as chapter 6 says: it
    calls the statement three times for one timed call (two warm-up calls first)."""
    from torch.utils import benchmark

    calls = []
    benchmark.Timer(stmt="fn()", globals={"fn": lambda: calls.append(1)}).timeit(1)
    assert len(calls) == 3


def test_intervals_are_shown_rounded_outwards():
    """An upper end of 1.0302 is beyond 3 %: it shows as 1.031, never as a 1.030 that reads within."""
    t = report.Target("layer2 only", "fx", 1.022, (1.0141, 1.0302), 0.03, "undecided", True)
    assert t.text == "layer2 only: fx within 3% of bare (1.022, 1.014-1.031)"
    assert report.Target(None, "from-scratch ResNet34", 1.0, (0.99, 1.01), 0.03, "within", True).text.endswith(
        "(1.000, 0.990-1.010)")



def test_the_committed_third_run_differs_only_on_the_ratio_at_the_bound():
    """The third run (later, on a slower machine) reaches the first run's verdicts but
    one: fx with layer2 alone, whose ratio sits at the 3 % bound in every run (chapter 6 says so)."""
    run, third = results.load_runs(COMMITTED)[0], results.load_runs(THIRD)[0]
    assert third.settings == run.settings and third.machine == run.machine
    assert {name for name, a, b in report.agreement(run, third) if a != b} == {"layer2 only / fx"}
    intervals = []
    for r in (run, third, results.load_runs(RERUN)[0]):
        fx = r.result("fx", "layer2 only")
        assert abs(fx.ratio_median - 1.03) < 0.01 and fx.ratio_interval[0] < 1.03 < fx.ratio_interval[1] + 0.005
        intervals.append(fx.ratio_interval)
    assert max(lo for lo, _ in intervals) < min(hi for _, hi in intervals)  # the three intervals overlap
