"""Every extraction method returns exactly the reference tensors; the method table says what each
one computes, and says it truly; the hook pitfall is real."""

import copy

import pytest
import torch
import torchvision
from torch.utils.flop_counter import FlopCounterMode
from torchvision.models.resnet import Bottleneck, ResNet

from backbones_tutorial.extractors.freeze import freeze
from backbones_tutorial.extractors.methods import (
    ALWAYS,
    METHOD_TABLE,
    METHODS,
    STAGES,
    BareForward,
    HookExtractor,
    Method,
    build_extractor,
    method_record,
    runs_only_needed_layers,
)
from backbones_tutorial.params import count_params

WORKLOADS = [list(STAGES), ["layer2"], ["layer1", "layer3"]]
STOP_WORKLOADS = [*WORKLOADS, ["layer4"]]  # layer4 alone: the subclass and the wrapper stop there too


@pytest.fixture(scope="module")
def small_resnet():
    """torchvision's ResNet50 architecture at a fraction of its depth: the same Bottleneck blocks,
    a downsampling first block in every stage, [2, 1, 2, 1] blocks instead of [3, 4, 6, 3]. The
    methods' code does not depend on the number of blocks; the chapter runs them on ResNet50."""
    torch.manual_seed(0)
    model = ResNet(Bottleneck, [2, 1, 2, 1]).eval()
    g = torch.Generator().manual_seed(1)
    for m in model.modules():  # non-trivial BN statistics, so no layer is a near-identity
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.copy_(torch.randn(m.num_features, generator=g) * 0.1)
            m.running_var.copy_(torch.rand(m.num_features, generator=g) + 0.5)
    return model


