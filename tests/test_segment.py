"""Training the U-Net: what each freeze mode lets move, the metrics, the checkpoint and the command."""

import dataclasses
import json
import pathlib

import numpy as np
import pytest
import torch
from torch import nn
from torchvision.ops import FrozenBatchNorm2d

from backbones_tutorial.__main__ import main
from backbones_tutorial.extractors.freeze_modes import FREEZE_MODES
from backbones_tutorial.segmentation import synthetic
from backbones_tutorial.segmentation import training as segment

TINY = segment.TrainSettings(size=(33, 37), batch_size=2, max_steps=2, seconds=600, valid_images=2, lr=0.05)


def snapshot(module: nn.Module) -> dict[str, torch.Tensor]:
    return {n: t.detach().clone() for n, t in [*module.named_parameters(), *module.named_buffers()]}


def moved(before: dict, module: nn.Module, kind: str) -> bool:
    """Whether any parameter (kind="param") or BatchNorm running statistic (kind="stat") changed."""
    after = dict(module.named_parameters()) if kind == "param" else {
        n: b for n, b in module.named_buffers() if n.endswith(("running_mean", "running_var"))}
    assert after, f"no {kind} to compare"
    return any(not torch.equal(before[n], t) for n, t in after.items())


# mode -> (backbone weights move, backbone running statistics move, BatchNorm class left in the backbone)
EXPECTED = {
    "none": (True, True, nn.BatchNorm2d),
    "train": (False, True, nn.BatchNorm2d),  # the pitfall: statistics still follow the batches
    "frozen": (False, False, FrozenBatchNorm2d),
    "eval": (False, False, nn.BatchNorm2d),
}


@pytest.mark.parametrize("mode", list(EXPECTED))
def test_what_moves_during_training_under_each_freeze_mode(mode):
    weights, stats, norm = EXPECTED[mode]
    settings = dataclasses.replace(TINY, freeze=mode)
    model = segment.build_model(settings)
    backbone_before, decoder_before = snapshot(model.backbone), snapshot(model.decoder)
    history = segment.fit(model, settings)
    assert len(history) == 2
    assert moved(backbone_before, model.backbone, "param") is weights
    assert moved(backbone_before, model.backbone, "stat") is stats
    assert moved(decoder_before, model.decoder, "param"), "the decoder always trains"
    norms = {type(m) for m in model.backbone.modules() if isinstance(m, (nn.BatchNorm2d, FrozenBatchNorm2d))}
    assert norms == {norm}
    decoder_params = sum(p.numel() for p in model.decoder.parameters())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    all_params = sum(p.numel() for p in model.parameters())
    assert trainable == (all_params if mode == "none" else decoder_params)


def test_bn_drift_by_hand():
    before = {"bn": (torch.zeros(2), torch.tensor([1.0, 4.0]))}
    after = {"bn": (torch.tensor([0.5, -1.0]), torch.tensor([9.0, 9.0]))}
    # |0.5 - 0| / 1 = 0.5 and |-1 - 0| / 2 = 0.5: mean 0.5 (eps 0 here)
    assert segment.bn_drift(before, after, eps=0.0) == pytest.approx(0.5)
    assert segment.bn_drift(before, before) == 0.0


def test_class_weights_by_hand_give_each_pixel_a_mean_weight_of_one():
    # 10 pixels: 6 background, 2 circle, 1 rectangle, no triangle, 1 line -> shares .6 .2 .1 0 .1
    masks = torch.tensor([[0, 0, 0, 0, 0, 0, 1, 1, 2, 4]])
    w = segment.class_weights(masks, 5)
    share = torch.tensor([0.6, 0.2, 0.1, 0.0, 0.1])
    # share ** -1/2, divided by sum(share * share ** -1/2) = sum(sqrt(share))
    expected = torch.tensor([0.6 ** -0.5, 0.2 ** -0.5, 0.1 ** -0.5, 0.0, 0.1 ** -0.5]) / share.sqrt().sum()
    torch.testing.assert_close(w, expected)
    assert float((w * share).sum()) == pytest.approx(1.0)
    assert w[4] / w[0] == pytest.approx(6 ** 0.5)  # a line pixel weighs sqrt(0.6 / 0.1) background pixels
    assert w[3] == 0  # absent: no pixel to weigh


