"""vision.classify: the book's image classifiers (实例21-66) on any image dataset."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from tfzoo.common.data.images import read_image_file
from tfzoo.common.run import Run
from tfzoo.common.task import Task
from tfzoo.vision.classify import data as pipeline
from tfzoo.vision.classify.config import ClassifyConfig
from tfzoo.vision.classify.model import build_model


class Classify(Task):
    name = "vision.classify"
    config_class = ClassifyConfig
    monitor = "loss"

    def data(self, config: ClassifyConfig, split: str):
        return pipeline.load_split(config, split)

    def data_info(self, config: ClassifyConfig, train) -> dict[str, Any]:
        source = pipeline.source_shape(config, train)
        return {
            "class_names": list(train.class_names),
            "source_shape": list(source),
            "input_shape": list(pipeline.input_shape(config, source)),
        }

    def train_map(self, config: ClassifyConfig, info: dict[str, Any], example, seed):
        image, label = example
        return pipeline.augment(image, config, info, tf.cast(seed, tf.int32)), label

    def eval_map(self, config: ClassifyConfig, info: dict[str, Any], example):
        image, label = example
        return pipeline.prepare(image[None], info, standardize=config.standardize)[0], label

    def build_models(self, config: ClassifyConfig, info: dict[str, Any]) -> dict[str, keras.Model]:
        model = build_model(config, input_shape=tuple(info["input_shape"]), num_classes=len(info["class_names"]))
        return {"model": model}

    # ----- command-line hooks -------------------------------------------------------
    def example_inputs(self, directory) -> list[str]:
        """A 97x53 RGB PNG, a 28x28 grey one and a .npy array: predict takes any size and channel count."""
        from PIL import Image

        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        rng = np.random.default_rng(0)
        paths = [directory / "rgb.png", directory / "grey.png", directory / "digit.npy"]
        Image.fromarray(rng.integers(0, 256, (53, 97, 3), dtype=np.uint8)).save(paths[0])
        Image.fromarray(rng.integers(0, 256, (28, 28), dtype=np.uint8)).save(paths[1])
        np.save(paths[2], np.zeros((28, 28), np.uint8))
        return [str(p) for p in paths]

    def predict(self, run: Run, inputs: list[str]) -> list[dict[str, Any]]:
        config, info = run.config, run.info
        names = info["class_names"]
        k = max(1, min(config.top_k, len(names)))
        model = run.models["model"]
        results = []
        for path in inputs:
            image = read_image_file(path)
            x = pipeline.prepare(image[None], info, standardize=config.standardize)
            probs = tf.nn.softmax(model(x, training=False))[0].numpy()
            top = np.argsort(-probs)[:k]
            results.append({
                "input": path,
                "top_k": [{"label": names[i], "probability": round(float(probs[i]), 6)} for i in top],
            })
        return results

    def after_evaluate(self, run: Run, split: str, results: dict[str, Any]) -> dict[str, Any]:
        """Confusion matrix, per-class recall and the misclassified images."""
        from tfzoo.common import plots

        labels, predictions, images = [], [], []
        for x, y in run.eval_batches(run.task.data(run.config, split)):
            logits = run.models["model"](x, training=False)
            labels.append(y.numpy())
            predictions.append(np.argmax(logits, -1))
            images.append(x.numpy())
        labels, predictions = np.concatenate(labels), np.concatenate(predictions)
        names = run.info["class_names"]
        cm = np.zeros((len(names), len(names)), np.int64)
        np.add.at(cm, (labels, predictions), 1)
        run.plots.mkdir(parents=True, exist_ok=True)
        plots.confusion(cm, names, run.plots / "confusion.png")
        wrong = np.flatnonzero(labels != predictions)[:36]
        if len(wrong):
            all_images = np.concatenate(images)
            shown = _displayable(all_images[wrong])
            titles = [f"{names[labels[i]]}->{names[predictions[i]]}" for i in wrong]
            plots.image_grid(shown, run.plots / "errors.png", titles=titles)
        recall = cm.diagonal() / np.maximum(cm.sum(1), 1)
        results["per_class_recall"] = {n: round(float(r), 4) for n, r in zip(names, recall)}
        results["confusion_png"] = str(run.plots / "confusion.png")
        return results

    def visualise(self, run: Run, config: ClassifyConfig) -> list[str]:
        """DeconvNet projections of the first validation images (实例45-50)."""
        from tfzoo.vision.classify.deconv import deconv_figure

        val = self.data(config, "val")
        # Images spread over the split, which readers may store grouped by class.
        picks = [val.dataset.skip(i * val.size // 4).take(1) for i in range(4)]
        spread = picks[0].concatenate(picks[1]).concatenate(picks[2]).concatenate(picks[3])
        batch = next(iter(spread.map(lambda *ex: self.eval_map(config, run.info, ex)).batch(4)))
        path = run.plots / "deconv.png"
        run.plots.mkdir(parents=True, exist_ok=True)
        deconv_figure(run.models["model"], batch[0].numpy(), path)
        return [str(path)]

    def serving_function(self, config: ClassifyConfig, models: dict[str, keras.Model], info: dict[str, Any]):
        """uint8 images [N, h, w, c] of any size in; class probabilities and top class out."""
        model = models["model"]
        standardize = config.standardize
        names = tf.constant(info["class_names"])

        @tf.function(input_signature=[tf.TensorSpec([None, None, None, None], tf.uint8, name="images")])
        def serve(images):
            x = pipeline.prepare(images, info, standardize=standardize)
            probabilities = tf.nn.softmax(model(x, training=False))
            index = tf.argmax(probabilities, -1)
            return {"probabilities": probabilities, "class_id": index, "class_name": tf.gather(names, index)}

        return serve


def _displayable(images: np.ndarray) -> np.ndarray:
    """Min-max each image to [0, 1] so standardised inputs still show."""
    low = images.min(axis=(1, 2, 3), keepdims=True)
    high = images.max(axis=(1, 2, 3), keepdims=True)
    return (images - low) / np.maximum(high - low, 1e-8)
