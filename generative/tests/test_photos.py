"""The `photos` spec: fixed, disjoint splits of the natural photos that pip installs."""

import numpy as np
import pytest

from tfzoo.common.data import resolve
from tfzoo.common.errors import DataError
from tfzoo.generative import photos


def test_splits_are_fixed_and_disjoint():
    train, val, test = (set(photos.names(s)) for s in ("train", "val", "test"))
    assert val == {"coffee"} and test == {"chelsea", "grace_hopper"}
    assert not (train & val or train & test or val & test)
    assert {"astronaut", "rocket", "hubble_deep_field", "retina", "immunohistochemistry"} <= train


def test_resolve_through_the_entry_point():
    test = resolve("photos", "test")
    assert test.size == 2 and test.class_names == ("photo",) and test.image_shape is None
    shapes = []
    for image, label in test.dataset:
        assert image.dtype == "uint8" and int(label) == 0
        shapes.append(tuple(image.shape))
    assert shapes == [(300, 451, 3), (600, 512, 3)]
    grey = resolve("photos", "val", channels=1)
    assert grey.image_shape == (400, 600, 1)


def test_load_matches_the_sources():
    import skimage.data

    np.testing.assert_array_equal(photos.load("test")[0], skimage.data.chelsea())


def test_bad_arguments_are_one_line_errors():
    with pytest.raises(DataError, match="takes no argument"):
        resolve("photos:x", "train")
    with pytest.raises(DataError, match="unknown split"):
        photos.names("dev")
