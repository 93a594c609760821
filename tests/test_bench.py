"""The benchmark: its ratio bookkeeping, and a --quick smoke run of the real command."""

import json

import pytest

from backbones_tutorial import bench
from backbones_tutorial.__main__ import main
from backbones_tutorial.methods import METHODS


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
    rounds = [calls[i:i + 3] for i in range(0, 18, 3)]
    assert all(sorted(r) == ["a", "b", "bare"] for r in rounds)  # each candidate once per round
    assert len({tuple(r) for r in rounds}) > 1  # in an order that changes between rounds


def test_bench_quick_writes_results_for_every_method(tmp_path, capsys):
    out = tmp_path / "bench.json"
    assert main(["bench", "--quick", "--device", "cpu", "--out", str(out), "--plot", str(tmp_path / "b.png")]) == 0
    printed = capsys.readouterr()
    (run,) = bench.load(out)
    assert list(run.workloads) == list(bench.WORKLOADS)
    for rows in run.workloads.values():
        assert [r.method for r in rows] == list(METHODS)
        for r in rows:
            assert r.ratio_median > 0 and r.ratio_iqr[0] <= r.ratio_median <= r.ratio_iqr[1]
            assert r.params > 0
            assert r.peak_memory_mib is None or r.peak_memory_mib >= 0
    assert set(run.compatibility) == set(METHODS)
    assert run.scratch_vs_torchvision["ratio_median"] > 0
    assert all(m in printed.out for m in METHODS) and "wrote" in printed.out
    assert "[bench cpu] all stages" in printed.err  # progress is visible
    assert (tmp_path / "b.png").stat().st_size > 0
    assert json.loads(out.read_text())[0]["settings"]["size"] == 64


def test_load_rejects_a_file_that_is_not_bench_output(tmp_path):
    bad = tmp_path / "x.json"
    bad.write_text('{"a": 1}')
    with pytest.raises(ValueError, match="not a results file"):
        bench.load(bad)


def test_bench_rejects_cuda_without_a_gpu_and_tiny_settings(capsys):
    import torch

    if not torch.cuda.is_available():
        with pytest.raises(SystemExit) as e:
            main(["bench", "--device", "cuda"])
        assert e.value.code == 2 and "torch.cuda.is_available() is False" in capsys.readouterr().err
    with pytest.raises(SystemExit) as e:
        main(["bench", "--rounds", "1"])
    assert e.value.code == 2 and "--rounds >= 3" in capsys.readouterr().err


def test_the_committed_results_agree_with_a_live_compatibility_check():
    """Chapter 6 shows book/data/bench.json; its compatibility matrix must still be true."""
    import pathlib

    import torchvision

    from backbones_tutorial.methods import STAGES, compatibility

    (run,) = bench.load(pathlib.Path(__file__).resolve().parents[1] / "book" / "data" / "bench.json")
    model = torchvision.models.resnet50(weights=None).eval()
    assert {m: compatibility(m, model, STAGES) for m in METHODS} == run.compatibility
    assert run.settings.size == 224 and run.settings.rounds >= 30  # a full run, not --quick


def test_readme_reports_the_committed_results():
    import pathlib
    import re

    root = pathlib.Path(__file__).resolve().parents[1]
    block = re.search(r"<!-- bench:start -->\n(.*?)<!-- bench:end -->", (root / "README.md").read_text(), re.S)
    assert block, "README.md lost its bench block"
    want = bench.markdown_summary(bench.load(root / "book" / "data" / "bench.json"))
    assert block.group(1) == want, "README.md's benchmark table is stale: run make readme"
