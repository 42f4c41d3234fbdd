"""vision.transfer's inference extras (spec §3.3): ImageNet top-k (实例85) and dense class maps (实例86).

实例85: `include_top=True` keeps the application's own 1,000-class classifier; `labels=file:PATH`
names the classes. Such a run has no training data and ImageNet's 1,000 classes, so `make_top_run` (also
`python -m tfzoo.vision.transfer.extras RUN_DIR --set weights=file:...`) writes a run holding the
loaded weights as its step-0 checkpoint, which `tfzoo predict` then opens like any other run.

实例86: with `dense=True`, predict runs the backbone fully convolutionally on the image at its own
size and applies the Dense head as a 1x1 convolution before global pooling, giving a
class-probability map; GAP then Dense equals Dense then averaging, as both are linear.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from tfzoo.common.data.images import read_image_file
from tfzoo.common.errors import ConfigError, DataError, UserError

from .model import IMAGENET_CLASSES, Preprocess, application, backbone_spec, inner_backbone, parse_weights

# The size each keras.applications classifier was trained at, used when image_size=0 with include_top.
TOP_SIZES = {"inception_v3": 299, "inception_resnet_v2": 299}
DEFAULT_TOP_SIZE = 224


# ----- labels ------------------------------------------------------------------------------------------
def read_labels(spec: str, count: int) -> list[str]:
    """Class names from `labels=file:PATH`: one name a line, or the Keras class-index JSON.

    The JSON is Keras's imagenet_class_index.json, {"0": ["n01440764", "tench"], ...}: index -> name,
    no background offset (the book's `names[c+1]`, S0 L20908, does not apply to Keras's 1,000).
    """
    path = Path(spec.removeprefix("file:").strip()).expanduser()
    where = f"labels={spec}"
    if not path.is_file():
        raise ConfigError(f"{where}: no such file; expected one class name a line or a Keras class-index JSON")
    text = path.read_text(encoding="utf-8")
    if path.suffix.lower() == ".json" or text.lstrip().startswith("{"):
        names = _json_names(text, where)
    else:
        names = [line.strip() for line in text.splitlines() if line.strip()]
    if len(names) != count:
        raise ConfigError(f"{where}: {len(names)} class names, but the model has {count} classes")
    return names


def _json_names(text: str, where: str) -> list[str]:
    try:
        index = json.loads(text)
    except json.JSONDecodeError as err:
        raise ConfigError(f"{where}: bad JSON ({err.msg} at line {err.lineno}); expected Keras's class index "
                          f'{{"0": ["n01440764", "tench"], ...}}') from None
    if not isinstance(index, dict) or not all(str(k).isdigit() for k in index):
        raise ConfigError(f'{where}: expected a JSON object of class indices, {{"0": ["n01440764", "tench"], ...}}')
    keys = sorted(int(k) for k in index)
    if keys != list(range(len(keys))):
        raise ConfigError(f"{where}: class indices must run 0..{len(keys) - 1} without gaps")
    names = []
    for key in keys:
        entry = index[str(key)]
        name = entry[-1] if isinstance(entry, list) and entry else entry
        if not isinstance(name, str):
            raise ConfigError(f'{where}: class {key} is {entry!r}; expected ["wnid", "name"] or a name')
        names.append(name)
    return names


def class_names(config: Any, count: int) -> list[str]:
    """The names of `labels`, else class_0 .. class_{count-1}."""
    return read_labels(config.labels, count) if config.labels else [f"class_{i}" for i in range(count)]


# ----- 实例85: a predict-only run of the ImageNet classifier -----------------------------------------------
def top_size(config: Any) -> int:
    """`image_size`, or the size the backbone's classifier was trained at."""
    size = int(config.image_size) or TOP_SIZES.get(config.backbone, DEFAULT_TOP_SIZE)
    minimum = backbone_spec(config.backbone).min_size
    if size < minimum:
        raise ConfigError(f"image_size={size} is below {config.backbone}'s minimum of {minimum} px")
    return size


def top_info(config: Any) -> dict[str, Any]:
    """info.json of an include_top run: 1,000 class names and the classifier's input size."""
    size = top_size(config)
    kind, path = parse_weights(config.weights)
    return {
        "class_names": class_names(config, IMAGENET_CLASSES),
        "source_shape": [size, size, 3],
        "input_shape": [size, size, 3],
        "backbone": config.backbone,
        "weights": "none" if kind == "none" else f"{kind}:{Path(path).expanduser().resolve()}",
        "include_top": True,
    }


