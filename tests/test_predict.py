"""Shape prediction from arithmetic agrees with torchinfo's measurement, at any size."""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backbones_tutorial.__main__ import main
from backbones_tutorial.shapes.measure import measure
from backbones_tutorial.shapes.predict import SizeTooSmall, checked_prediction, minimum_size, predict_shapes


def assert_prediction_matches_measurement(model, arch, h, w):
    predicted = predict_shapes(arch, (h, w))
    measured = measure(model, (3, h, w))
    by_name = {s.name: s for s in measured.stages}
    for row in predicted:
        top = row.name.split(".")[0].split("[")[0]
        if row.name == top:
            assert row.shape == by_name[top].shape, (arch, h, w, row)
            assert row.params == by_name[top].params
    if arch == "vgg16":  # the last block row is the whole of features
        assert predicted[4].shape == by_name["features"].shape
        assert sum(r.params for r in predicted[:5]) == by_name["features"].params
    assert sum(r.params for r in predicted) == measured.total_params


# Sides up to 160 cover every residue mod 32 five times: the rounding is what the sizes exercise.
@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(arch=st.sampled_from(["resnet18", "resnet50"]), h=st.integers(1, 160), w=st.integers(1, 160))
def test_resnet_prediction_matches_torchinfo_at_random_sizes(shared_model, arch, h, w):
    assert_prediction_matches_measurement(shared_model(arch), arch, h, w)


@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(h=st.integers(32, 160), w=st.integers(32, 160))
def test_vgg_prediction_matches_torchinfo_at_random_sizes(shared_model, h, w):
    assert_prediction_matches_measurement(shared_model("vgg16"), "vgg16", h, w)


@pytest.mark.parametrize("arch", ["resnet101", "resnet152"])
def test_deep_resnets_predicted_at_an_odd_size(shared_torchvision, arch):
    model = shared_torchvision(arch)
    measured = measure(model, (3, 97, 65))
    predicted = {r.name: r for r in predict_shapes(arch, (97, 65))}
    assert all(predicted[s.name].shape == s.shape and predicted[s.name].params == s.params for s in measured.stages)


def test_reductions_follow_the_strides():
    rows = {r.name: r.reduction for r in predict_shapes("resnet34", (224, 224))}
    assert [rows[n] for n in ("conv1", "maxpool", "layer1", "layer2", "layer3", "layer4")] == [2, 4, 4, 8, 16, 32]
    assert rows["avgpool"] is None and rows["fc"] is None


def test_minimum_size_is_what_the_pools_allow():
    # VGG16 halves five times with 2x2 pools and no padding: 2**5 = 32 is the smallest side.
    assert minimum_size("vgg16") == 32
    assert minimum_size("resnet18") == 1  # padded convs and pools never empty a map
    predict_shapes("vgg16", (32, 32))
    with pytest.raises(SizeTooSmall, match="input 31x40 is too small for vgg16.*the minimum is 32x32"):
        checked_prediction("vgg16", (31, 40))


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="unknown architecture 'resnet20'; valid choices: 'resnet18'"):
        predict_shapes("resnet20", (224, 224))
    with pytest.raises(ValueError, match="two positive ints"):
        predict_shapes("resnet18", (0, 224))


def test_shapes_command_prints_one_row_per_stage(capsys):
    assert main(["shapes", "resnet50", "--size", "225", "300"]) == 0
    out = capsys.readouterr().out.splitlines()
    layer4 = next(line for line in out if line.startswith("layer4"))
    assert layer4.split() == ["layer4", "2048", "x", "8", "x", "10", "/32", "14,964,736"]
    assert len([line for line in out if line.split() and line.split()[0] in
                ("conv1", "bn1", "relu", "maxpool", "layer1", "layer2", "layer3", "layer4", "avgpool", "fc")]) == 10


def test_shapes_command_rejects_too_small_and_unknown(capsys):
    with pytest.raises(SystemExit) as e:
        main(["shapes", "vgg16", "--size", "16", "16"])
    assert e.value.code == 2 and "the minimum is 32x32" in capsys.readouterr().err
    with pytest.raises(SystemExit) as e:
        main(["shapes", "alexnet"])
    assert e.value.code == 2 and "invalid choice: 'alexnet'" in capsys.readouterr().err