def test_the_weighted_loss_is_the_weighted_mean_of_pixel_cross_entropies_plus_dice():
    torch.manual_seed(0)
    logits, masks = torch.randn(2, 5, 6, 7), torch.randint(0, 5, (2, 6, 7))
    masks[0, :4] = 0  # make the background the largest class
    w = segment.class_weights(masks, 5)
    per_pixel = -logits.log_softmax(dim=1).gather(1, masks[:, None])[:, 0]  # (B, H, W)
    by_hand = (w[masks] * per_pixel).sum() / w[masks].sum() + segment.dice_loss(logits, masks)
    torch.testing.assert_close(segment.loss_fn(logits, masks, "weighted-ce+dice"), by_hand)
    plain = per_pixel.mean() + segment.dice_loss(logits, masks)
    torch.testing.assert_close(segment.loss_fn(logits, masks, "ce+dice"), plain)
    assert not torch.allclose(by_hand, plain), "the weights change the loss"
    with pytest.raises(ValueError, match="unknown loss 'focal'; valid choices: 'weighted-ce\\+dice', 'ce\\+dice'"):
        segment.loss_fn(logits, masks, "focal")


def test_iou_per_class_by_hand():
    target = np.array([[0, 1, 1, 2]])
    pred = np.array([[1, 1, 0, 2]])
    iou = segment.iou_per_class(pred, target)
    assert iou["circle"] == pytest.approx(1 / 3)  # intersection 1 pixel, union 3
    assert iou["rectangle"] == 1.0
    assert np.isnan(iou["triangle"])  # in neither: no IoU, left out of the mean


@pytest.mark.parametrize(("change", "message"), [
    ({"backbone": "resnet7"}, "unknown backbone 'resnet7'; valid choices: 'resnet18', 'resnet34'"),
    ({"freeze": "all"}, "unknown freeze mode 'all'; valid choices: 'none', 'frozen', 'eval', 'train'"),
    ({"batch_size": 1}, "batch_size must be an int >= 2, got 1"),
    ({"seconds": -1.0}, "seconds must be a number >= 0.1, got -1.0"),
    ({"seed": -3}, "seed must be an int >= 0, got -3"),
    ({"size": (16, 40)}, "size must be"),
    ({"pretrained": "no/such.pt"}, "pretrained checkpoint 'no/such.pt' is not a file"),
    ({"loss": "dice"}, "unknown loss 'dice'; valid choices: 'weighted-ce\\+dice', 'ce\\+dice'"),
])
def test_settings_are_checked_on_construction(change, message):
    with pytest.raises(ValueError, match=message):
        dataclasses.replace(TINY, **change)


def test_pretrain_writes_a_checkpoint_that_loads_strictly_with_weights_only(tmp_path):
    path = tmp_path / "b.pt"
    info = segment.pretrain(dataclasses.replace(TINY, max_steps=1), path)
    assert info["steps"] == 1 and info["backbone"] == "resnet18"
    saved = torch.load(path, weights_only=True)["state_dict"]
    model = segment.build_model(dataclasses.replace(TINY, pretrained=str(path), freeze="frozen"))
    assert torch.equal(model.backbone.layer4[1].conv2.weight, saved["layer4.1.conv2.weight"])
    assert torch.equal(model.backbone.layer1[0].bn1.running_var, saved["layer1.0.bn1.running_var"])
    with pytest.raises(ValueError, match="holds a 'resnet18' backbone, expected 'resnet34'"):
        segment.build_model(dataclasses.replace(TINY, pretrained=str(path), backbone="resnet34"))


