"""Fault cases of generative (one case per test, counted by common's Reliability block): a photo far larger
than anything trained on goes through predict and evaluate in bounded memory, and the bounded paths
(tiles, bands, strips) give what the whole-image computation gives.

The issue: `tfzoo predict` of generative.superres on a 6000x6000 photo grew past 23 GB and was killed (the
comparison panel held several full-size float copies). Measured on the 2-core test machine with
MALLOC_ARENA_MAX=2 (VmPeak is address space, what RLIMIT_AS limits; HWM is resident memory):

    tiny espcn x2, predict of a 24x32 PNG                       VmPeak 1.9 GB   HWM 0.8 GB
    the code before, predict of a 3000x3000 PNG                 HWM 12.8 GB (so VmPeak > 12.8 GB)
    banded, predict of a 3000x3000 PNG (6000x6000 output)       VmPeak 2.8 GB   HWM 1.4 GB
    banded, predict of the 2400x2400 PNG below                  VmPeak 2.5 GB
    the code before, the 2400x2400 PNG under the 4 GiB limit     MemoryError (a full-size float copy)

so a 4 GiB address-space limit passes the bounded code with room and stops the old one.
"""

import json
import os
import resource
import subprocess
import sys
import textwrap
from dataclasses import replace

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from tfzoo.common.train import Trainer
from tfzoo.generative import images
from tfzoo.generative.superres import bands
from tfzoo.generative.superres.config import SuperResConfig
from tfzoo.generative.superres.model import build_generator
from tfzoo.generative.superres.perceptual import build_rotation_net, feature_extractor
from tfzoo.generative.superres.task import SuperRes
from tfzoo.generative.superres.tiles import reach, upscale_rows

MEMORY_LIMIT = 4 * 2**30  # bytes of address space for the whole predict/evaluate process
SIDE = 2400  # the large photo: predict makes a 4800x4800 output from it


