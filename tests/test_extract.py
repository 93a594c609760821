import gc
import weakref

import pytest
import torch
import torchvision
from torch import nn

from backbones_tutorial.extractors.cut import child_table, truncate


@pytest.fixture(scope="module")
def resnet18():
    torch.manual_seed(0)
    return torchvision.models.resnet18(weights=None).eval()


def layers_in_order(model, x, upto):
    for name in ["conv1", "bn1", "relu", "maxpool", "layer1", "layer2", "layer3", "layer4"]:
        x = getattr(model, name)(x)
        if name == upto:
            return x


@pytest.mark.parametrize("name", ["maxpool", "layer2", "layer3", "layer4"])
def test_truncate_equals_the_model_up_to_that_layer(resnet18, name):
    cut = truncate(resnet18, name)
    assert list(dict(cut.named_children()))[-1] == name
    x = torch.randn(1, 3, 97, 64)
    with torch.no_grad():
        assert torch.equal(cut(x), layers_in_order(resnet18, x, name))


def test_truncate_nested_name_cuts_inside_sequential(resnet18):
    cut = truncate(resnet18, "layer3.0")
    assert len(cut.layer3) == 1 and cut.layer3[0] is resnet18.layer3[0]
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        assert torch.equal(cut(x), resnet18.layer3[0](layers_in_order(resnet18, x, "layer2")))


def test_truncate_shares_modules_and_drops_references_to_the_rest():
    model = torchvision.models.resnet18(weights=None)
    cut = truncate(model, "layer2")
    assert cut.layer1 is model.layer1
    dropped = [weakref.ref(model.layer3), weakref.ref(model.fc)]
    del model
    gc.collect()
    assert all(ref() is None for ref in dropped)
    assert all(n not in dict(cut.named_children()) for n in ("layer3", "layer4", "avgpool", "fc"))


@pytest.mark.parametrize(
    "name, message",
    [
        ("layer9", r"unknown child of ResNet 'layer9'; valid choices: 'conv1', .*'fc'"),
        ("layer3.5", r"unknown child of layer3 '5'; valid choices: '0', '1'"),
        ("layer3.1.conv1", r"cannot cut inside 'layer3.1': it is a BasicBlock"),
        ("fc", r"keeps a Linear layer right after 'avgpool'.*flatten"),
    ],
)
def test_truncate_refuses_bad_names_clearly(resnet18, name, message):
    with pytest.raises(ValueError, match=message):
        truncate(resnet18, name)


def test_truncate_refuses_vgg_classifier_and_non_string(shared_model):
    vgg = shared_model("vgg16")
    with pytest.raises(ValueError, match="VGG.forward flattens"):
        truncate(vgg, "classifier")
    with pytest.raises(TypeError, match="child name"):
        truncate(vgg, 3)


def test_sequential_of_all_children_fails_where_forward_flattens(resnet18):
    naive = nn.Sequential(*resnet18.children())
    with pytest.raises(RuntimeError, match="shapes cannot be multiplied"):
        naive(torch.randn(1, 3, 64, 64))


def test_child_table_lists_index_name_and_class(resnet18):
    rows = child_table(resnet18)
    assert rows[0] == (0, "conv1", "Conv2d") and rows[-1] == (9, "fc", "Linear")