@pytest.mark.parametrize(("args", "message"), [
    (["segment", "--freeze", "bogus"], "invalid choice: 'bogus'"),
    (["segment", "--seconds", "0"], "seconds must be a number >= 0.1, got 0.0"),
    (["segment", "--batch-size", "1"], "batch_size must be an int >= 2, got 1"),
    (["segment", "--threads", "0"], "--threads must be >= 1, got 0"),
    (["segment", "--pretrained", "missing.pt"], "pretrained checkpoint 'missing.pt' is not a file"),
    (["freezing", "--seeds", "1", "-2"], "seed must be an int >= 0, got -2"),
    (["segment", "--loss", "focal"], "invalid choice: 'focal'"),
])
def test_the_command_checks_its_arguments_before_training(args, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(args)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_the_command_prints_progress_and_ends_with_one_json_line(capsys):
    main(["segment", "--max-steps", "2", "--batch-size", "2", "--seed", "4", "--loss", "ce+dice"])
    captured = capsys.readouterr()
    assert "[segment] step    1" in captured.err
    record = json.loads(captured.out.strip().splitlines()[-1])
    assert record["steps"] == 2 and record["freeze"] == "none" and record["seed"] == 4
    assert record["loss"] == "ce+dice"  # the option reaches the settings (the default is weighted-ce+dice)
    assert 0 <= record["miou"] <= 1 and record["train_seconds"] > 0
    assert record["trainable_params"] == record["total_params"] and record["bn_drift"] > 0


def test_the_command_defaults_are_the_settings_defaults():
    """The command line cannot import torch for --help, so it states its defaults again: they must agree."""
    from backbones_tutorial.__main__ import parser

    args = parser().parse_args(["segment"])
    defaults = segment.TrainSettings()
    assert (args.seconds, args.max_steps, args.batch_size, args.backbone, args.freeze, args.seed, args.loss) == (
        defaults.seconds, defaults.max_steps, defaults.batch_size, defaults.backbone, defaults.freeze, defaults.seed,
        defaults.loss)
    loss_option = next(a for a in parser()._subparsers._group_actions[0].choices["segment"]._actions
                       if a.dest == "loss")
    assert tuple(loss_option.choices) == tuple(segment.LOSSES)
    backbone_option = next(a for a in parser()._subparsers._group_actions[0].choices["segment"]._actions
                           if a.dest == "backbone")
    assert tuple(backbone_option.choices) == tuple(segment.BACKBONES)  # both read registry.SEGMENTATION_BACKBONES
    assert args.freeze in FREEZE_MODES and set(parser().parse_args(["segment"]).__dict__) >= {"threads"}


@pytest.mark.parametrize("command", ["segment", "pretrain", "freezing"])
def test_help_of_the_segmentation_commands_imports_no_torch(command):
    import subprocess
    import sys

    probe = ("import sys\nfrom backbones_tutorial.__main__ import main\ntry:\n    main(sys.argv[1:])\n"
             "except SystemExit:\n    pass\nprint('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", probe, command, "--help"], capture_output=True, text=True,
                         timeout=120, check=True).stdout
    assert out.startswith("usage: python -m backbones_tutorial " + command)
    assert "example" in out and out.strip().splitlines()[-1] == "False"


# --- the records chapter 8 reads: book/data/losses.json and book/data/segment.json ------------------

DATA = pathlib.Path(__file__).resolve().parents[1] / "book" / "data"


def as_json(obj):
    return json.loads(json.dumps(obj))


def test_with_the_default_loss_every_seed_learns_every_class_within_the_default_budget():
    """The record of tools/compare_losses.py: the defaults, seeds 0-4, each class IoU >= 0.2, mIoU >= 0.6."""
    record = json.loads((DATA / "losses.json").read_text())
    defaults = as_json(dataclasses.asdict(segment.TrainSettings()))
    assert record["settings"] == defaults, "the record was trained with other settings: re-run the tool"
    runs = [r for r in record["runs"] if r["loss"] == defaults["loss"]]
    assert sorted(r["seed"] for r in runs) == [0, 1, 2, 3, 4]
    for r in runs:
        assert r["steps"] == defaults["max_steps"], "the step cap, not the wall clock, ended the run"
        assert r["train_seconds"] <= 120
        assert min(r["iou"].values()) >= 0.2 and r["miou"] >= 0.6, (r["seed"], r["iou"])
        assert set(r["iou"]) == set(synthetic.CLASSES[1:])


