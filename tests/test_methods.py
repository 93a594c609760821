"""Every extraction method returns exactly the reference tensors; the hook pitfall is real."""

import pytest
import torch
import torchvision

from backbones_tutorial.methods import (
    METHODS, STAGES, BareForward, HookExtractor, build_extractor, runs_only_needed_layers,
)

WORKLOADS = [list(STAGES), ["layer2"], ["layer1", "layer3"]]


@pytest.fixture(scope="module")
def resnet50():
    torch.manual_seed(0)
    model = torchvision.models.resnet50(weights=None).eval()
    g = torch.Generator().manual_seed(1)
    for m in model.modules():  # non-trivial BN statistics, so no layer is a near-identity
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.copy_(torch.randn(m.num_features, generator=g) * 0.1)
            m.running_var.copy_(torch.rand(m.num_features, generator=g) + 0.5)
    return model


@pytest.mark.parametrize("layers", WORKLOADS, ids=["+".join(w) for w in WORKLOADS])
@pytest.mark.parametrize("method", METHODS)
def test_every_method_returns_the_reference_tensors(resnet50, method, layers):
    x = torch.randn(2, 3, 97, 130, generator=torch.Generator().manual_seed(2))
    extractor = build_extractor(method, resnet50, layers).eval()
    with torch.no_grad():
        want = BareForward(resnet50, layers)(x)
        got = extractor(x)
    if isinstance(extractor, HookExtractor):
        extractor.remove()
    assert len(got) == len(want) == len(layers)
    for a, b in zip(got, want):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_bare_forward_matches_torchvision_feature_extractor(resnet50):
    from torchvision.models.feature_extraction import create_feature_extractor

    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        ref = create_feature_extractor(resnet50, {s: s for s in STAGES})(x)
        got = BareForward(resnet50, STAGES)(x)
    assert all(torch.equal(a, b) for a, b in zip(got, ref.values()))


def test_hook_without_clone_keeps_the_tensor_mutated_in_place(resnet50):
    """A Bottleneck adds the shortcut in place right after bn3: a hook that stores bn3's output
    without cloning it ends up holding the block's output instead."""
    block = resnet50.layer1[0]
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        stem = resnet50.maxpool(resnet50.relu(resnet50.bn1(resnet50.conv1(x))))
        h = block.relu(block.bn1(block.conv1(stem)))
        h = block.relu(block.bn2(block.conv2(h)))
        bn3_out = block.bn3(block.conv3(h))  # what a hook on layer1.0.bn3 should report
        block_out = block(stem)
        naive = HookExtractor(resnet50, ["layer1.0.bn3"], clone=False)
        stored = naive(x)[0]
        naive.remove()
        careful = HookExtractor(resnet50, ["layer1.0.bn3"], clone=True)
        cloned = careful(x)[0]
        careful.remove()
    assert not torch.equal(stored, bn3_out)
    assert torch.equal(stored, block_out)  # the += identity and the in-place ReLU changed it
    assert torch.equal(cloned, bn3_out)


def test_hooks_are_removed(resnet50):
    extractor = HookExtractor(resnet50, ["layer2"])
    assert len(resnet50.layer2._forward_hooks) == 1
    extractor.remove()
    assert len(resnet50.layer2._forward_hooks) == 0


def test_which_methods_run_only_the_needed_layers():
    assert runs_only_needed_layers("fx", ["layer2"]) and runs_only_needed_layers("children", ["layer2"])
    assert not runs_only_needed_layers("subclass", ["layer2"])
    assert runs_only_needed_layers("subclass", list(STAGES))
    assert not runs_only_needed_layers("hooks", list(STAGES))


def test_truncating_methods_keep_fewer_parameters_for_an_early_stage(resnet50):
    kept = {m: sum(p.numel() for p in build_extractor(m, resnet50, ["layer2"]).parameters())
            for m in ("children", "fx", "intermediate_layer_getter", "subclass")}
    up_to_layer2 = sum(p.numel() for n in ("conv1", "bn1", "layer1", "layer2")
                       for p in resnet50.get_submodule(n).parameters())
    assert kept["children"] == kept["fx"] == kept["intermediate_layer_getter"] == up_to_layer2
    assert kept["subclass"] == sum(p.numel() for p in resnet50.parameters())


def test_bad_arguments_are_named(resnet50):
    with pytest.raises(ValueError, match="unknown extraction method 'slicing'; valid choices: 'children'"):
        build_extractor("slicing", resnet50, ["layer2"])
    with pytest.raises(ValueError, match="unknown stage 'layer5'"):
        build_extractor("fx", resnet50, ["layer5"])
    with pytest.raises(ValueError, match="ordered fine to coarse"):
        build_extractor("fx", resnet50, ["layer3", "layer2"])
    with pytest.raises(TypeError, match="torchvision.models.ResNet"):
        build_extractor("fx", torchvision.models.vgg16(weights=None), ["layer2"])