@pytest.fixture(scope="module")
def reference(small_resnet):
    """BareForward's maps of each workload for one odd-sized batch, computed once."""
    x = torch.randn(2, 3, 49, 67, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        return x, {tuple(w): BareForward(small_resnet, w)(x) for w in WORKLOADS}


def _remove_hooks(extractor):
    if isinstance(extractor, HookExtractor):
        extractor.remove()


@pytest.mark.parametrize("layers", WORKLOADS, ids=["+".join(w) for w in WORKLOADS])
@pytest.mark.parametrize("method", METHODS)
def test_every_method_returns_the_reference_tensors(small_resnet, reference, method, layers):
    x, want = reference[0], reference[1][tuple(layers)]
    extractor = build_extractor(method, small_resnet, layers).eval()
    with torch.no_grad():
        got = extractor(x)
    _remove_hooks(extractor)
    assert len(got) == len(want) == len(layers)
    for a, b in zip(got, want, strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_bare_forward_matches_torchvision_feature_extractor(small_resnet):
    from torchvision.models.feature_extraction import create_feature_extractor

    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        ref = create_feature_extractor(small_resnet, {s: s for s in STAGES})(x)
        got = BareForward(small_resnet, STAGES)(x)
    assert all(torch.equal(a, b) for a, b in zip(got, ref.values(), strict=True))


def test_the_table_keeps_chapter_6s_methods_in_order():
    assert METHODS == ("children", "subclass", "wrapper", "fx", "intermediate_layer_getter", "hooks")
    assert [m.name for m in METHOD_TABLE] == list(METHODS)
    assert all(method_record(name) is record for name, record in zip(METHODS, METHOD_TABLE, strict=True))


def test_only_the_subclass_and_the_wrapper_need_the_models_source():
    """Both copy the model's forward by hand; the others slice, trace or observe it."""
    assert [m.name for m in METHOD_TABLE if m.needs_source] == ["subclass", "wrapper"]
    assert method_record("subclass").source == "yes (overrides)"
    assert method_record("hooks").source == "no (observes)"


def _flops(module, x) -> int:
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        module(x)
    return counter.get_total_flops()


@pytest.mark.parametrize("layers", STOP_WORKLOADS, ids=["+".join(w) for w in STOP_WORKLOADS])
def test_the_stop_rules_agree_with_the_work_each_method_does(small_resnet, layers):
    """A method that stops after the deepest requested layer does exactly the bare forward's
    arithmetic; one that does not does more (the rest of the pyramid, or the head)."""
    x = torch.randn(1, 3, 32, 32)
    bare = _flops(BareForward(small_resnet, layers), x)
    for method in METHODS:
        extractor = build_extractor(method, small_resnet, layers).eval()
        flops = _flops(extractor, x)
        _remove_hooks(extractor)
        assert flops >= bare, method
        assert (flops == bare) == runs_only_needed_layers(method, layers), (method, flops, bare)


def test_the_stop_rules_as_the_chapter_states_them():
    assert runs_only_needed_layers("fx", ["layer2"]) and runs_only_needed_layers("children", ["layer2"])
    assert not runs_only_needed_layers("subclass", ["layer2"])
    assert runs_only_needed_layers("subclass", list(STAGES)) and runs_only_needed_layers("wrapper", ["layer4"])
    assert not runs_only_needed_layers("hooks", list(STAGES))


def test_a_method_record_checks_itself():
    with pytest.raises(ValueError, match="unknown stop rule of method 'x' 'sometimes'; valid choices: 'always'"):
        Method("x", build_extractor, "sometimes", False, "slices", "none")
    with pytest.raises(ValueError, match="method 'x' needs a non-empty pitfall"):
        Method("x", build_extractor, ALWAYS, False, "slices", "")


def test_the_subclass_holds_a_copy_of_the_models_weights_in_the_models_mode(small_resnet):
    extractor = build_extractor("subclass", small_resnet, ["layer2"])
    ours, theirs = extractor.pyramid.layer2[0].conv1.weight, small_resnet.layer2[0].conv1.weight
    assert torch.equal(ours, theirs) and ours.data_ptr() != theirs.data_ptr()
    assert not any(m.training for m in extractor.pyramid.modules())  # the model is in eval mode
    x = torch.randn(1, 3, 32, 32)  # layer4 is 1 x 1: BatchNorm in training mode would refuse it
    with torch.no_grad():
        got = build_extractor("subclass", small_resnet, ["layer4"])(x)[0]  # no .eval(): the model's mode
        assert torch.equal(got, BareForward(small_resnet, ["layer4"])(x)[0])


@pytest.mark.parametrize("build", [lambda: torchvision.models.resnet18(weights=None, num_classes=10),
                                   lambda: torchvision.models.resnext50_32x4d(weights=None)],
                         ids=["resnet18-10-classes", "resnext50_32x4d"])
def test_the_subclass_rebuilds_other_heads_and_grouped_blocks(build):
    """Before: torchvision's default constructor (1000 classes, groups 1), so load_state_dict failed
    deep in torch. The reference: the model's own modules, called in order (BareForward)."""
    torch.manual_seed(0)
    model = build().eval()
    x = torch.randn(1, 3, 65, 47)
    with torch.no_grad():
        got, want = build_extractor("subclass", model, list(STAGES))(x), BareForward(model, list(STAGES))(x)
    assert all(torch.equal(a, b) for a, b in zip(got, want, strict=True))


def test_the_subclass_copies_which_parameters_are_trainable(small_resnet):
    model = copy.deepcopy(small_resnet)
    freeze(model, ["conv1", "bn1", "layer1"], batchnorm="train")  # requires_grad only: a copy can keep it
    extractor = build_extractor("subclass", model, list(STAGES))
    assert count_params(extractor, trainable_only=True) == count_params(model, trainable_only=True)
    assert count_params(extractor, trainable_only=True) < count_params(model)


def test_hook_without_clone_keeps_the_tensor_mutated_in_place(small_resnet):
    """A Bottleneck adds the shortcut in place right after bn3: a hook that stores bn3's output
    without cloning it ends up holding the block's output instead."""
    block = small_resnet.layer1[0]
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        stem = small_resnet.maxpool(small_resnet.relu(small_resnet.bn1(small_resnet.conv1(x))))
        h = block.relu(block.bn1(block.conv1(stem)))
        h = block.relu(block.bn2(block.conv2(h)))
        bn3_out = block.bn3(block.conv3(h))  # what a hook on layer1.0.bn3 should report
        block_out = block(stem)
        naive = HookExtractor(small_resnet, ["layer1.0.bn3"], clone=False)
        stored = naive(x)[0]
        naive.remove()
        careful = HookExtractor(small_resnet, ["layer1.0.bn3"], clone=True)
        cloned = careful(x)[0]
        careful.remove()
    assert not torch.equal(stored, bn3_out)
    assert torch.equal(stored, block_out)  # the += identity and the in-place ReLU changed it
    assert torch.equal(cloned, bn3_out)


def test_hooks_are_removed(small_resnet):
    extractor = HookExtractor(small_resnet, ["layer2"])
    assert len(small_resnet.layer2._forward_hooks) == 1
    extractor.remove()
    assert len(small_resnet.layer2._forward_hooks) == 0


def test_hooks_on_a_shared_model_fire_inside_every_method_that_calls_its_modules(small_resnet):
    """Why the benchmark gives each method its own copy of the model (chapter 6): hooks registered
    on a model fire, and clone, inside every extractor built from the same modules, the bare
    forward's included; only the subclass (its own copy of the weights) and fx (a GraphModule with
    its own modules) escape them."""
    x = torch.randn(1, 3, 49, 67)
    hooks = HookExtractor(small_resnet, list(STAGES))
    others = {"bare": BareForward(small_resnet, list(STAGES))}
    others |= {m: build_extractor(m, small_resnet, list(STAGES)).eval() for m in METHODS if m != "hooks"}
    fired = set()
    with torch.no_grad():
        for name, extractor in others.items():
            hooks._store.clear()
            extractor(x)
            if hooks._store:
                fired.add(name)
    hooks.remove()
    assert fired == {"bare", "children", "wrapper", "intermediate_layer_getter"}


def test_truncating_methods_keep_fewer_parameters_for_an_early_stage(small_resnet):
    kept = {m: count_params(build_extractor(m, small_resnet, ["layer2"]))
            for m in ("children", "fx", "intermediate_layer_getter", "subclass")}
    up_to_layer2 = sum(count_params(small_resnet.get_submodule(n)) for n in ("conv1", "bn1", "layer1", "layer2"))
    assert kept["children"] == kept["fx"] == kept["intermediate_layer_getter"] == up_to_layer2
    assert kept["subclass"] == count_params(small_resnet)


def test_bad_arguments_are_named(small_resnet):
    with pytest.raises(ValueError, match="unknown extraction method 'slicing'; valid choices: 'children'"):
        build_extractor("slicing", small_resnet, ["layer2"])
    with pytest.raises(ValueError, match="unknown stage 'layer5'"):
        build_extractor("fx", small_resnet, ["layer5"])
    with pytest.raises(ValueError, match="ordered fine to coarse"):
        build_extractor("fx", small_resnet, ["layer3", "layer2"])
    with pytest.raises(ValueError, match="at least one stage"):
        runs_only_needed_layers("fx", [])
    with pytest.raises(ValueError, match="unknown extraction method 'slicing'"):
        runs_only_needed_layers("slicing", ["layer2"])
    with pytest.raises(TypeError, match="torchvision.models.ResNet, got Sequential"):
        build_extractor("fx", torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3)), ["layer2"])
