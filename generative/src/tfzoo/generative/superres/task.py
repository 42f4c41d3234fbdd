"""generative.superres: ESPCN, residual ESPCN and SRGAN (实例93-96) on photos, mnist-5k or the user's folder."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from tfzoo.common import gan_losses
from tfzoo.common.data.base import DataSplit
from tfzoo.common.errors import ConfigError, UserError
from tfzoo.common.metrics import psnr_per_image
from tfzoo.common.optim import build_optimizer, clip_gradients
from tfzoo.common.task import Stage, Task, TrainState
from tfzoo.generative import photos

from . import data as pipeline
from .config import BOOK_LS, GAN_LOSSES, PREDICT_MODES, SuperResConfig
from .model import build_discriminator, build_generator
from .perceptual import build_rotation_net, feature_extractor, parse_perceptual, rotate_batch, vgg19_features
from .quality import score_table, scores, write_panel


class SuperRes(Task):
    name = "generative.superres"
    config_class = SuperResConfig
    description = "single-image super-resolution: ESPCN (x2/x3/x4), residual ESPCN and SRGAN, against bicubic"
    data_specs = ("photos (default)", "mnist-5k", "folder:DIR", "idx:DIR")
    monitor = "loss"

    def __init__(self) -> None:
        # Frozen feature networks, built with the models (not inside a traced step) and kept out of
        # the checkpoint: VGG19 is reloaded from its file, the own network's weights are in "features".
        self._vgg: dict[tuple[str, str], keras.Model] = {}
        self._own: dict[int, keras.Model] = {}

    # ----- data ----------------------------------------------------------------------------
    def data(self, config: SuperResConfig, split: str) -> DataSplit:
        if config.gan_loss not in GAN_LOSSES:
            raise ConfigError(f"unknown gan_loss {config.gan_loss!r}; choose one of {', '.join(GAN_LOSSES)}")
        parse_perceptual(config.perceptual)
        data = pipeline.load_split(config, split)
        if split != "train":
            return data
        # Each image yields `crops_per_image` random patches per epoch (photos: 7 images, fewer than a batch).
        k = max(1, config.crops_per_image)
        return DataSplit(data.dataset.repeat(k), data.size * k, data.class_names, data.image_shape)

    def data_info(self, config: SuperResConfig, train: DataSplit) -> dict[str, Any]:
        spec = train.dataset.element_spec
        channels = int(spec[0].shape[-1]) if isinstance(spec, tuple) else int(spec.shape[-1])
        shape = train.image_shape
        if shape is not None and min(shape[:2]) < config.patch_size:
            raise ConfigError(f"{config.data}: images are {shape[0]}x{shape[1]}, smaller than patch_size="
                              f"{config.patch_size}; set patch_size to at most {min(shape[:2])} (a multiple of "
                              f"{config.scale})")
        return {"channels": channels, "scale": config.scale, "eval_crop": pipeline.eval_crop(config, shape),
                "class_names": []}

    def train_map(self, config: SuperResConfig, info: dict[str, Any], example, seed):
        return pipeline.train_example(example[0], config, seed)

    def eval_map(self, config: SuperResConfig, info: dict[str, Any], example):
        return pipeline.eval_example(example[0], config, info["eval_crop"])

    # ----- models ------------------------------------------------------------------------------
    def build_models(self, config: SuperResConfig, info: dict[str, Any]) -> dict[str, keras.Model]:
        channels = info["channels"]
        models = {"model": build_generator(config, channels)}
        if config.init_from:
            _warm_start(models["model"], config)
        if config.variant == "srgan":
            models["discriminator"] = build_discriminator(config, channels)
            kind, path = parse_perceptual(config.perceptual)
            if kind == "own":
                models["features"] = build_rotation_net(config, channels)
                self._own[id(models["features"])] = feature_extractor(models["features"])
            elif kind == "vgg19" and (path, config.perceptual_layer) not in self._vgg:
                self._vgg[(path, config.perceptual_layer)] = vgg19_features(path, config.perceptual_layer)
        return models

    def build_optimizers(self, config: SuperResConfig, models, *, total_steps: int):
        from dataclasses import replace

        optimizers = {"model": build_optimizer(config.optim, total_steps=total_steps)}
        if "discriminator" in models:
            optimizers["discriminator"] = build_optimizer(replace(config.optim, lr=config.d_lr),
                                                          total_steps=total_steps)
        if "features" in models:
            optimizers["features"] = build_optimizer(replace(config.optim, lr=1e-3, schedule="constant"),
                                                     total_steps=total_steps)
        return optimizers

    def stages(self, config: SuperResConfig) -> list[Stage]:
        if config.variant == "srgan" and parse_perceptual(config.perceptual)[0] == "own":
            # The feature network is pretrained first (mode pretrain-features), then frozen for the GAN.
            return [Stage(name="pretrain-features", steps=config.feature_steps, trainable="features"),
                    Stage(name="gan", steps=config.train.steps)]
        return [Stage(name="all", steps=config.train.steps)]

    # ----- steps ---------------------------------------------------------------------------------
    def _features(self, state: TrainState):
        """The frozen feature network of the content loss, or None."""
        kind, path = parse_perceptual(state.config.perceptual)
        if kind == "own":
            return self._own[id(state.models["features"])]
        if kind == "vgg19":
            return self._vgg[(path, state.config.perceptual_layer)]
        return None

    def train_step(self, state: TrainState, batch) -> dict[str, tf.Tensor]:
        lr, hr, k = batch
        stage = state.extras.get("stage")
        if stage is not None and stage.name == "pretrain-features":
            return self._rotation_step(state, hr, k)
        if state.config.variant == "srgan":
            return self._gan_step(state, lr, hr)
        return self._pixel_step(state, lr, hr)

    def _pixel_step(self, state: TrainState, lr, hr):
        model, optimizer = state.models["model"], state.optimizers["model"]
        with tf.GradientTape() as tape:
            sr = model(lr, training=True)
            per_image = tf.reduce_mean(tf.square(sr - hr), axis=[1, 2, 3])
            loss = tf.nn.compute_average_loss(per_image, global_batch_size=state.global_batch_size)
        grads = clip_gradients(tape.gradient(loss, model.trainable_variables), state.config.optim.clip_norm)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        return {"loss": loss, "psnr": tf.reduce_sum(psnr_per_image(hr, sr, max_val=1.0)) / state.global_batch_size}

    def _rotation_step(self, state: TrainState, hr, k):
        net, optimizer = state.models["features"], state.optimizers["features"]
        upright = rotate_batch(hr, -k)  # undo the augmentation's rot90, so "upright" means something
        seed = tf.stack([tf.cast(state.step, tf.int32), tf.constant(97)])
        target = tf.random.stateless_uniform(tf.shape(k), seed, maxval=4, dtype=tf.int32)
        with tf.GradientTape() as tape:
            logits = net(rotate_batch(upright, target), training=True)
            per_image = keras.losses.sparse_categorical_crossentropy(target, logits, from_logits=True)
            loss = tf.nn.compute_average_loss(per_image, global_batch_size=state.global_batch_size)
        grads = tape.gradient(loss, net.trainable_variables)
        optimizer.apply_gradients(zip(grads, net.trainable_variables))
        correct = tf.cast(tf.equal(tf.argmax(logits, -1, output_type=tf.int32), target), tf.float32)
        return {"loss": loss, "rotation_accuracy": tf.reduce_sum(correct) / state.global_batch_size}

    def _gan_step(self, state: TrainState, lr, hr):
        config, n = state.config, state.global_batch_size
        g, d = state.models["model"], state.models["discriminator"]
        features = self._features(state)
        with tf.GradientTape() as d_tape:
            sr = g(lr, training=True)
            real, fake = d(hr, training=True), d(tf.stop_gradient(sr), training=True)
            d_loss = tf.nn.compute_average_loss(gan_losses.d_loss(config.gan_loss, real, fake, ls_weight=BOOK_LS),
                                                global_batch_size=n)
        d_grads = d_tape.gradient(d_loss, d.trainable_variables)
        state.optimizers["discriminator"].apply_gradients(zip(d_grads, d.trainable_variables))
        with tf.GradientTape() as g_tape:
            sr = g(lr, training=True)
            pixel = tf.reduce_mean(tf.square(sr - hr), axis=[1, 2, 3])
            adversarial = gan_losses.g_loss(config.gan_loss, d(sr, training=True), ls_weight=BOOK_LS)
            total = config.pixel_weight * pixel + config.adv_weight * adversarial
            content = tf.zeros_like(pixel)
            if features is not None:
                # MSE of the features (mean over their elements: divided by the feature size), times content_weight.
                content = tf.reduce_mean(tf.square(features(_rgb(sr, features)) - features(_rgb(hr, features))),
                                         axis=[1, 2, 3])
                total += config.content_weight * content
            g_loss = tf.nn.compute_average_loss(total, global_batch_size=n)
        variables = g.trainable_variables
        grads = clip_gradients(g_tape.gradient(g_loss, variables), config.optim.clip_norm)
        state.optimizers["model"].apply_gradients(zip(grads, variables))
        return {"loss": tf.nn.compute_average_loss(pixel, global_batch_size=n), "g_loss": g_loss, "d_loss": d_loss,
                "content": tf.nn.compute_average_loss(content, global_batch_size=n),
                "psnr": tf.reduce_sum(psnr_per_image(hr, sr, max_val=1.0)) / n}

    def metrics(self, config: SuperResConfig, info: dict[str, Any]) -> dict[str, keras.metrics.Metric]:
        return {"loss": keras.metrics.Mean(name="loss"), "psnr": keras.metrics.Mean(name="psnr"),
                "bicubic_psnr": keras.metrics.Mean(name="bicubic_psnr")}

    def eval_step(self, state: TrainState, batch, metrics) -> None:
        lr, hr = batch
        sr = state.models["model"](lr, training=False)
        mse = tf.reduce_mean(tf.square(sr - hr), axis=[1, 2, 3])
        bicubic = pipeline.upsample(lr, state.config.scale, "bicubic")
        metrics["loss"].update_state(mse)
        metrics["psnr"].update_state(psnr_per_image(hr, sr, max_val=1.0))
        metrics["bicubic_psnr"].update_state(psnr_per_image(hr, bicubic, max_val=1.0))

    # ----- command-line hooks ----------------------------------------------------------------------
    def upscale(self, run, lr: np.ndarray, *, tile: int = 256, margin: int = 24) -> np.ndarray:
        """The model's HR image (float [0, 1]) of one float LR image [h, w, C].

        Large images go through in `tile`-pixel LR tiles with `margin` pixels of context on each side,
        so memory stays bounded (the x4 generator's HR feature maps are 16x the LR area).
        """
        model, r = run.models["model"], run.config.scale
        h, w = lr.shape[:2]
        if h <= tile and w <= tile:
            return np.asarray(model(lr[None].astype(np.float32), training=False)[0])
        out = np.zeros((h * r, w * r, lr.shape[2]), np.float32)
        for top in range(0, h, tile):
            for left in range(0, w, tile):
                y0, x0 = max(top - margin, 0), max(left - margin, 0)
                y1, x1 = min(top + tile + margin, h), min(left + tile + margin, w)
                sr = np.asarray(model(lr[None, y0:y1, x0:x1].astype(np.float32), training=False)[0])
                bottom, right = min(top + tile, h), min(left + tile, w)
                out[top * r:bottom * r, left * r:right * r] = sr[(top - y0) * r:(bottom - y0) * r,
                                                                 (left - x0) * r:(right - x0) * r]
        return out

    def predict(self, run, inputs: list[str]) -> list[dict[str, Any]]:
        """Upscale each image file (predict_mode=upsample), or degrade it first and score (reference)."""
        from tfzoo.generative.images import fit_image, read_image

        config, info = run.config, run.info
        if config.predict_mode not in PREDICT_MODES:
            raise ConfigError(f"unknown predict_mode {config.predict_mode!r}; choose one of {', '.join(PREDICT_MODES)}")
        out_dir = Path(config.predict_out) if config.predict_out else run.run.plots / "predict"
        out_dir.mkdir(parents=True, exist_ok=True)
        r = config.scale
        results = []
        for path in inputs:
            image = read_image(path)
            image = np.asarray(fit_image(image, (*image.shape[:2], info["channels"])))
            reference = None
            if config.predict_mode == "reference":
                reference = np.asarray(pipeline.modcrop(tf.constant(image), r))
                if min(reference.shape[:2]) < r:
                    raise UserError(f"{path}: {image.shape[0]}x{image.shape[1]} is too small to downscale by {r}")
                lr = np.asarray(pipeline.degrade(tf.constant(reference), r, config.degrade))
            else:
                lr = np.round(image * 255.0) / 255.0
            sr = self.upscale(run, lr)
            stem = Path(path).stem
            png = out_dir / f"{stem}_x{r}.png"
            png.write_bytes(tf.io.encode_png(tf.cast(np.round(sr * 255.0), tf.uint8)).numpy())
            panel = write_panel(lr, sr, r, out_dir / f"{stem}_x{r}_panel.png", reference=reference,
                                border=r, style=config.metric_style)
            result = {"input": path, "output": str(png), "panel": str(panel), "scale": r,
                      "lr_shape": list(lr.shape), "hr_shape": list(sr.shape)}
            if reference is not None:
                result["scores"] = {name: scores(reference, image_, border=r, style=config.metric_style)
                                    for name, image_ in _methods(lr, sr, r).items()}
            results.append(result)
        return results

    def after_evaluate(self, run, split: str, results: dict[str, Any]) -> dict[str, Any]:
        """Whole held-out images (cropped to a multiple of r): PSNR, Y-PSNR and SSIM of the model and baselines."""
        config = run.config
        r = config.scale
        rows = []
        first = None
        features = self._own.get(id(run.models.get("features"))) if config.variant == "srgan" else None
        if config.variant == "srgan" and features is None:
            kind, path = parse_perceptual(config.perceptual)
            features = self._vgg.get((path, config.perceptual_layer)) if kind == "vgg19" else None
        images = pipeline.whole_images(config, split)
        names = list(photos.names(split)) if config.data.strip() == "photos" else list(range(len(images)))
        for name, image in zip(names, images, strict=True):
            hr = np.asarray(pipeline.modcrop(tf.constant(image, tf.float32) / 255.0, r))
            lr = np.asarray(pipeline.degrade(tf.constant(hr), r, config.degrade))
            methods = _methods(lr, self.upscale(run, lr), r)
            row = {"image": name, **{m: {k: round(v, 4) for k, v in scores(
                hr, out, border=r, style=config.metric_style).items()} for m, out in methods.items()}}
            if features is not None:  # SRGAN: how far each output is from the original in feature space
                target = np.asarray(features(_rgb(tf.constant(hr[None]), features)))
                for m, out in methods.items():
                    got = np.asarray(features(_rgb(tf.constant(out[None], tf.float32), features)))
                    row[m]["feature_distance"] = round(float(np.mean((got - target) ** 2)), 6)
            rows.append(row)
            if first is None:
                first = (lr, methods["model"], hr)
        table = score_table(rows)
        results["whole_images"] = table
        results["per_image"] = rows
        if first is not None:
            run.run.plots.mkdir(parents=True, exist_ok=True)
            panel = write_panel(first[0], first[1], r, run.run.plots / f"evaluate_{split}_panel.png",
                                reference=first[2], border=r, style=config.metric_style)
            results["panel_png"] = str(panel)
        return results

    def visualise(self, run, config: SuperResConfig) -> list[str]:
        """A comparison panel on the centre crop (`eval_crop`) of the first validation image: plots/panel.png."""
        images = pipeline.whole_images(config, "val", limit=1) or pipeline.whole_images(config, "train", limit=1)
        lr, hr = (np.asarray(t) for t in pipeline.eval_example(tf.constant(images[0]), config, run.info["eval_crop"]))
        path = write_panel(lr, self.upscale(run, lr), config.scale, run.run.plots / "panel.png", reference=hr,
                           border=config.scale, style=config.metric_style)
        return [str(path)]

    def during_training(self, run, step: int) -> list[str]:
        """The comparison panel after each evaluation, also logged to TensorBoard."""
        return self.visualise(run, run.config)

    def serving_function(self, config: SuperResConfig, models: dict[str, keras.Model], info: dict[str, Any]):
        """uint8 LR images [N, h, w, C] of any size in; uint8 HR images [N, h·r, w·r, C] out."""
        model = models["model"]

        @tf.function(input_signature=[tf.TensorSpec([None, None, None, info["channels"]], tf.uint8, name="images")])
        def serve(images):
            sr = model(tf.cast(images, tf.float32) / 255.0, training=False)
            return {"images": tf.cast(tf.round(tf.clip_by_value(sr, 0.0, 1.0) * 255.0), tf.uint8)}

        return serve


# ----- helpers -------------------------------------------------------------------------------------------
def _rgb(images: tf.Tensor, features: keras.Model) -> tf.Tensor:
    """Grey images repeated to 3 channels when the feature network wants RGB (VGG19)."""
    want = features.input_shape[-1]
    return tf.repeat(images, want, axis=-1) if images.shape[-1] == 1 and want == 3 else images


def _methods(lr: np.ndarray, sr: np.ndarray, r: int) -> dict[str, np.ndarray]:
    out = {m: np.asarray(pipeline.upsample(tf.constant(lr, tf.float32), r, m)) for m in pipeline.BASELINES}
    out["model"] = sr
    return out


def _warm_start(model: keras.Model, config: SuperResConfig) -> None:
    """Load the generator of an espcn-residual run (init_from) into `model` (SRGAN's warm start)."""
    from tfzoo.common.checkpoint import latest

    run = Path(config.init_from)
    path = latest(run / "checkpoints") if (run / "config.json").exists() else None
    if path is None:
        raise ConfigError(f"init_from={config.init_from}: not a trained run (expected config.json and checkpoints/)")
    other = json.loads((run / "config.json").read_text())
    mismatch = [k for k in ("scale", "filters", "res_blocks") if other.get(k) != getattr(config, k)]
    if other.get("variant") not in ("espcn-residual", "srgan") or mismatch:
        raise ConfigError(f"init_from={config.init_from}: a {other.get('variant')} run with different "
                          f"{', '.join(mismatch) or 'architecture'}; expected an espcn-residual run with the same "
                          "scale, filters and res_blocks")
    tf.train.Checkpoint(model_model=model).read(path).expect_partial()
