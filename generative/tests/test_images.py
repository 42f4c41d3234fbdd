"""Oracles of the shared image helpers: noise statistics, determinism, spec errors, image reading."""

import numpy as np
import pytest

from tfzoo.common.errors import ConfigError, DataError
from tfzoo.generative import images


def _grey(shape=(64, 64, 64, 1), value=0.5):
    return np.full(shape, value, np.float32)


def test_salt_and_pepper_fraction_is_close_to_p():
    x = _grey()
    noisy = images.add_noise(x, "salt_pepper:0.2", [1, 2]).numpy()
    assert np.mean(noisy == 0.0) == pytest.approx(0.1, abs=0.005)
    assert np.mean(noisy == 1.0) == pytest.approx(0.1, abs=0.005)
    assert np.mean(noisy == 0.5) == pytest.approx(0.8, abs=0.005)


def test_gaussian_statistics_and_clipping():
    x = _grey()
    raw = images.add_noise(x, "gaussian:0.1:noclip", [3, 4]).numpy() - 0.5
    assert raw.mean() == pytest.approx(0.0, abs=0.002)
    assert raw.std() == pytest.approx(0.1, rel=0.01)
    clipped = images.add_noise(x, "gaussian:1.0", [3, 4]).numpy()
    assert clipped.min() == 0.0 and clipped.max() == 1.0


def test_flip_and_mask():
    x = np.random.default_rng(0).uniform(size=(32, 28, 28, 1)).astype(np.float32)
    flipped = images.add_noise(x, "flip:0.15", [5, 6]).numpy()
    changed = ~np.isclose(flipped, x)
    assert changed.mean() == pytest.approx(0.15, abs=0.01)
    np.testing.assert_allclose(flipped[changed], 1.0 - x[changed], atol=1e-6)
    masked = images.add_noise(x, "mask:0.3", [5, 6]).numpy()
    assert np.mean(masked == 0.0) == pytest.approx(0.3, abs=0.01)


def test_noise_is_stateless_and_mixes_kinds():
    x = _grey((8, 8, 8, 1))
    a = images.add_noise(x, "gaussian:0.3,salt_pepper:0.2", [9, 9]).numpy()
    b = images.add_noise(x, "gaussian:0.3,salt_pepper:0.2", [9, 9]).numpy()
    np.testing.assert_array_equal(a, b)
    kinds = set()
    for i in range(20):
        out = images.add_noise(x, "gaussian:0.3,salt_pepper:0.2", [i, 0]).numpy()
        kinds.add("sp" if np.all(np.isin(out, [0.0, 0.5, 1.0])) else "gauss")
    assert kinds == {"sp", "gauss"}
    np.testing.assert_array_equal(images.add_noise(x, "", [0, 0]).numpy(), x)


@pytest.mark.parametrize("spec", ["gauss:0.3", "salt_pepper", "flip:1.5", "mask:x", "flip:0.1:noclip"])
def test_bad_noise_spec_is_a_config_error(spec):
    with pytest.raises(ConfigError, match="noise"):
        images.parse_noise(spec)


def test_content_seed_depends_on_the_image_only():
    a = np.arange(784, dtype=np.uint8).reshape(28, 28, 1)
    s1, s2 = images.content_seed(a).numpy(), images.content_seed(a.copy()).numpy()
    np.testing.assert_array_equal(s1, s2)
    assert not np.array_equal(s1, images.content_seed(a[::-1]).numpy())
    np.testing.assert_array_equal(images.content_seed(a / 255.0).numpy(), s1)


def test_read_and_fit(tmp_path):
    rgb = np.random.default_rng(0).integers(0, 256, (10, 12, 3), dtype=np.uint8)
    np.save(tmp_path / "x.npy", rgb / 255.0)
    back = images.read_image(tmp_path / "x.npy")
    assert back.dtype == np.uint8 and back.shape == (10, 12, 3)
    fitted = images.fit_image(back, (28, 28, 1)).numpy()
    assert fitted.shape == (28, 28, 1) and 0.0 <= fitted.min() and fitted.max() <= 1.0
    (tmp_path / "bad.png").write_bytes(b"not an image")
    with pytest.raises(DataError, match="bad.png"):
        images.read_image(tmp_path / "bad.png")
    with pytest.raises(DataError, match="not found"):
        images.read_image(tmp_path / "missing.png")
