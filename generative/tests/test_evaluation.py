"""Oracles of the shared evaluation: PSNR, SSIM, code accuracy, and the cached domain classifier's FD-DC."""

import numpy as np
import pytest

from tfzoo.generative import evaluation


def test_psnr_of_a_known_mse():
    a = np.full((1, 8, 8, 3), 100, np.uint8)
    b = a + 1  # MSE 1 on the 255 scale
    assert evaluation.psnr(a, b) == pytest.approx(48.1308, abs=1e-3)
    assert evaluation.psnr(a, a) == float("inf")
    c = b.copy()
    c[:, 0] = 0  # damage only the border row: cropping it restores the 1-level error
    assert evaluation.psnr(a, c, border=1) == pytest.approx(48.1308, abs=1e-3)


def test_luma_and_ssim():
    rng = np.random.default_rng(0)
    image = rng.uniform(size=(1, 32, 32, 3)).astype(np.float32)
    assert evaluation.ssim(image, image) == pytest.approx(1.0, abs=1e-6)
    assert evaluation.ssim(image, np.clip(image + rng.normal(0, 0.2, image.shape), 0, 1)) < 0.9
    white = np.ones((1, 2, 2, 3), np.float32)
    np.testing.assert_allclose(evaluation.luma(white), 255.0)


def test_code_accuracy_is_one_under_a_permutation():
    labels = np.repeat(np.arange(10), 5)
    codes = (labels * 3 + 1) % 10  # a bijection of the classes
    assert evaluation.code_accuracy(codes, labels) == 1.0
    assert evaluation.code_accuracy(np.zeros_like(labels), labels) == pytest.approx(0.1)


def test_domain_classifier_is_cached_and_scores(tmp_path):
    clf = evaluation.domain_classifier("digits-8x8", epochs=3, root=tmp_path)
    assert clf.accuracy > 0.5 and clf.num_classes == 10
    again = evaluation.domain_classifier("digits-8x8", epochs=3, root=tmp_path)  # loaded, not retrained
    test, labels = evaluation.load_images("digits-8x8", "test")
    np.testing.assert_allclose(clf.features(test[:8]), again.features(test[:8]), atol=1e-5)
    assert evaluation.class_faithfulness(clf, test, labels) == pytest.approx(clf.accuracy)
    assert evaluation.fd_dc(clf, test, test) == pytest.approx(0.0, abs=1e-3)
    report = evaluation.fd_report(clf, test, n=150)
    assert report["floor"] < report["noise"] and report["fd_dc"] < report["noise"]


def test_psnr_gives_the_numbers_of_the_copies_it_replaced():
    # The PSNRs generative had before tfzoo.common.metrics, written out: the same floats (the book's
    # 20·log10(255/√MSE) agrees with 10·log10(255²/MSE) to rounding).
    import tensorflow as tf

    from tfzoo.common.metrics import psnr_per_image
    from tfzoo.generative.superres.quality import book_psnr_y

    rng = np.random.default_rng(5)
    a = rng.uniform(size=(12, 10, 3)).astype(np.float32)
    b = np.clip(a + rng.normal(0, 0.03, a.shape), 0, 1).astype(np.float32)
    q = evaluation.quantised
    for border in (0, 2):
        crop = lambda x, b=border: x[b:-b, b:-b] if b else x  # noqa: E731
        mse = np.mean((crop(q(a)) - crop(q(b))) ** 2)
        assert evaluation.psnr(a, b, border=border) == float(10.0 * np.log10(255.0**2 / mse))
        ya, yb = (np.clip(np.round((q(x) @ np.array([0.299, 0.587, 0.114]))[..., None]), 0, 255) for x in (a, b))
        mse_y = np.mean((crop(ya) - crop(yb)) ** 2)
        assert evaluation.psnr_y(a, b, border=border) == float(10.0 * np.log10(255.0**2 / mse_y))
        book_y = [crop(q(x)) @ np.array([0.3, 0.59, 0.11]) for x in (a, b)]
        book_mse = float(np.mean((book_y[0] - book_y[1]) ** 2))
        assert book_psnr_y(a, b, border=border) == pytest.approx(20 * np.log10(255.0 / np.sqrt(book_mse)), rel=1e-12)
    # superres' and autoencoder's in-graph per-image PSNR on [0, 1] images, with their 1e-10 MSE floor
    x, y = tf.constant(np.stack([a, b, a])), tf.constant(np.stack([b, a, a]))
    mse = tf.reduce_mean(tf.square(y - x), axis=[1, 2, 3])
    old = 10.0 * tf.math.log(1.0 / tf.maximum(mse, 1e-10)) / tf.math.log(10.0)
    np.testing.assert_array_equal(psnr_per_image(x, y, max_val=1.0), old)
    np.testing.assert_array_equal(psnr_per_image(x, y, max_val=1.0), tf.minimum(old, 100.0))  # autoencoder's cap
