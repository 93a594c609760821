"""sample_image gives a normalised, deterministic batch from scikit-image's bundled photographs;
feature_grid shows one image per channel and rejects what is not one (1, C, H, W) map."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pytest
import torch
from matplotlib.figure import Figure

from backbones_tutorial.data import IMAGENET_MEAN, IMAGENET_STD, SAMPLE_IMAGES, denormalise, sample_image
from backbones_tutorial.viz import feature_grid


@pytest.fixture
def skimage_data():
    """scikit-image's bundled photographs (a book dependency); the grid tests do not need it."""
    return pytest.importorskip("skimage.data")


def expected_normalised(pixels) -> torch.Tensor:
    """(H, W, 3) uint8 -> (1, 3, H, W), normalised with ImageNet's statistics, written out by hand."""
    x = torch.from_numpy(pixels.copy()).double() / 255
    mean, std = torch.tensor(IMAGENET_MEAN).double(), torch.tensor(IMAGENET_STD).double()
    return ((x - mean) / std).permute(2, 0, 1).unsqueeze(0).float()


@pytest.mark.parametrize("name", SAMPLE_IMAGES)
@pytest.mark.parametrize("size", [224, 97])
def test_sample_image_is_a_float32_batch_of_one_square_rgb_image(skimage_data, name, size):
    x = sample_image(name, size)
    assert x.shape == (1, 3, size, size)
    assert x.dtype == torch.float32
    assert torch.isfinite(x).all()


def test_sample_image_without_resizing_is_the_photograph_normalised_with_imagenet_statistics(skimage_data):
    # The astronaut is 512 x 512: at size 512 nothing is resized or cropped.
    pixels = skimage_data.astronaut()
    assert pixels.shape == (512, 512, 3)
    torch.testing.assert_close(sample_image("astronaut", 512), expected_normalised(pixels), atol=1e-5, rtol=0)


def test_sample_image_crops_the_centre_of_a_wide_photograph(skimage_data):
    # The cat is 300 x 451: at size 300 only the width is cropped, 75 columns on each side.
    pixels = skimage_data.chelsea()
    assert pixels.shape == (300, 451, 3)
    torch.testing.assert_close(
        sample_image("chelsea", 300), expected_normalised(pixels[:, 75:375]), atol=1e-5, rtol=0
    )


def test_sample_image_is_roughly_centred_and_unit_scaled(skimage_data):
    x = sample_image()
    # Raw [0, 1] pixels would have no negative values; unscaled [0, 255] ones a huge spread.
    assert -1.0 < x.mean().item() < 1.0
    assert 0.5 < x.std().item() < 2.0
    assert (x < 0).float().mean().item() > 0.2
    channel_means = x.mean(dim=(0, 2, 3))
    assert channel_means.abs().max().item() < 1.0


def test_sample_image_is_deterministic(skimage_data):
    assert torch.equal(sample_image("coffee", 160), sample_image("coffee", 160))


def test_denormalise_undoes_the_normalisation_into_zero_one(skimage_data):
    x = sample_image("rocket", 64)
    rgb = denormalise(x)
    assert rgb.shape == x.shape
    assert rgb.min().item() >= 0.0 and rgb.max().item() <= 1.0
    mean, std = torch.tensor(IMAGENET_MEAN).view(3, 1, 1), torch.tensor(IMAGENET_STD).view(3, 1, 1)
    torch.testing.assert_close((rgb - mean) / std, x, atol=1e-5, rtol=0)
    torch.testing.assert_close(denormalise(x[0]), rgb[0])


def test_denormalise_clips_values_outside_the_displayable_range():
    out = denormalise(torch.tensor([-10.0, 0.0, 10.0]).view(1, 3, 1, 1).expand(1, 3, 2, 2))
    assert out.min().item() == 0.0 and out.max().item() == 1.0


def test_sample_image_rejects_an_unknown_name_listing_the_choices():
    with pytest.raises(ValueError, match="valid choices: 'astronaut', 'chelsea', 'coffee', 'rocket'") as err:
        sample_image("lena")
    assert "'lena'" in str(err.value)


@pytest.mark.parametrize("size", [0, -3, 22.5, "224", True])
def test_sample_image_rejects_a_size_that_is_not_a_positive_int(size):
    with pytest.raises(ValueError, match="size must be a positive int"):
        sample_image("astronaut", size)


def test_denormalise_rejects_a_tensor_that_is_not_rgb():
    with pytest.raises(ValueError, match=r"\(3, H, W\).*got shape \(1, 4, 8, 8\)"):
        denormalise(torch.zeros(1, 4, 8, 8))


def shown_images(fig: Figure) -> list:
    return [image for ax in fig.axes for image in ax.get_images()]


@pytest.mark.parametrize(
    ("channels", "n", "ncols", "shown"),
    [(512, 64, 8, 64), (20, 12, 5, 12), (3, 64, 8, 3), (10, 10, 4, 10)],
)
def test_feature_grid_shows_one_axes_and_one_image_per_channel(channels, n, ncols, shown):
    fig = feature_grid(torch.randn(1, channels, 7, 9), n=n, ncols=ncols)
    assert isinstance(fig, Figure)
    assert len(fig.axes) == shown
    assert len(shown_images(fig)) == shown
    assert [ax.get_title() for ax in fig.axes] == [str(i) for i in range(shown)]
    fig.canvas.draw()  # let the constrained layout place the axes
    columns = {round(ax.get_position().x0, 3) for ax in fig.axes}
    assert len(columns) == min(ncols, shown)
    assert max(ax.get_position().x1 for ax in fig.axes) > 0.85  # no empty columns on the right


def test_feature_grid_draws_the_first_channels_in_order():
    features = torch.arange(5 * 4 * 6, dtype=torch.float32).view(1, 5, 4, 6)
    fig = feature_grid(features, n=3)
    for i, image in enumerate(shown_images(fig)):
        assert torch.equal(torch.as_tensor(image.get_array().data), features[0, i])


def test_feature_grid_accepts_a_tensor_that_requires_grad_and_leaves_pyplot_alone():
    before = plt.get_fignums()
    fig = feature_grid(torch.randn(1, 4, 5, 5, requires_grad=True), title="my title")
    assert fig._suptitle.get_text() == "my title"
    assert plt.get_fignums() == before


@pytest.mark.parametrize(
    ("shape", "hint"),
    [((64, 7, 7), "unsqueeze"), ((2, 64, 7, 7), r"features\[:1\]"), ((64, 49), r"\(64, 49\)"), ((1, 1, 64, 7, 7), "")],
)
def test_feature_grid_rejects_a_tensor_that_is_not_one_feature_map(shape, hint):
    with pytest.raises(ValueError, match=r"\(1, C, H, W\)") as err:
        feature_grid(torch.zeros(shape))
    assert str(tuple(shape)) in str(err.value)
    if hint:
        assert err.match(hint)


@pytest.mark.parametrize("kwargs", [{"n": 0}, {"ncols": 0}, {"n": 2.5}])
def test_feature_grid_rejects_a_non_positive_count(kwargs):
    with pytest.raises(ValueError, match="must be a positive int"):
        feature_grid(torch.zeros(1, 8, 4, 4), **kwargs)


def test_feature_grid_rejects_a_non_tensor():
    with pytest.raises(TypeError, match="torch.Tensor"):
        feature_grid([[1.0]])
