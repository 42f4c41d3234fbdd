"""Streaming metrics that stay correct under distribution, the Fréchet distance and PSNR.

Metric variables are sum-aggregated, so per-replica updates add up to the
global result whatever the number of replicas.
"""

from __future__ import annotations

import keras
import numpy as np
import scipy.linalg
import tensorflow as tf

__all__ = ["BT601", "ConfusionMatrix", "crop_border", "frechet_distance", "luma", "psnr", "psnr_per_image"]

BT601 = (0.299, 0.587, 0.114)  # ITU-R BT.601 luma weights of R, G, B, as super-resolution papers


@keras.saving.register_keras_serializable(package="tfzoo")
class ConfusionMatrix(keras.metrics.Metric):
    """Streaming confusion matrix: rows are true classes, columns predictions.

    ``update_state(y_true, y_pred)`` takes integer labels and either integer
    predictions of the same shape or per-class scores (logits or
    probabilities, last axis ``num_classes``), which are arg-maxed.
    ``result()`` is the ``(num_classes, num_classes)`` float32 count matrix
    (weighted when ``sample_weight`` is given).

    Args:
        num_classes: number of classes.
    """

    def __init__(self, *, num_classes: int, name: str = "confusion_matrix", **kwargs):
        super().__init__(name=name, **kwargs)
        if num_classes < 2:
            raise ValueError(f"num_classes must be >= 2, got {num_classes}")
        self.num_classes = int(num_classes)
        self.matrix = self.add_variable(
            shape=(self.num_classes, self.num_classes),
            initializer="zeros",
            dtype="float32",
            aggregation="sum",
            name="matrix",
        )

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_true = tf.convert_to_tensor(y_true)
        y_pred = tf.convert_to_tensor(y_pred)
        if (
            y_true.shape.rank
            and y_true.shape[-1] == 1
            and y_pred.shape.rank == y_true.shape.rank
            and y_pred.shape[-1] != 1
        ):
            # Keras-style (batch, 1) labels against (batch, classes) scores.
            y_true = tf.squeeze(y_true, -1)
        if y_pred.dtype.is_floating and y_pred.shape.rank == y_true.shape.rank + 1:
            y_pred = tf.argmax(y_pred, axis=-1)
        labels = tf.reshape(tf.cast(y_true, tf.int64), [-1])
        preds = tf.reshape(tf.cast(y_pred, tf.int64), [-1])
        weights = None
        if sample_weight is not None:
            weights = tf.cast(sample_weight, tf.float32)
            if weights.shape.rank == y_true.shape.rank + 1:
                weights = tf.squeeze(weights, -1)
            weights = tf.broadcast_to(weights, tf.shape(y_true))
            weights = tf.reshape(weights, [-1])
        self.matrix.assign_add(
            tf.math.confusion_matrix(
                labels, preds, num_classes=self.num_classes, weights=weights, dtype=tf.float32
            )
        )

    def result(self):
        return tf.convert_to_tensor(self.matrix)

    def get_config(self):
        return {**super().get_config(), "num_classes": self.num_classes}


def frechet_distance(feats_a, feats_b, *, eps: float = 1e-6, imag_tol: float = 1e-3) -> float:
    """Fréchet distance between Gaussians fitted to two feature sets (FID).

    ``|mu_a - mu_b|^2 + tr(S_a + S_b - 2 (S_a S_b)^(1/2))`` with ``S`` the sample
    covariances of ``(N, D)`` arrays. ``sqrtm`` of a near-singular product can
    come back non-finite or with a small imaginary part from rounding: the
    first is retried with ``eps`` added to the diagonals; an imaginary part
    larger than ``imag_tol`` is an error, a smaller one is dropped.
    """
    a = np.asarray(feats_a, np.float64)
    b = np.asarray(feats_b, np.float64)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1]:
        raise ValueError(f"need two (N, D) arrays with the same D, got {a.shape} and {b.shape}")
    if len(a) < 2 or len(b) < 2:
        raise ValueError("each feature set needs at least 2 rows for a covariance")
    mu_a, mu_b = a.mean(0), b.mean(0)
    cov_a = np.atleast_2d(np.cov(a, rowvar=False))
    cov_b = np.atleast_2d(np.cov(b, rowvar=False))
    covmean = scipy.linalg.sqrtm(cov_a @ cov_b)
    if not np.isfinite(covmean).all():
        offset = np.eye(len(cov_a)) * eps
        covmean = scipy.linalg.sqrtm((cov_a + offset) @ (cov_b + offset))
    if np.iscomplexobj(covmean):
        if np.abs(covmean.imag).max() > imag_tol:
            raise ValueError(
                f"sqrtm has an imaginary component of {np.abs(covmean.imag).max():.3g}"
            )
        covmean = covmean.real
    diff = mu_a - mu_b
    return float(diff @ diff + np.trace(cov_a) + np.trace(cov_b) - 2.0 * np.trace(covmean))


# ----- PSNR ---------------------------------------------------------------------------------------------------
def crop_border(images, border: int):
    """``images`` ``[..., H, W, C]`` without ``border`` pixels on each side of H and W (SR scores skip the rim)."""
    return images[..., border:-border, border:-border, :] if border else images


def luma(images, *, weights=BT601) -> np.ndarray:
    """Y = weights · (R, G, B) of RGB images ``[..., H, W, 3]``, keeping a channel axis of 1.

    Grey images (one channel) are returned as they are; the values keep their scale.
    """
    images = np.asarray(images)
    return images if images.shape[-1] == 1 else (images @ np.asarray(weights))[..., None]


def psnr(reference, test, *, max_val: float, border: int = 0) -> float:
    """PSNR in dB of two whole arrays ``[..., H, W, C]`` in float64: ``10·log10(max_val² / MSE)``.

    ``border`` pixels are cropped from each side first; identical arrays give ``inf``.
    """
    a = crop_border(np.asarray(reference, np.float64), border)
    b = crop_border(np.asarray(test, np.float64), border)
    mse = float(np.mean((a - b) ** 2))
    return float("inf") if mse == 0 else float(10.0 * np.log10(max_val**2 / mse))


def psnr_per_image(reference, test, *, max_val: float, border: int = 0, min_mse: float = 1e-10) -> tf.Tensor:
    """In-graph PSNR in dB of each image of two batches ``[N, H, W, C]``: a ``[N]`` tensor.

    As ``tf.image.psnr`` but the MSE is floored at ``min_mse``, so identical images give a finite
    ``10·log10(max_val² / min_mse)`` (100 dB at ``max_val=1``) and a batch mean stays finite. The MSE
    is over every axis but the first, so flat ``[N, D]`` batches work too when ``border`` is 0.
    """
    a, b = crop_border(reference, border), crop_border(test, border)
    diff = tf.convert_to_tensor(a - b)
    mse = tf.reduce_mean(tf.square(diff), axis=list(range(1, len(diff.shape))))
    return 10.0 * tf.math.log(max_val**2 / tf.maximum(mse, min_mse)) / tf.math.log(tf.constant(10.0, mse.dtype))
