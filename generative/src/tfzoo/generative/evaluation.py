"""One evaluation for every generator (spec §0.2): a domain classifier's Fréchet distance, class
faithfulness, code accuracy, and the image-quality measures of super-resolution.

There is no Inception network offline, so a small BN CNN trained by tfzoo on the same dataset
supplies the features: FD-DC is the Fréchet distance of its 128-D penultimate activations
between generated and real held-out images. Every FD-DC is reported with its floor (two real
splits) and ceilings (uniform noise, the mean image), so a number can be read without a paper.

    clf = domain_classifier("mnist-5k")            # trained once, cached under cache_dir("eval")
    report = fd_report(clf, generated_images)      # {"fd_dc", "floor", "noise", "mean_image", "classifier_accuracy"}
    class_faithfulness(clf, images, requested_labels)
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf
from scipy.optimize import linear_sum_assignment

from tfzoo.common import metrics
from tfzoo.common.cache import cache_dir
from tfzoo.common.data import resolve

FEATURES = 128


def load_images(spec: str, split: str) -> tuple[np.ndarray, np.ndarray]:
    """All images of a split as float32 [N, H, W, C] in [0, 1], with their int64 labels."""
    data = resolve(spec, split)
    images, labels = [], []
    for image, label in data.dataset.batch(1024):
        images.append(image.numpy())
        labels.append(label.numpy())
    return np.concatenate(images).astype(np.float32) / 255.0, np.concatenate(labels).astype(np.int64)


# ----- the domain classifier ----------------------------------------------------------------------------------
@dataclass
class DomainClassifier:
    """The feature network of FD-DC: `features(x)` is 128-D, `logits(x)` scores the classes."""

    model: keras.Model
    spec: str
    accuracy: float
    num_classes: int

    def __post_init__(self) -> None:
        self._features = keras.Model(self.model.input, self.model.get_layer("features").output)

    def features(self, images: np.ndarray, batch_size: int = 500) -> np.ndarray:
        return np.concatenate([np.asarray(self._features(images[i: i + batch_size], training=False))
                               for i in range(0, len(images), batch_size)])

    def predict(self, images: np.ndarray, batch_size: int = 500) -> np.ndarray:
        return np.concatenate([np.argmax(np.asarray(self.model(images[i: i + batch_size], training=False)), -1)
                               for i in range(0, len(images), batch_size)])


def build_classifier(input_shape: tuple[int, int, int], num_classes: int) -> keras.Model:
    """conv32-BN-ReLU-pool, conv64-BN-ReLU-pool, Dense128 (the features), Dense(classes)."""
    inputs = keras.Input(input_shape)
    x = inputs
    for filters in (32, 64):
        x = keras.layers.Conv2D(filters, 3, padding="same", use_bias=False)(x)
        x = keras.layers.BatchNormalization(momentum=0.9)(x)  # settles within an epoch of 63 batches
        x = keras.layers.ReLU()(x)
        x = keras.layers.MaxPool2D()(x)
    x = keras.layers.Flatten()(x)
    x = keras.layers.Dense(FEATURES, activation="relu", name="features")(x)
    return keras.Model(inputs, keras.layers.Dense(num_classes, name="logits")(x), name="domain_classifier")


def _slug(spec: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", spec).strip("_")


def domain_classifier(spec: str = "mnist-5k", *, seed: int = 0, epochs: int = 8, root: str | Path | None = None,
                      verbose: bool = False) -> DomainClassifier:
    """The classifier for `spec`, trained on its train split once and cached under `root`.

    `root` defaults to `tfzoo.common.cache.cache_dir("eval")` (~/.cache/tfzoo/eval), so every command
    finds the same classifier wherever it runs. The cache is keyed by spec, seed and epochs, so a short
    classifier for a test never stands in for the benchmark's.
    """
    folder = Path(root or cache_dir("eval")) / f"{_slug(spec)}-seed{seed}-epochs{epochs}"
    path, info_path = folder / "classifier.keras", folder / "info.json"
    if path.exists() and info_path.exists():
        info = json.loads(info_path.read_text())
        return DomainClassifier(keras.saving.load_model(path), spec, info["test_accuracy"], info["num_classes"])
    x, y = load_images(spec, "train")
    x_test, y_test = load_images(spec, "test")
    num_classes = int(max(y.max(), y_test.max()) + 1)
    keras.utils.set_random_seed(seed)
    model = build_classifier(x.shape[1:], num_classes)
    # An internal measuring instrument, not a task: plain Keras fit is enough and keeps it self-contained.
    model.compile(optimizer=keras.optimizers.Adam(1e-3),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    model.fit(x, y, batch_size=64, epochs=epochs, verbose=int(verbose), shuffle=True)
    accuracy = float(np.mean(np.argmax(model.predict(x_test, verbose=0), -1) == y_test))
    folder.mkdir(parents=True, exist_ok=True)
    model.save(path)
    info_path.write_text(json.dumps({"spec": spec, "seed": seed, "test_accuracy": accuracy,
                                     "num_classes": num_classes, "epochs": epochs}, indent=2) + "\n")
    return DomainClassifier(model, spec, accuracy, num_classes)


# ----- scores ------------------------------------------------------------------------------------------------
def fd_dc(classifier: DomainClassifier, generated: np.ndarray, real: np.ndarray) -> float:
    """Fréchet distance of the classifier's features between two image sets."""
    return metrics.frechet_distance(classifier.features(generated), classifier.features(real))