def test_the_loss_record_shows_the_failure_the_default_loss_fixes():
    """Unweighted cross-entropy plus Dice missed the thin lines entirely for some seeds (the reason
    for the weighting), with everything else equal."""
    record = json.loads((DATA / "losses.json").read_text())
    plain = [r for r in record["runs"] if r["loss"] == "ce+dice"]
    assert sorted(r["seed"] for r in plain) == [0, 1, 2, 3, 4]
    assert min(r["iou"]["line"] for r in plain) < 0.05
    assert all(r["steps"] == record["settings"]["max_steps"] for r in plain)


def test_run_loss_and_merge_replace_one_losss_runs_and_refuse_other_settings():
    from backbones_tutorial.segmentation import freeze_study as freezing

    a = freezing.run_loss(dataclasses.replace(TINY, max_steps=1), "ce+dice", [0])
    b = freezing.run_loss(dataclasses.replace(TINY, max_steps=1), "weighted-ce+dice", [0, 1])
    assert [r["loss"] for r in a["runs"]] == ["ce+dice"] and [r["seed"] for r in b["runs"]] == [0, 1]
    merged = freezing.merge_losses(as_json(a), b)  # one read back from its file (lists), one fresh (tuples)
    assert merged["losses"] == ["ce+dice", "weighted-ce+dice"] and len(merged["runs"]) == 3
    again = freezing.merge_losses(merged, a)  # a re-run of one loss replaces its runs, keeps the others
    assert sorted(r["loss"] for r in again["runs"]) == ["ce+dice", "weighted-ce+dice", "weighted-ce+dice"]
    table = freezing.loss_table(again)
    assert table.columns[:2] == ("loss", "seed") and len(table.rows) == 3
    other = freezing.run_loss(dataclasses.replace(TINY, max_steps=1, lr=0.01), "ce+dice", [0])
    with pytest.raises(ValueError, match="trained with different settings"):
        freezing.merge_losses(merged, other)


def test_stat_shift_by_hand_in_eval_mode_leaving_the_statistics_alone():
    backbone = nn.Sequential()
    backbone.add_module("stem", nn.Sequential(nn.BatchNorm2d(3)))
    backbone.add_module("deep", nn.BatchNorm2d(3))
    backbone.deep.running_mean.fill_(1.0)  # (3,)
    backbone.deep.running_var.fill_(4.0)
    backbone.train()
    images = np.full((2, 3, 5, 6), 0.75, dtype=np.float32)  # normalised: (0.75 - 0.5) / 0.25 = 1
    shift = segment.stat_shift(backbone, images, eps=0.0)
    # stem: |1 - 0| / sqrt(1) = 1; its output is (1 - 0) / 1 = 1, so deep: |1 - 1| / 2 = 0
    assert shift == pytest.approx({"stem": 1.0, "deep": 0.0}, abs=1e-5)  # the stem's own eps: 1 / sqrt(1 + 1e-5)
    assert backbone.training and float(backbone.stem[0].running_mean[0]) == 0.0  # mode and statistics kept


def test_the_learning_curve_names_the_loss_it_was_trained_with():
    """Before: "cross-entropy + Dice" under every curve, though the default loss weights the
    cross-entropy. Both keys of LOSSES get their own label; another name is refused."""
    from backbones_tutorial.segmentation.training import LOSSES
    from backbones_tutorial.viz.segmentation import LOSS_NAMES, plot_history

    assert set(LOSS_NAMES) == set(LOSSES)
    history = [(0, 0.1, 2.0), (1, 0.2, 1.5)]
    assert plot_history(history).axes[0].get_ylabel() == "training loss (weighted cross-entropy + Dice)"
    assert plot_history(history, "ce+dice").axes[0].get_ylabel() == "training loss (cross-entropy + Dice)"
    with pytest.raises(ValueError, match="unknown loss 'dice'; valid choices: 'weighted-ce\\+dice', 'ce\\+dice'"):
        plot_history(history, "dice")
