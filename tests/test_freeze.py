import pytest
import torch
import torchvision
from torchvision.ops import FrozenBatchNorm2d

from backbones_tutorial.extractors.freeze import freeze, trainable_report

FROZEN = ["conv1", "bn1", "layer1", "layer2"]


def one_train_step_changes_running_mean(model: torch.nn.Module) -> bool:
    bn = model.layer1[0].bn1
    before = bn.running_mean.clone()
    model.train()
    model(torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(0)) * 2 + 1)
    return not torch.equal(before, bn.running_mean)


def test_requires_grad_alone_lets_batchnorm_statistics_drift():
    model = torchvision.models.resnet18(weights=None)
    report = freeze(model, FROZEN, batchnorm="train")
    assert not any(p.requires_grad for p in model.layer1.parameters())
    assert report.trainable == ("layer3", "layer4", "fc")
    assert one_train_step_changes_running_mean(model)  # the pitfall


@pytest.mark.parametrize("mode", ["frozen", "eval"])
def test_frozen_or_eval_batchnorm_keeps_statistics_in_train_mode(mode):
    model = torchvision.models.resnet18(weights=None)
    freeze(model, FROZEN, batchnorm=mode)
    assert not one_train_step_changes_running_mean(model)
    assert model.layer3[0].bn1.training  # BN outside the frozen names still trains
    if mode == "frozen":
        assert isinstance(model.layer1[0].bn1, FrozenBatchNorm2d) and isinstance(model.bn1, FrozenBatchNorm2d)
        assert isinstance(model.layer3[0].bn1, torch.nn.BatchNorm2d)


def test_frozen_batchnorm_keeps_the_function_of_the_model():
    torch.manual_seed(0)
    model = torchvision.models.resnet18(weights=None).eval()
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.2, 0.2)
            m.running_var.uniform_(0.5, 1.5)
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        before = model(x)
        freeze(model, FROZEN, batchnorm="frozen")
        torch.testing.assert_close(model.eval()(x), before)


def test_trainable_counts_equal_independent_count():
    model = torchvision.models.resnet34(weights=None)
    report = freeze(model, FROZEN, batchnorm="train")
    frozen = sum(p.numel() for n in FROZEN for p in model.get_submodule(n).parameters())
    assert report.total_params == torchvision.models.ResNet34_Weights.IMAGENET1K_V1.meta["num_params"]
    assert report.trainable_params == report.total_params - frozen
    assert trainable_report(model) == report


def test_freeze_validates_names_and_mode():
    model = torchvision.models.resnet18(weights=None)
    with pytest.raises(ValueError, match=r"unknown submodule 'layer5' of ResNet; top-level children are 'conv1'"):
        freeze(model, ["layer5"])
    with pytest.raises(ValueError, match=r"unknown batchnorm mode 'off'; valid choices: 'frozen', 'eval', 'train'"):
        freeze(model, ["layer1"], batchnorm="off")
    with pytest.raises(TypeError, match="list of submodule names"):
        freeze(model, "layer1")
    assert all(p.requires_grad for p in model.parameters())  # nothing was touched by the failed calls


def test_freeze_accepts_nested_names():
    model = torchvision.models.resnet18(weights=None)
    freeze(model, ["layer1.0"], batchnorm="frozen")
    assert not any(p.requires_grad for p in model.layer1[0].parameters())
    assert all(p.requires_grad for p in model.layer1[1].parameters())
    assert isinstance(model.layer1[0].bn2, FrozenBatchNorm2d)


def test_frozen_batchnorm_follows_the_dtype_of_the_model():
    model = torchvision.models.resnet18(weights=None).to(torch.bfloat16).eval()
    freeze(model, FROZEN, batchnorm="frozen")
    assert model.bn1.running_mean.dtype == torch.bfloat16
    assert model(torch.randn(1, 3, 32, 32, dtype=torch.bfloat16)).dtype == torch.bfloat16


def test_eval_mode_hook_is_registered_once():
    model = torchvision.models.resnet18(weights=None)
    freeze(model, ["layer1"], batchnorm="eval")
    freeze(model, ["layer1"], batchnorm="eval")
    assert len(model.layer1[0].bn1._forward_pre_hooks) == 1


@pytest.mark.parametrize("mode", ["frozen", "eval"])
def test_unfreeze_restores_training_of_parameters_and_batchnorm(mode):
    from backbones_tutorial.extractors.freeze import unfreeze

    torch.manual_seed(0)
    model = torchvision.models.resnet18(weights=None).eval()
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.2, 0.2)
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        before = model(x)
    total = sum(p.numel() for p in model.parameters())
    freeze(model, FROZEN, batchnorm=mode)
    report = unfreeze(model, FROZEN)
    assert report.trainable_params == report.total_params == total
    assert isinstance(model.layer1[0].bn1, torch.nn.BatchNorm2d) and isinstance(model.bn1, torch.nn.BatchNorm2d)
    assert not model.layer1[0].bn1._forward_pre_hooks
    with torch.no_grad():
        torch.testing.assert_close(model.eval()(x), before)  # the statistics came back unchanged
    assert one_train_step_changes_running_mean(model)  # and BatchNorm trains again
    with pytest.raises(ValueError, match="unknown submodule 'layer9'"):
        unfreeze(model, ["layer9"])


def test_up_to_is_the_way_to_say_everything_up_to_layer2():
    """up_to adds relu and maxpool, which own no parameters: the same parameters are frozen."""
    from backbones_tutorial.extractors.cut import up_to

    by_list, by_up_to = torchvision.models.resnet18(weights=None), torchvision.models.resnet18(weights=None)
    a, b = freeze(by_list, FROZEN), freeze(by_up_to, up_to(by_up_to, "layer2"))
    assert a == b and a.trainable == ("layer3", "layer4", "fc")
    assert [n for n, p in by_list.named_parameters() if p.requires_grad] == [
        n for n, p in by_up_to.named_parameters() if p.requires_grad]
