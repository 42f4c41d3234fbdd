"""Backbones from keras.applications, their blocks, the new head and weight loading (spec §3).

The model takes float32 RGB images in [0, 1]; each backbone's own `preprocess_input` runs inside
it (the book hand-normalised around a slim bug, S0 L20755), so export and predict need nothing
else. Layer names are API: `backbone` (the application model, wrapped), `pool`, `dropout`, `logits`.
"""

from __future__ import annotations

import importlib
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from tfzoo.common.errors import ConfigError

L = keras.layers


@dataclass(frozen=True)
class BackboneSpec:
    """How to build one keras.applications backbone and how its layers group into blocks.

    Blocks come either from a name `key` (layers whose names give the same key form a block; layers
    with no key join the block of the layer before them) or from `boundary` layers that end a block
    (Inception's generic conv2d_N names carry no block).
    """

    constructor: str
    module: str  # keras.applications submodule with preprocess_input
    min_size: int
    key: str = ""
    boundary: str = ""
    alpha: bool = False


BACKBONES = {
    "mobilenet_v2": BackboneSpec("MobileNetV2", "mobilenet_v2", 32, key=r"^(block_\d+|expanded_conv)_", alpha=True),
    "resnet50": BackboneSpec("ResNet50", "resnet50", 32, key=r"^(conv\d_block\d+)_"),
    "vgg16": BackboneSpec("VGG16", "vgg16", 32, key=r"^(block\d+)_"),
    "vgg19": BackboneSpec("VGG19", "vgg19", 32, key=r"^(block\d+)_"),
    "efficientnet_b0": BackboneSpec("EfficientNetB0", "efficientnet", 32, key=r"^(block\d+[a-z])_"),
    "inception_v3": BackboneSpec("InceptionV3", "inception_v3", 75, boundary=r"^mixed\d+$"),
    "inception_resnet_v2": BackboneSpec("InceptionResNetV2", "inception_resnet_v2", 75,
                                        boundary=r"^(mixed_\w+|block(35|17|8)_\d+_ac)$"),
    "nasnet_mobile": BackboneSpec("NASNetMobile", "nasnet", 32, key=r"_(stem_\d|reduce_\d+|\d+)$"),
}


def backbone_spec(name: str) -> BackboneSpec:
    if name not in BACKBONES:
        raise ConfigError(f"unknown backbone {name!r}; choose one of {', '.join(BACKBONES)}")
    return BACKBONES[name]


@keras.saving.register_keras_serializable(package="tfzoo.transfer")
class Preprocess(L.Layer):
    """[0, 1] RGB -> the input the backbone was trained on (its module's `preprocess_input`)."""

    def __init__(self, *, backbone: str, **kwargs) -> None:
        super().__init__(**kwargs)
        self.backbone = backbone
        self._fn = importlib.import_module(f"keras.applications.{backbone_spec(backbone).module}").preprocess_input

    def call(self, images):
        return self._fn(images * 255.0)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "backbone": self.backbone}


@keras.saving.register_keras_serializable(package="tfzoo.transfer")
class Backbone(L.Layer):
    """The application model; with `inference=True` it always runs in inference mode.

    Keras 3 functional models pass the outer `training` flag to nested models even when they
    were called with `training=False`, so freezing BN (slim's fixed statistics while only the
    Logits train) needs this wrapper: BN uses its moving statistics and never updates them.
    """

    def __init__(self, inner: keras.Model, *, inference: bool, **kwargs) -> None:
        super().__init__(**kwargs)
        self.inner = inner
        self.inference = inference

    def call(self, images, training=None):
        return self.inner(images, training=False if self.inference else training)

    def compute_output_shape(self, input_shape):
        return self.inner.compute_output_shape(input_shape)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "inference": self.inference,
                "inner": keras.saving.serialize_keras_object(self.inner)}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["inner"] = keras.saving.deserialize_keras_object(config["inner"])
        return cls(**config)


# keras.applications classifiers (include_top=True) all predict ImageNet's 1,000 classes, no background class.
IMAGENET_CLASSES = 1000


def application(config: Any, input_size: int | None, *, include_top: bool = False) -> keras.Model:
    """The keras.applications backbone, without downloaded weights.

    Without its top unless `include_top` (then it ends in the 1,000-class Dense `predictions`, as
    logits). `input_size=None` builds it fully convolutional, for images of any size (no top).
    """
    spec = backbone_spec(config.backbone)
    if input_size is not None and input_size < spec.min_size:
        raise ConfigError(f"image_size={input_size} is below {config.backbone}'s minimum of {spec.min_size} px")
    kwargs: dict[str, Any] = {"alpha": config.alpha} if spec.alpha else {}
    if include_top:
        kwargs.update(classes=IMAGENET_CLASSES, classifier_activation=None)
    constructor = getattr(keras.applications, spec.constructor)
    try:
        return constructor(include_top=include_top, weights=None, input_shape=(input_size, input_size, 3), **kwargs)
    except ValueError as err:  # e.g. an alpha MobileNetV2 does not offer
        raise ConfigError(f"backbone {config.backbone}: {str(err).splitlines()[0]}") from None