def make_top_run(config: Any, run_dir: str | Path) -> Path:
    """Write a predict-only run: the classifier with `config.weights` loaded, saved as step 0.

    `weights` must be `file:PATH` (full ImageNet weights, with the top) or `none` (random, for tests).
    """
    from tfzoo.common.checkpoint import Checkpoints
    from tfzoo.common.run import Run, model_key

    from .model import build_model, load_initial_weights
    from .task import Transfer

    config = replace(config, include_top=True)
    kind, _ = parse_weights(config.weights)
    if kind == "run":
        raise ConfigError(f"weights={config.weights}: include_top=true needs full ImageNet weights (file:PATH) "
                          f"or none; a tfzoo run holds no ImageNet classifier")
    run = Run(run_dir)
    if run.config_file.exists():
        raise ConfigError(f"{run.path} already holds a run; choose another run directory")
    info = top_info(config)
    model = build_model(config, input_size=info["input_shape"][0], num_classes=IMAGENET_CLASSES)
    load_initial_weights(model, config)  # before anything is written, so a bad file leaves no run behind
    run.write_record(task_name=Transfer.name, config=config, info=info)
    # The trainer cannot write this checkpoint (even with train.steps=0): there is no training data to
    # start it on. So it is written here, under the trainer's key for models["model"], for `Run.open`.
    step = tf.Variable(0, dtype=tf.int64, trainable=False, name="step")
    Checkpoints(run.checkpoints, keep=1, trackables={model_key("model"): model, "step": step}).save(0)
    return run.path


# ----- predict ------------------------------------------------------------------------------------------
def predict_top_k(run: Any, inputs: list[str]) -> list[dict[str, Any]]:
    """Top-k labels and probabilities per image; names from `labels` when set, else the run's."""
    from tfzoo.vision.classify import data as pipeline

    config, info = run.config, run.info
    names = read_labels(config.labels, len(info["class_names"])) if config.labels else info["class_names"]
    k = max(1, min(config.top_k, len(names)))
    results = []
    for path in inputs:
        image = read_image_file(path)
        x = pipeline.prepare(image[None], info, standardize=False)
        probs = tf.nn.softmax(run.models["model"](x, training=False))[0].numpy()
        top = np.argsort(-probs)[:k]
        results.append({"input": path,
                        "top_k": [{"label": names[i], "probability": round(float(probs[i]), 6)} for i in top]})
    return results


def dense_parts(model: keras.Model, config: Any) -> tuple[keras.Model, np.ndarray, np.ndarray]:
    """(fully convolutional backbone for any H, W, head kernel [C, K], head bias [K]) of a transfer model.

    The backbone is rebuilt at input (None, None, 3) and given the trained weights in order (the
    notop weights are the first ones of a model with its top, too).
    """
    inner = inner_backbone(model)
    if config.include_top:
        # Only GAP (and dropout) may sit between the features and the Dense; VGG's top is Flatten -> fc1 -> fc2.
        between = [layer for layer in inner.layers[-3:-1] if not isinstance(layer, keras.layers.Dropout)]
        if not isinstance(between[-1], keras.layers.GlobalAveragePooling2D):
            raise ConfigError(f"dense=true with include_top=true: {config.backbone}'s classifier is not "
                              f"global pooling then one Dense layer; use another backbone")
        head = inner.get_layer("predictions")
    else:
        head = model.get_layer("logits")
    fcn = application(config, None)
    weights = inner.get_weights()[:len(fcn.weights)]
    if [w.shape for w in weights] != [tuple(w.shape) for w in fcn.weights]:
        # NASNet picks its cells' layers from the input shape, so at an unknown size it builds other ones.
        raise ConfigError(f"dense=true: {config.backbone} builds other layers for images of any size; "
                          f"use another backbone")
    fcn.set_weights(weights)
    kernel, bias = (np.asarray(w) for w in head.get_weights())
    return fcn, kernel, bias