def _photo(height: int, width: int, seed: int = 0) -> np.ndarray:
    """A smooth colour gradient with noise: like a photo, it has structure at every scale."""
    y, x = np.mgrid[0:height, 0:width]
    base = np.stack([x * 255 // max(width - 1, 1), y * 255 // max(height - 1, 1),
                     (x + y) * 255 // max(height + width - 2, 1)], axis=-1)
    noise = np.random.default_rng(seed).integers(-24, 25, base.shape)
    return np.clip(base + noise, 0, 255).astype(np.uint8)


@pytest.mark.parametrize(("variant", "scale"), [("espcn", 3), ("espcn-residual", 4)])
def test_tiled_generator_equals_one_pass(variant, scale):
    config = replace(SuperResConfig.tiny(), variant=variant, scale=scale, res_blocks=2)
    model = build_generator(config, 3)
    radius = reach(model)[0]
    lr = np.random.default_rng(1).uniform(size=(37, 45, 3)).astype(np.float32)
    whole = np.asarray(model(lr[None], training=False)[0])
    # The radius bounds the receptive field: a changed LR pixel moves no HR pixel further than that.
    poked = lr.copy()
    poked[18, 22] = 1.0 - poked[18, 22]
    rows, cols = np.nonzero(np.abs(np.asarray(model(poked[None], training=False)[0]) - whole).max(-1) > 0)
    assert rows.size and max(np.abs(rows // scale - 18).max(), np.abs(cols // scale - 22).max()) <= radius
    for window in (2 * radius + 8, 2 * radius + 13):  # windows far smaller than the image, two tilings
        tiled = upscale_rows(model, lr, scale=scale, top=0, bottom=len(lr), window=window)
        np.testing.assert_allclose(tiled, whole, atol=1e-5)
    rows = upscale_rows(model, lr, scale=scale, top=10, bottom=20, window=2 * radius + 8)
    np.testing.assert_allclose(rows, whole[10 * scale:20 * scale], atol=1e-5)


def test_banded_outputs_and_scores_equal_the_whole_image(tmp_path):
    config = SuperResConfig.tiny()
    model = build_generator(config, 3)
    features = feature_extractor(build_rotation_net(config, 3))
    photo = _photo(66, 90)
    small = {"band_pixels": 90 * 14, "panel_side": 10_000, "window": 2 * reach(model)[0] + 10}
    kw = {"scale": 2, "channels": 3}
    for mode in ("reference", "upsample"):
        whole = bands.process(model, photo, mode=mode, out_png=tmp_path / f"{mode}_whole.png",
                              panel_png=tmp_path / f"{mode}_whole_panel.png", **kw)
        banded = bands.process(model, photo, mode=mode, out_png=tmp_path / f"{mode}_banded.png",
                               panel_png=tmp_path / f"{mode}_banded_panel.png", **kw, **small)
        assert banded["hr_shape"] == whole["hr_shape"] and banded["lr_shape"] == whole["lr_shape"]
        a = np.asarray(Image.open(tmp_path / f"{mode}_whole.png"), np.int16)
        b = np.asarray(Image.open(tmp_path / f"{mode}_banded.png"), np.int16)
        assert a.shape == b.shape == tuple(whole["hr_shape"]) and np.abs(a - b).max() <= 1  # 8-bit rounding
        assert (tmp_path / f"{mode}_banded_panel.png").is_file()
    for style in ("standard", "book"):  # scores in both styles; feature distances (srgan) in one
        extra = {"features": features} if style == "standard" else {}
        whole = bands.process(model, photo, mode="reference", style=style, **kw, **extra)
        banded = bands.process(model, photo, mode="reference", style=style, **kw, **extra, **small)
        if extra:
            for method, value in whole["feature_distance"].items():
                assert banded["feature_distance"][method] == pytest.approx(value, rel=1e-4)
        for method, values in whole["scores"].items():
            for key, value in values.items():
                assert banded["scores"][method][key] == pytest.approx(value, rel=1e-5, abs=1e-6), (style, method, key)


def test_predict_of_a_large_photo_stays_within_a_memory_limit(tmp_path):
    """The issue's case, scaled to the test: a photo whose old predict needed several times the limit.
    (Reference mode and evaluate share the banded path, checked against the whole image above.)"""
    run = tmp_path / "run"
    config = SuperResConfig.tiny()
    Trainer(task=SuperRes(), config=replace(config, train=replace(config.train, steps=0)), run_dir=run,
            verbose=False).fit()  # step 0: the initial weights, enough to exercise every path
    photo = tmp_path / "photo.png"
    Image.fromarray(_photo(SIDE, SIDE)).save(photo, compress_level=1)
    script = textwrap.dedent(f"""
        import json
        from tfzoo.common.testing import run_cli
        code, out, err = run_cli("predict", {str(run)!r}, {str(photo)!r})
        peak = [line.split()[1] for line in open("/proc/self/status") if line.startswith("VmPeak")]
        print(json.dumps({{"code": code, "out": out.strip().splitlines()[-1:], "err": err[-2000:], "vmpeak_kb": peak}}))
    """)

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))

    # Few malloc arenas: their address-space reservations grow with the number of cores, not with the image.
    env = {**os.environ, "MALLOC_ARENA_MAX": "2", "TF_CPP_MIN_LOG_LEVEL": "3"}
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=900,
                          preexec_fn=limit, env=env)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    predicted = json.loads(proc.stdout.strip().splitlines()[-1])
    assert predicted["code"] == 0, predicted
    result = json.loads(predicted["out"][0])
    assert result["hr_shape"] == [2 * SIDE, 2 * SIDE, 3]
    with Image.open(result["output"]) as output:
        assert output.size == (2 * SIDE, 2 * SIDE)
    with Image.open(result["panel"]) as panel:  # a figure of fixed size, drawn from bounded thumbnails
        assert max(panel.size) < 4000


def test_predict_reads_a_large_photo_in_strips_for_the_small_models():
    photo = _photo(2100, 2200, seed=3)
    reduced = images.shrink_large(photo, (28, 28, 3))
    assert reduced.dtype == np.float32 and reduced.shape == (1050, 1100, 3)
    np.testing.assert_allclose(reduced[5, 7], photo[10:12, 14:16].reshape(-1, 3).mean(0) / 255.0, rtol=1e-6)
    direct = images.fit_image(photo, (28, 28, 3)).numpy()
    np.testing.assert_allclose(images.fit_image(reduced, (28, 28, 3)).numpy(), direct, atol=0.02)
    small = _photo(300, 400)
    assert images.shrink_large(small, (28, 28, 3)) is small  # everyday inputs take the unchanged path
    assert tf.reduce_max(images.fit_image(reduced, (28, 28, 1))) <= 1.0