def fd_report(classifier: DomainClassifier, generated: np.ndarray, *, n: int = 1000, seed: int = 0) -> dict:
    """FD-DC of `generated` against the held-out real images, beside its floor and ceilings.

    floor: real train images against the same held-out images; ceilings: uniform noise and
    copies of the mean training image. Every set has the same size (min(n, held-out count)).
    """
    rng = np.random.default_rng(seed)
    real_test = np.concatenate([load_images(classifier.spec, s)[0] for s in ("val", "test")])
    real_train = load_images(classifier.spec, "train")[0]
    k = min(n, len(real_test), len(generated))
    test = real_test[rng.choice(len(real_test), k, replace=False)]
    train = real_train[rng.choice(len(real_train), k, replace=False)]
    noise = rng.uniform(size=test.shape).astype(np.float32)
    mean = np.repeat(real_train.mean(0, keepdims=True), k, axis=0)
    # The mean image alone has zero covariance; a pixel of noise keeps the Fréchet distance defined.
    mean = np.clip(mean + rng.normal(0, 1e-3, mean.shape), 0, 1).astype(np.float32)
    return {
        "fd_dc": fd_dc(classifier, np.asarray(generated[:k], np.float32), test),
        "floor": fd_dc(classifier, train, test),
        "noise": fd_dc(classifier, noise, test),
        "mean_image": fd_dc(classifier, mean, test),
        "classifier_accuracy": classifier.accuracy,
        "n": k,
    }


def class_faithfulness(classifier: DomainClassifier, images: np.ndarray, labels: np.ndarray) -> float:
    """Share of conditional samples the classifier assigns to the requested label."""
    return float(np.mean(classifier.predict(np.asarray(images, np.float32)) == np.asarray(labels)))


def code_accuracy(codes: np.ndarray, labels: np.ndarray) -> float:
    """Accuracy of unsupervised categorical codes under the best one-to-one code-to-class matching (Hungarian)."""
    codes, labels = np.asarray(codes, np.int64), np.asarray(labels, np.int64)
    size = int(max(codes.max(), labels.max()) + 1)
    counts = np.zeros((size, size), np.int64)
    np.add.at(counts, (codes, labels), 1)
    rows, cols = linear_sum_assignment(-counts)
    return float(counts[rows, cols].sum() / len(codes))


# ----- image quality (super-resolution) ------------------------------------------------------------------------
def quantised(images) -> np.ndarray:
    """[0, 1] floats or uint8 -> float64 on the 0..255 grid, as the saved PNG would be."""
    images = np.asarray(images)
    if images.dtype != np.uint8:
        images = np.clip(np.round(np.asarray(images, np.float64) * 255.0), 0, 255)
    return images.astype(np.float64)


def luma(images) -> np.ndarray:
    """BT.601 luma Y (0..255 scale) of RGB images `[..., H, W, 3]`; grey images are returned as they are."""
    return metrics.luma(quantised(images))


def psnr(reference, test, *, border: int = 0) -> float:
    """PSNR in dB on uint8-quantised images, `border` pixels cropped from each side (MSE 1 gives 48.13 dB)."""
    return metrics.psnr(quantised(reference), quantised(test), max_val=255.0, border=border)


def psnr_y(reference, test, *, border: int = 0) -> float:
    """PSNR on the BT.601 luma channel."""
    return psnr(np.clip(np.round(luma(reference)), 0, 255).astype(np.uint8),
                np.clip(np.round(luma(test)), 0, 255).astype(np.uint8), border=border)


def ssim(reference, test, *, border: int = 0) -> float:
    """SSIM on luma through `tf.image.ssim` (Gaussian window 11, σ 1.5)."""
    a = metrics.crop_border(luma(reference), border).astype(np.float32)
    b = metrics.crop_border(luma(test), border).astype(np.float32)
    return float(tf.reduce_mean(tf.image.ssim(a, b, max_val=255.0)))