def dense_logits(parts: tuple[keras.Model, np.ndarray, np.ndarray], images, *, backbone: str) -> tf.Tensor:
    """Float [N, H, W, 3] images in [0, 1] -> logits map [N, h, w, K] (the Dense head as a 1x1 conv)."""
    fcn, kernel, bias = parts
    x = Preprocess(backbone=backbone)(tf.convert_to_tensor(images, tf.float32))
    features = fcn(x, training=False)
    return tf.nn.conv2d(features, kernel[None, None], strides=1, padding="VALID") + bias


def predict_dense(run: Any, inputs: list[str]) -> list[dict[str, Any]]:
    """Per image: the class-probability map's shape, each class's pixel share, and a class-map PNG."""

    config, info = run.config, run.info
    names = read_labels(config.labels, len(info["class_names"])) if config.labels else info["class_names"]
    minimum = backbone_spec(config.backbone).min_size
    parts = dense_parts(run.models["model"], config)
    results = []
    for path in inputs:
        image = read_image_file(path)
        if image.shape[-1] == 1:
            image = np.repeat(image, 3, axis=-1)
        if min(image.shape[:2]) < minimum:
            raise DataError(f"{path}: {image.shape[0]}x{image.shape[1]} px; dense=true needs at least "
                            f"{minimum} px a side for {config.backbone}")
        logits = dense_logits(parts, image[None].astype(np.float32) / 255.0, backbone=config.backbone)
        probs = tf.nn.softmax(logits)[0].numpy()
        argmax = probs.argmax(-1)
        counts = np.bincount(argmax.ravel(), minlength=len(names))
        order = [int(c) for c in np.argsort(-counts, kind="stable") if counts[c]]
        share = {names[c]: round(float(counts[c] / argmax.size), 6) for c in order}
        out = run.path / "predictions" / f"{Path(path).stem}_class_map.png"
        class_map(image, argmax, names, out)
        results.append({"input": path, "dense": True, "map_shape": list(probs.shape),
                        "pixel_share": share, "class_map_png": str(out)})
    return results


def class_map(image: np.ndarray, argmax: np.ndarray, names: list[str], out_png, *, legend: int = 12) -> Path:
    """The image beside its argmax class map, coloured per class, with a legend of the largest classes."""
    from matplotlib import colormaps
    from matplotlib.patches import Patch

    from tfzoo.common.plots import new_figure, save_figure

    counts = np.bincount(argmax.ravel(), minlength=len(names))
    present = [int(c) for c in np.argsort(-counts, kind="stable") if counts[c]]
    colours = colormaps["tab20"].resampled(max(len(present), 1))
    rank = np.zeros(len(names), np.int64)
    rank[present] = np.arange(len(present))
    fig = new_figure()
    left, right = fig.subplots(1, 2)
    extent = (0, image.shape[1], image.shape[0], 0)  # the map covers the whole image
    left.imshow(image, extent=extent)
    left.set_title("input")
    right.imshow(rank[argmax], cmap=colours, vmin=-0.5, vmax=len(present) - 0.5, interpolation="nearest",
                 extent=extent)
    right.set_title(f"argmax class map {argmax.shape[0]}x{argmax.shape[1]}")
    for axis in (left, right):
        axis.set_xticks([])
        axis.set_yticks([])
    share = counts / argmax.size
    handles = [Patch(color=colours(i), label=f"{names[c]} {share[c]:.0%}") for i, c in enumerate(present[:legend])]
    fig.legend(handles=handles, loc="lower center", ncol=min(4, len(handles)), fontsize=8)
    return save_figure(fig, out_png)


# ----- command line ---------------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    """`python -m tfzoo.vision.transfer.extras RUN_DIR --set weights=file:PATH --set labels=file:PATH`."""
    from tfzoo.common import config as cfg

    from .config import TransferConfig

    parser = argparse.ArgumentParser(prog="python -m tfzoo.vision.transfer.extras",
                                     description="write a predict-only vision.transfer run of an ImageNet "
                                                 "classifier (include_top=true) for `tfzoo predict`")
    parser.add_argument("run_dir")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="config fields: weights, labels, backbone, alpha, image_size, top_k")
    args = parser.parse_args(argv)
    try:
        config = cfg.override(TransferConfig(), {**cfg.parse_sets(args.set), "include_top": True})
        print(make_top_run(config, args.run_dir))
    except UserError as err:
        print(f"error: {err}", file=sys.stderr)
        return err.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main())