def build_model(config: Any, *, input_size: int, num_classes: int) -> keras.Model:
    """Backbone (inference mode in finetune mode) -> GAP -> Dropout -> Dense logits.

    With `config.include_top` the application keeps its own ImageNet classifier instead (always in
    inference mode; its output, named `backbone`, is the 1,000 logits).
    """
    inputs = keras.Input(shape=(input_size, input_size, 3), dtype="float32", name="image")
    x = Preprocess(backbone=config.backbone, name="preprocess")(inputs)
    if getattr(config, "include_top", False):
        if num_classes != IMAGENET_CLASSES:
            raise ConfigError(f"include_top=true: the {config.backbone} classifier has {IMAGENET_CLASSES} classes, "
                              f"not {num_classes}")
        inner = application(config, input_size, include_top=True)
        logits = Backbone(inner, inference=True, name="backbone")(x)
        return keras.Model(inputs, logits, name=f"transfer_{config.backbone}_top")
    inner = application(config, input_size)
    if config.bn_momentum:
        for layer in inner.layers:
            if isinstance(layer, L.BatchNormalization):
                layer.momentum = config.bn_momentum
    x = Backbone(inner, inference=config.mode == "finetune", name="backbone")(x)
    x = L.GlobalAveragePooling2D(name="pool")(x)
    if config.dropout > 0:
        x = L.Dropout(config.dropout, name="dropout")(x)
    logits = L.Dense(num_classes, name="logits")(x)
    return keras.Model(inputs, logits, name=f"transfer_{config.backbone}")


def inner_backbone(model: keras.Model) -> keras.Model:
    """The keras.applications model inside a transfer model."""
    return model.get_layer("backbone").inner


def blocks(backbone: keras.Model, name: str) -> list[list[L.Layer]]:
    """The backbone's layers grouped into blocks, stem first, top block last."""
    spec = backbone_spec(name)
    layers = [layer for layer in backbone.layers if not isinstance(layer, L.InputLayer)]
    groups: list[list[L.Layer]] = [[]]
    if spec.boundary:
        for layer in layers:
            groups[-1].append(layer)
            if re.search(spec.boundary, layer.name):
                groups.append([])
    else:
        # Group by key, in order of first appearance; unkeyed layers follow the layer before them.
        index: dict[str, int] = {}
        current = 0
        for layer in layers:
            found = re.search(spec.key, layer.name)
            if found:
                current = index.setdefault(found.group(1), len(groups))
                if current == len(groups):
                    groups.append([])
            groups[current].append(layer)
    return [g for g in groups if g]


def top_layers(backbone: keras.Model, name: str, count: int) -> list[L.Layer]:
    """The layers of the top `count` blocks (never the stem)."""
    groups = blocks(backbone, name)
    count = max(0, min(count, len(groups) - 1))
    return [layer for group in groups[len(groups) - count:] for layer in group] if count else []


def freeze_for_finetune(model: keras.Model, config: Any) -> None:
    """Only the head and, when stage `unfreeze` is on, the top `unfreeze_blocks` blocks keep trainable weights.

    Frozen weights leave `model.trainable_variables`, so the optimisers keep no slots for them.
    """
    backbone = inner_backbone(model)
    top = top_layers(backbone, config.backbone, config.unfreeze_blocks) if "unfreeze" in config.stages else []
    keep = {id(layer) for layer in top}
    for layer in backbone.layers:
        layer.trainable = id(layer) in keep


def split_variables(model: keras.Model) -> tuple[list, list]:
    """(head variables, trainable backbone variables) of a transfer model."""
    backbone_ids = {id(v) for v in inner_backbone(model).weights}
    head = [v for v in model.trainable_variables if id(v) not in backbone_ids]
    body = [v for v in model.trainable_variables if id(v) in backbone_ids]
    return head, body


class GroupedOptimizer(tf.Module):
    """Stage unfreeze's optimiser: one update's gradients applied to the head with the model's optimiser
    and to the unfrozen backbone blocks with `backbone` (the lower rate), as slim's per-scope rates.

    `TrainState.minimize` applies one optimiser per update; this pair lets one forward pass and one
    global-norm clip serve both groups. It holds no state of its own: the two optimisers are
    checkpointed under their own names too. `backbone=None` (nothing unfrozen) sends everything to `head`.
    """

    def __init__(self, *, head: keras.optimizers.Optimizer, backbone: keras.optimizers.Optimizer | None,
                 backbone_variables: list) -> None:
        super().__init__(name="unfreeze_optimizer")
        self.head = head
        self.backbone = backbone
        self._backbone_ids = frozenset(id(v) for v in backbone_variables)

    @property
    def learning_rate(self):
        """The head's rate (the one the trainer reports)."""
        return self.head.learning_rate

    def apply_gradients(self, grads_and_vars) -> None:
        """Apply each (gradient, variable) pair with its group's optimiser, the head's first."""
        pairs = list(grads_and_vars)
        body = [(g, v) for g, v in pairs if id(v) in self._backbone_ids]
        self.head.apply_gradients([(g, v) for g, v in pairs if id(v) not in self._backbone_ids])
        if body:
            self.backbone.apply_gradients(body)


