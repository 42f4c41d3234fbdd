"""Every plot writes a PNG of the fixed size; bad input is a ValueError."""

import json

import numpy as np
import pytest
from PIL import Image

from tfzoo.common import plots
from tfzoo.common.errors import DataError

SIZE = (int(plots.FIGSIZE[0] * plots.DPI), int(plots.FIGSIZE[1] * plots.DPI))


def _check_png(path):
    with Image.open(path) as img:
        assert img.format == "PNG"
        assert img.size == SIZE


def test_curves(tmp_path):
    log = tmp_path / "metrics.jsonl"
    lines = [{"step": s, "split": "train", "loss": 1 / (s + 1), "acc": s / 40} for s in range(40)]
    lines += [{"step": s, "split": "val", "loss": 1.2 / (s + 1), "time": "x"} for s in range(0, 40, 10)]
    log.write_text("\n".join(json.dumps(x) for x in lines) + "\n\n")
    out = plots.curves(log, tmp_path / "plots" / "curves.png")
    assert out == tmp_path / "plots" / "curves.png"
    _check_png(out)
    log.write_text('{"step": 1, "loss": 1.0}\nnot json\n')
    with pytest.raises(DataError, match=r"metrics.jsonl:2"):
        plots.curves(log, tmp_path / "bad.png")


def test_moving_average():
    np.testing.assert_allclose(plots.moving_average([1, 2, 3, 4], window=2), [1, 1.5, 2.5, 3.5])


def test_image_grid_and_grid_array(tmp_path):
    imgs = np.random.default_rng(0).random((36, 28, 28))
    grid = plots.grid_array(imgs, rows=6, cols=6, border=5)
    # 实例90: 6x6 images of 28 px with 5-px borders.
    assert grid.shape == (28 * 6 + 5 * 6 + 5, 28 * 6 + 5 * 6 + 5)
    np.testing.assert_allclose(grid[5:33, 5:33], imgs[0].astype(np.float32))
    assert (grid[:5] == 1).all()
    _check_png(plots.image_grid(imgs, tmp_path / "grid.png", rows=6, cols=6))
    rgb = np.random.default_rng(1).integers(0, 255, (5, 8, 8, 3), dtype=np.uint8)
    _check_png(plots.image_grid(rgb, tmp_path / "titled.png", titles=list("abcde")))
    with pytest.raises(ValueError, match="4 titles for 5 images"):
        plots.image_grid(rgb, tmp_path / "x.png", titles=list("abcd"))
    with pytest.raises(ValueError, match="2x2 grid cannot hold 5"):
        plots.image_grid(rgb, tmp_path / "x.png", rows=2, cols=2)


def test_panel(tmp_path):
    imgs = np.linspace(-1, 1, 3 * 16 * 16).reshape(3, 16, 16, 1)
    _check_png(plots.panel(imgs, ["input", "output 0.91", "target"], tmp_path / "panel.png"))
    with pytest.raises(ValueError, match="2 titles for 3 images"):
        plots.panel(imgs, ["a", "b"], tmp_path / "x.png")


def test_confusion(tmp_path):
    cm = np.array([[5, 1, 0], [2, 7, 1], [0, 0, 9]])
    _check_png(plots.confusion(cm, ["cat", "dog", "bird"], tmp_path / "cm.png"))
    with pytest.raises(ValueError, match="2 names for 3 classes"):
        plots.confusion(cm, ["cat", "dog"], tmp_path / "x.png")


def test_scatter2d(tmp_path):
    rng = np.random.default_rng(0)
    _check_png(plots.scatter2d(rng.normal(size=(100, 2)), rng.integers(0, 4, 100), tmp_path / "codes.png"))
    with pytest.raises(ValueError, match=r"\(N, 2\)"):
        plots.scatter2d(rng.normal(size=(10, 3)), np.zeros(10), tmp_path / "x.png")
    with pytest.raises(ValueError, match="9 labels for 10 points"):
        plots.scatter2d(rng.normal(size=(10, 2)), np.zeros(9), tmp_path / "x.png")
