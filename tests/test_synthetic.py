"""The synthetic segmentation data: masks match the pixels, seeds reproduce, streams differ."""

import numpy as np
import pytest

from backbones_tutorial.segmentation import synthetic


@pytest.fixture(scope="module")
def sample():
    return synthetic.dataset("train", 3, 12, size=(45, 59))


def test_images_and_masks_have_the_asked_size_and_types(sample):
    assert sample.images.shape == (12, 3, 45, 59) and sample.images.dtype == np.float32
    assert sample.masks.shape == (12, 45, 59) and sample.masks.dtype == np.int64
    assert sample.images.min() >= 0 and sample.images.max() <= 1
    assert set(np.unique(sample.masks)) <= set(range(len(synthetic.CLASSES)))
    assert synthetic.SIZE[0] % 32 and synthetic.SIZE[1] % 32, "the default size is not a multiple of 32"


def test_every_class_appears_and_covers_a_minority_of_pixels(sample):
    counts = np.bincount(sample.masks.ravel(), minlength=len(synthetic.CLASSES))
    assert (counts > 0).all(), dict(zip(synthetic.CLASSES, counts, strict=True))
    assert counts[0] > counts[1:].max(), "the background is the largest class"


# The colour each class is painted in, written independently of the module's PALETTE: which
# channels are high (the dominant ones) and which low.
DOMINANT = {"circle": ("R",), "rectangle": ("G",), "triangle": ("B",), "line": ("R", "G")}


def test_pixels_of_each_class_have_its_colour_and_the_background_is_grey(sample):
    rgb = sample.images.transpose(0, 2, 3, 1)  # (N, H, W, 3)
    spread = rgb.max(axis=-1) - rgb.min(axis=-1)  # 0 for grey
    background = sample.masks == 0
    assert np.quantile(spread[background], 0.99) < 0.1, "background pixels are nearly grey"
    for k, name in enumerate(synthetic.CLASSES[1:], start=1):
        pixels = rgb[sample.masks == k]  # (P, 3)
        assert np.quantile(spread[sample.masks == k], 0.01) > 0.3, f"{name} pixels are saturated"
        high = [("R", "G", "B").index(c) for c in DOMINANT[name]]
        low = [i for i in range(3) if i not in high]
        # every high channel exceeds every low one by a margin, in nearly every pixel
        margin = pixels[:, high].min(axis=1) - pixels[:, low].max(axis=1)
        assert (margin > 0.2).mean() > 0.99, name


def test_lines_are_thin_and_some_objects_small(sample):
    """Each line's pixels lie within ~1 pixel of their row's centre: no wide strokes."""
    lines = sample.masks == synthetic.CLASSES.index("line")
    per_row = lines.sum(axis=2)  # (N, H): line pixels in each row
    assert np.median(per_row[per_row > 0]) <= 4  # a 1-2 pixel stroke crosses a row in a few pixels
    circles = [(m == 1).sum() for m in sample.masks]
    assert min(c for c in circles if c) < 100, "some circles are small"


def test_same_seed_same_data_and_different_seeds_differ():
    a = synthetic.dataset("train", 7, 3, size=(33, 35))
    b = synthetic.dataset("train", 7, 3, size=(33, 35))
    c = synthetic.dataset("train", 8, 3, size=(33, 35))
    np.testing.assert_array_equal(a.images, b.images)
    np.testing.assert_array_equal(a.masks, b.masks)
    assert not np.array_equal(a.masks, c.masks) and not np.allclose(a.images, c.images)


def test_the_held_out_set_is_fixed_and_no_training_seed_reproduces_it():
    valid = synthetic.validation_set(2, size=(33, 35))
    np.testing.assert_array_equal(valid.images, synthetic.validation_set(2, size=(33, 35)).images)
    for seed in range(3):
        train = synthetic.dataset("train", seed, 2, size=(33, 35))
        assert not np.allclose(train.images, valid.images)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"stream": "test"}, "unknown stream 'test'; valid choices: 'train', 'valid', 'pretrain'"),
    ({"seed": -1}, "seed must be a non-negative int, got -1"),
    ({"size": (31, 40)}, r"size must be \(height, width\), each an int >= 32, got \(31, 40\)"),
    ({"n": 0}, "n must be a positive int, got 0"),
])
def test_bad_arguments_are_named(kwargs, message):
    args = {"stream": "train", "seed": 0, "n": 1, "size": (33, 35), **kwargs}
    with pytest.raises(ValueError, match=message):
        synthetic.dataset(**args)


def test_the_pretraining_stream_has_other_pixel_statistics_but_the_same_classes_and_hues():
    """The pretraining style is a domain shift: brighter backgrounds, darker objects; shapes and hues kept."""
    target = synthetic.dataset("train", 0, 16, size=(45, 59))
    pre = synthetic.dataset("pretrain", 0, 16, size=(45, 59))
    bg_target, bg_pre = target.images.mean(axis=1)[target.masks == 0], pre.images.mean(axis=1)[pre.masks == 0]
    # the styles' level ranges, (0.25, 0.7) and (0.65, 0.9), barely overlap: so do the backgrounds
    assert bg_target.mean() < 0.55 < 0.7 < bg_pre.mean()
    assert synthetic.PRETRAIN != synthetic.TARGET and synthetic.STYLES["valid"] == synthetic.STYLES["train"]
    rgb = pre.images.transpose(0, 2, 3, 1)  # (N, H, W, 3)
    for k, name in enumerate(synthetic.CLASSES[1:], start=1):
        pixels = rgb[pre.masks == k]  # (P, 3)
        assert len(pixels), name
        high = [("R", "G", "B").index(c) for c in DOMINANT[name]]
        low = [i for i in range(3) if i not in high]
        objects = pixels[:, high].min(axis=1)
        # mean brightness factors 0.575 against 0.9: about 0.64 of the target's, with room for noise
        assert np.median(objects) < 0.8 * np.median(rgb[target.masks == k][:, high].min(axis=1)), f"{name}: darker"
        assert (objects > pixels[:, low].max(axis=1)).mean() > 0.95, f"{name} keeps its hue"


def test_the_target_streams_do_not_depend_on_the_pretraining_style():
    """Changing the pretraining style leaves the training and held-out images bit for bit as they were."""
    rng_a, rng_b = synthetic.rng_for("train", 5), synthetic.rng_for("train", 5)
    a = synthetic.dataset_from(rng_a, 2, (33, 35))
    b = synthetic.dataset_from(rng_b, 2, (33, 35), synthetic.STYLES["train"])
    np.testing.assert_array_equal(a.images, b.images)
    c = synthetic.dataset_from(synthetic.rng_for("train", 5), 2, (33, 35), synthetic.PRETRAIN)
    np.testing.assert_array_equal(a.masks, c.masks)  # the same draws decide the shapes...
    assert not np.allclose(a.images, c.images)  # ...and the style only the pixels
