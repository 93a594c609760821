import copy

import pytest
import torch
import torchvision
from conftest import uninitialised

from backbones_tutorial.models.blocks import BasicBlock
from backbones_tutorial.models.resnet import RESNETS, ResNet, resnet

DEPTHS = sorted(RESNETS)


def randomize_batchnorm_statistics(model: torch.nn.Module, seed: int = 0) -> None:
    """Give every BatchNorm non-trivial running stats and affine params, so eval-mode BN is no near-identity."""
    g = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.copy_(torch.randn(m.num_features, generator=g) * 0.1)
            m.running_var.copy_(torch.rand(m.num_features, generator=g) + 0.5)
            m.weight.data.copy_(torch.rand(m.num_features, generator=g) + 0.5)
            m.bias.data.copy_(torch.randn(m.num_features, generator=g) * 0.1)


@pytest.fixture(scope="module", params=DEPTHS, ids=[f"resnet{d}" for d in DEPTHS])
def loaded_pair(request, shared_torchvision):
    tv = copy.deepcopy(shared_torchvision(f"resnet{request.param}"))  # a copy: its BatchNorms change
    randomize_batchnorm_statistics(tv)
    ours = uninitialised(resnet, request.param)
    ours.load_state_dict(tv.state_dict(), strict=True)  # strict: every key and shape matches, all values set
    return ours.eval(), tv.eval()


@pytest.mark.parametrize("size", [(33, 47), (17, 65)])  # small odd sizes: every stride-2 layer rounds up
def test_resnet_loads_torchvision_weights_and_matches_outputs(loaded_pair, size):
    ours, tv = loaded_pair
    x = torch.randn(2, 3, *size, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        out, ref = ours(x), tv(x)
    assert out.shape == ref.shape == (2, 1000)
    assert (out - ref).abs().max().item() <= 1e-5


@pytest.mark.parametrize("depth", DEPTHS)
def test_state_dict_keys_and_shapes_equal_torchvision(depth):
    with torch.device("meta"):  # names and shapes only: no memory, no initialisation
        ours = resnet(depth).state_dict()
        tv = getattr(torchvision.models, f"resnet{depth}")(weights=None).state_dict()
    assert list(ours) == list(tv)
    assert all(ours[k].shape == tv[k].shape for k in tv)


def test_unknown_depth_names_the_valid_choices():
    with pytest.raises(ValueError, match=r"unknown ResNet depth 42; valid choices: 18, 34, 50, 101, 152"):
        resnet(42)


def test_resnet_rejects_bad_configuration_and_input():
    with pytest.raises(ValueError, match="four positive block counts"):
        ResNet(BasicBlock, [2, 2, 2])
    with pytest.raises(TypeError, match="BasicBlock or Bottleneck"):
        ResNet(torch.nn.Conv2d, [2, 2, 2, 2])
    model = resnet(18)
    with pytest.raises(ValueError, match=r"4-D batch \(B, 3, H, W\).*\[3, 64, 64\]"):
        model(torch.randn(3, 64, 64))
    with pytest.raises(ValueError, match="expects 3 input channels.*got 1"):
        model(torch.randn(1, 1, 64, 64))


def test_zero_init_residual_makes_every_block_start_as_identity():
    model = resnet(50, zero_init_residual=True)
    assert all(b.bn3.weight.abs().sum() == 0 for layer in (model.layer1, model.layer4) for b in layer)


def test_from_scratch_resnet_traces_with_torch_fx():
    model = resnet(18).eval()
    gm = torch.fx.symbolic_trace(model)
    assert any(n.op == "call_function" and n.target.__name__ == "check_batch" for n in gm.graph.nodes)
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(gm(x), model(x))
    with pytest.raises(ValueError, match="expects 3 input channels"):  # the check survives tracing
        gm(torch.randn(1, 4, 64, 64))
