"""Every claim in the record holds, for our models and for torchvision's, and a false one fails."""

import dataclasses

import pytest
import torchvision

from backbones_tutorial.registry import MODELS, build
from backbones_tutorial.shapes.claims import CLAIMS, Stage
from backbones_tutorial.shapes.measure import ClaimMismatch, check_claim, claims_table, find_claim, measure

IDS = [f"{c.model}-{'x'.join(map(str, c.input_shape))}" for c in CLAIMS]
# torchvision's own models against the record: the basic and the bottleneck designs. ResNet101 and
# 152 differ from ResNet50 only in block counts; their state dicts and outputs equal torchvision's
# (tests/test_resnet.py), so their claims are measured on the package's models only.
RESNET_CLAIMS = [c for c in CLAIMS if c.model in {f"resnet{d}" for d in (18, 34, 50)}]
PUBLISHED = {  # torchvision's weights metadata: an independent source for the totals
    f"resnet{d}": getattr(torchvision.models, f"ResNet{d}_Weights").IMAGENET1K_V1.meta["num_params"]
    for d in (18, 34, 50, 101, 152)
}
PUBLISHED["vgg16"] = torchvision.models.VGG16_Weights.IMAGENET1K_V1.meta["num_params"]
PUBLISHED["resnet18_features"] = PUBLISHED["resnet18"]  # same modules, another forward
PUBLISHED["resnet50_features"] = PUBLISHED["resnet50"]


@pytest.mark.parametrize("claim", CLAIMS, ids=IDS)
@pytest.mark.slow  # every claim measured with torchinfo: seconds each for the big models
def test_claim_holds_for_the_package_model(claim, zeroed_model):
    check_claim(claim, zeroed_model("registry", claim.model))  # shapes and counts do not depend on values


RESNET_IDS = [i for c, i in zip(CLAIMS, IDS, strict=True) if c in RESNET_CLAIMS]


@pytest.mark.parametrize("claim", RESNET_CLAIMS, ids=RESNET_IDS)
def test_claim_holds_for_torchvision_model(claim, zeroed_model):
    check_claim(claim, zeroed_model("torchvision", claim.model))


PUBLISHED_CLAIMS = [c for c in CLAIMS if c.model in PUBLISHED]


@pytest.mark.parametrize("claim", PUBLISHED_CLAIMS, ids=[c.model for c in PUBLISHED_CLAIMS])
def test_claimed_total_equals_torchvision_published_num_params(claim):
    assert claim.total_params == PUBLISHED[claim.model]


@pytest.mark.parametrize("claim", CLAIMS, ids=IDS)
def test_claim_is_consistent_with_itself(claim):
    staged = sum(s.params for s in claim.stages)
    if claim.model.endswith("_features"):  # avgpool and fc are owned but never called
        assert staged < claim.total_params
    else:
        assert staged == claim.total_params
    assert claim.model in MODELS
    assert len({s.name for s in claim.stages}) == len(claim.stages)


def test_a_false_claim_fails_and_shows_the_measured_row(shared_model):
    claim = find_claim("resnet18")
    wrong = dataclasses.replace(claim, stages=(Stage("conv1", (64, 111, 112), 9_408), *claim.stages[1:]))
    claimed = r"claimed  Stage\(name='conv1', shape=\(64, 111, 112\)"
    measured = r"measured Stage\(name='conv1', shape=\(64, 112, 112\)"
    with pytest.raises(ClaimMismatch, match=f"(?s){claimed}.*{measured}"):
        check_claim(wrong, shared_model("resnet18"))
    with pytest.raises(ClaimMismatch, match="total params: claimed 1, measured 11,689,512"):
        check_claim(dataclasses.replace(claim, total_params=1), shared_model("resnet18"))
    with pytest.raises(ClaimMismatch, match="total params: claimed 1, measured 11,689,512"):
        check_claim(dataclasses.replace(claim, total_params=1))  # the default: a fresh build from the registry


def test_measure_lists_children_once_in_call_order(shared_model):
    m = measure(build("basic_block_identity"), (64, 8, 8))
    assert [s.name for s in m.stages] == ["conv1", "bn1", "relu", "conv2", "bn2"]  # relu's second call not repeated
    with pytest.raises(ValueError, match="without the batch"):
        measure(shared_model("resnet18"), (1, 3, 224, 0))


def test_find_claim_names_the_valid_choices():
    with pytest.raises(ValueError, match="valid choices: .*'resnet34'"):
        find_claim("resnet35")
    with pytest.raises(ValueError, match=r"claimed input shapes: \[\(3, 224, 224\), \(3, 225, 300\)\]"):
        find_claim("resnet34", (3, 100, 100))


def test_claims_table_renders_the_claim_it_checked():
    table = claims_table("resnet34", (3, 225, 300))
    assert table.rows[0] == ("conv1", "64 x 113 x 150", "9,408")
    assert table.rows[-1] == ("output", "1000", "21,797,672")
    assert "512 x 8 x 10" in repr(table) and "512 x 8 x 10" in table._repr_html_()


def test_claims_table_caption_names_the_model_by_its_title_not_its_registry_key():
    table = claims_table("basic_block_identity", title="A BasicBlock(64, 64)")
    assert table.caption == "A BasicBlock(64, 64), one input of 64 x 56 x 56 (checked with torchinfo)"
    assert "basic_block_identity" not in table._repr_html_()
    with pytest.raises(ValueError, match="title must be a non-empty string"):
        claims_table("resnet34", title="  ")


def test_expand_lists_the_decoder_blocks_by_their_dotted_paths_and_a_wrong_block_size_fails(zeroed_model):
    model = zeroed_model("registry", "unet_resnet18")
    plain = measure(model, (3, 67, 83))
    assert [s.name for s in plain.stages] == ["backbone", "decoder"]
    expanded = measure(model, (3, 67, 83), ("decoder", "decoder.blocks"))
    assert [s.name for s in expanded.stages] == [
        "backbone", *(f"decoder.blocks.{i}" for i in range(4)), "decoder.image", "decoder.final", "decoder.head"]
    # the expanded rows hold exactly the decoder's parameters: nothing dropped, nothing counted twice
    assert sum(s.params for s in expanded.stages[1:]) == plain.stages[1].params
    claim = find_claim("unet_resnet18")
    # a decoder block claimed at twice layer3's size (what 2x upsampling of layer4 would give)
    wrong = dataclasses.replace(claim, stages=(claim.stages[0], Stage("decoder.blocks.0", (64, 6, 6), 442_496),
                                               *claim.stages[2:]))
    with pytest.raises(ClaimMismatch, match=r"claimed  Stage\(name='decoder.blocks.0', shape=\(64, 6, 6\)"):
        check_claim(wrong, model)


@pytest.mark.parametrize(("expand", "message"), [
    (("decoder.blocks",), "expand names 'decoder.blocks' but not its parent 'decoder'"),
    (("encoder",),
     r"expand names 'encoder', which is not a submodule with children of UNet; .*\['backbone', 'decoder'\]"),
    (("decoder.head",), "expand names 'decoder.head', which is not a submodule with children"),
    ("decoder", "expand must be a tuple of dotted submodule paths"),
])
def test_a_bad_expand_is_named(zeroed_model, expand, message):
    with pytest.raises(ValueError, match=message):
        measure(zeroed_model("registry", "unet_resnet18"), (3, 67, 83), expand)