# ----- initial weights ---------------------------------------------------------------------------------
def parse_weights(text: str) -> tuple[str, str]:
    """`none`, `file:PATH`, `run:RUN_DIR`, or a bare path (taken as file:)."""
    text = text.strip()
    if text in ("", "none"):
        return "none", ""
    kind, sep, rest = text.partition(":")
    if sep and kind in ("file", "run"):
        if not rest.strip():
            raise ConfigError(f"weights={text!r}: expected {kind}:PATH")
        return kind, rest.strip()
    return "file", text


def load_initial_weights(model: keras.Model, config: Any) -> dict[str, Any]:
    """Fill the backbone from `config.weights`; returns a JSON-ready note of what was loaded."""
    kind, path = parse_weights(config.weights)
    if kind == "none":
        return {"weights": "none"}
    backbone = inner_backbone(model)
    if kind == "file":
        return load_weights_file(backbone, path, config.backbone, top=getattr(config, "include_top", False))
    return load_weights_run(backbone, path, config)


def load_weights_file(backbone: keras.Model, path: str, name: str, *, top: bool = False) -> dict[str, Any]:
    """Keras notop weights (full ImageNet weights with `top`), .h5 legacy or .weights.h5, strictly, else by name."""
    file = Path(path).expanduser()
    where = f"weights=file:{path}"
    kind = "full (include_top)" if top else "notop"
    if not file.is_file():
        raise ConfigError(f"{where}: no such file; expected Keras {kind} weights (.h5 or .weights.h5) for {name}")
    if not (file.name.endswith(".h5") or file.name.endswith(".hdf5")):
        raise ConfigError(f"{where}: expected a .h5, .hdf5 or .weights.h5 Keras weights file for {name}")
    before = [w.copy() for w in backbone.get_weights()]
    legacy = not file.name.endswith(".weights.h5")
    try:
        backbone.load_weights(str(file))
        return {"weights": f"file:{file}", "loaded": len(before), "of": len(before)}
    except Exception:  # noqa: BLE001 - retried below, by name and skipping mismatches, as Keras allows
        pass
    try:
        if legacy:
            backbone.load_weights(str(file), by_name=True, skip_mismatch=True)
        else:
            backbone.load_weights(str(file), skip_mismatch=True)
    except Exception as err:  # noqa: BLE001 - h5py, Keras and OS errors all mean "not these weights"
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ConfigError(f"{where}: not Keras weights for {name} ({first[:200]})") from None
    loaded = sum(not np.array_equal(a, b) for a, b in zip(before, backbone.get_weights()))
    if loaded == 0:
        raise ConfigError(f"{where}: no tensor matched backbone {name}; expected its {kind} weights "
                          f"(include_top={top}, the same width)")
    import sys

    print(f"warning: {where}: loaded {loaded} of {len(before)} backbone tensors by name; "
          f"the rest keep their initial values", file=sys.stderr)
    return {"weights": f"file:{file}", "loaded": loaded, "of": len(before)}


def load_weights_run(backbone: keras.Model, path: str, config: Any) -> dict[str, Any]:
    """Copy the backbone of a vision.transfer run's newest checkpoint."""
    from tfzoo.common.run import Run, load_models

    from .config import TransferConfig

    run = Run(Path(path).expanduser())
    where = f"weights=run:{path}"
    if not run.config_file.is_file() or not run.info_file.is_file():
        raise ConfigError(f"{where}: not a tfzoo run (expected config.json and info.json); train one with "
                          f"`tfzoo train vision.transfer --set mode=pretrain`")
    task = run.task_name() or "?"
    if task != "vision.transfer":
        raise ConfigError(f"{where}: a {task} run; expected a vision.transfer run")
    source = run.read_config(TransferConfig)
    if (source.backbone, source.alpha if BACKBONES[source.backbone].alpha else 0) != (
            config.backbone, config.alpha if backbone_spec(config.backbone).alpha else 0):
        raise ConfigError(f"{where}: that run's backbone is {source.backbone} (alpha {source.alpha}); "
                          f"this one is {config.backbone} (alpha {config.alpha})")
    info = run.read_info()
    model = build_model(replace(source, weights="none"), input_size=info["input_shape"][0],
                        num_classes=len(info["class_names"]))
    try:
        checkpoint = load_models({"model": model}, run.path)
        backbone.set_weights(inner_backbone(model).get_weights())
    except ConfigError as err:
        raise ConfigError(f"{where}: {err}") from None
    except ValueError as err:
        raise ConfigError(f"{where}: that run's backbone does not fit this one "
                          f"({str(err).splitlines()[0][:200]})") from None
    step = int(Path(checkpoint).name.rsplit("-", 1)[-1]) if "-" in Path(checkpoint).name else None
    return {"weights": f"run:{run.path}", "checkpoint": checkpoint, "step": step, "source_data": source.data_spec}
