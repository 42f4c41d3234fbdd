"""generative.superres: ESPCN, residual ESPCN and SRGAN (实例93-96) on photos, mnist-5k or the user's folder."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from tfzoo.common import gan_losses
from tfzoo.common.data.base import DataSplit
from tfzoo.common.errors import ConfigError, UserError
from tfzoo.common.metrics import psnr_per_image
from tfzoo.common.optim import build_optimizer
from tfzoo.common.task import Stage, Task, TrainState
from tfzoo.generative import photos

from . import bands
from . import data as pipeline
from .bands import _rgb
from .config import BOOK_LS, SuperResConfig
from .model import build_discriminator, build_generator
from .perceptual import build_rotation_net, feature_extractor, parse_perceptual, rotate_batch, vgg19_features
from .quality import score_table, write_panel
from .tiles import upscale_rows


class SuperRes(Task):
    name = "generative.superres"
    config_class = SuperResConfig
    monitor = "loss"

    def __init__(self) -> None:
        # Frozen feature networks, built with the models (not inside a traced step) and kept out of
        # the checkpoint: VGG19 is reloaded from its file, the own network's weights are in "features".
        self._vgg: dict[tuple[str, str], keras.Model] = {}
        self._own: dict[int, keras.Model] = {}

    # ----- data ----------------------------------------------------------------------------
    def data(self, config: SuperResConfig, split: str) -> DataSplit:
        parse_perceptual(config.perceptual)
        data = pipeline.load_split(config, split)
        if split != "train":
            return data
        # Each image yields `crops_per_image` random patches per epoch (photos: 7 images, fewer than a batch).
        k = max(1, config.crops_per_image)
        return data.replace(dataset=data.dataset.repeat(k), size=data.size * k)

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
            return [Stage(name="pretrain-features", steps=config.feature_steps, trainable="^features/"),
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
        if state.stage is not None and state.stage.name == "pretrain-features":
            return self._rotation_step(state, hr, k)
        if state.config.variant == "srgan":
            return self._gan_step(state, lr, hr)
        return self._pixel_step(state, lr, hr)

    def _pixel_step(self, state: TrainState, lr, hr):
        def loss_fn():
            sr = state.models["model"](lr, training=True)
            psnr = tf.reduce_sum(psnr_per_image(hr, sr, max_val=1.0)) / state.global_batch_size
            return state.average(tf.reduce_mean(tf.square(sr - hr), axis=[1, 2, 3])), {"psnr": psnr}

        loss, logs = state.minimize(loss_fn)
        return {"loss": loss, **logs}

    def _rotation_step(self, state: TrainState, hr, k):
        upright = rotate_batch(hr, -k)  # undo the augmentation's rot90, so "upright" means something
        seed = tf.stack([tf.cast(state.step, tf.int32), tf.constant(97)])
        target = tf.random.stateless_uniform(tf.shape(k), seed, maxval=4, dtype=tf.int32)

        def loss_fn():
            logits = state.models["features"](rotate_batch(upright, target), training=True)
            per_image = keras.losses.sparse_categorical_crossentropy(target, logits, from_logits=True)
            correct = tf.cast(tf.equal(tf.argmax(logits, -1, output_type=tf.int32), target), tf.float32)
            return state.average(per_image), {"rotation_accuracy": tf.reduce_sum(correct) / state.global_batch_size}

        loss, logs = state.minimize(loss_fn, model="features")
        return {"loss": loss, **logs}

    def _gan_step(self, state: TrainState, lr, hr):
        """One D update on (HR, G(LR)), then one G update on pixel + adversarial (+ content) losses."""
        config = state.config
        g, d = state.models["model"], state.models["discriminator"]
        features = self._features(state)

        def d_loss_fn():
            sr = g(lr, training=True)
            real, fake = d(hr, training=True), d(tf.stop_gradient(sr), training=True)
            return state.average(gan_losses.d_loss(config.gan_loss, real, fake, ls_weight=BOOK_LS))

        def g_loss_fn():
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
            psnr = tf.reduce_sum(psnr_per_image(hr, sr, max_val=1.0)) / state.global_batch_size
            return state.average(total), {"loss": state.average(pixel), "content": state.average(content),
                                          "psnr": psnr}

        d_loss, _ = state.minimize(d_loss_fn, model="discriminator")
        g_loss, logs = state.minimize(g_loss_fn)
        return {"loss": logs["loss"], "g_loss": g_loss, "d_loss": d_loss, "content": logs["content"],
                "psnr": logs["psnr"]}

    def metrics(self, config: SuperResConfig, info: dict[str, Any]) -> dict[str, keras.metrics.Metric]:
        return {"loss": keras.metrics.Mean(name="loss"), "psnr": keras.metrics.Mean(name="psnr"),
                "bicubic_psnr": keras.metrics.Mean(name="bicubic_psnr")}

    def eval_step(self, state: TrainState, batch, metrics) -> None:
        lr, hr = batch
        # Under a multi-replica strategy a replica may get an empty share of the last batch (photos' val split
        # is one image), and a convolution over an empty batch fails on the CPU (oneDNN): skip it at run time.
        tf.cond(tf.shape(lr)[0] > 0, lambda: self._eval_batch(state, lr, hr, metrics), lambda: None)

    def _eval_batch(self, state: TrainState, lr, hr, metrics) -> None:
        sr = state.models["model"](lr, training=False)
        mse = tf.reduce_mean(tf.square(sr - hr), axis=[1, 2, 3])
        bicubic = pipeline.upsample(lr, state.config.scale, "bicubic")
        metrics["loss"].update_state(mse)
        metrics["psnr"].update_state(psnr_per_image(hr, sr, max_val=1.0))
        metrics["bicubic_psnr"].update_state(psnr_per_image(hr, bicubic, max_val=1.0))

    # ----- command-line hooks ----------------------------------------------------------------------
    def upscale(self, run, lr: np.ndarray, *, window: int = 0) -> np.ndarray:
        """The model's HR image (float [0, 1]) of one LR image [h, w, C] (uint8 or [0, 1] floats).

        Large images go through in windows of at most `window` LR pixels (default tiles.WINDOW_HR / r)
        with the model's full receptive field of context, so the result equals one pass over the image.
        """
        return upscale_rows(run.models["model"], np.asarray(lr), scale=run.config.scale, top=0, bottom=len(lr),
                            window=window)

    def example_inputs(self, directory) -> list[str]:
        """A small RGB PNG (predict_mode=upsample treats it as the LR input)."""
        from PIL import Image

        path = Path(directory) / "lr.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        y, x = np.mgrid[0:24, 0:32]
        pixels = np.stack([x * 8, y * 10, (x + y) * 4], axis=-1).clip(0, 255).astype(np.uint8)
        Image.fromarray(pixels).save(path)
        return [str(path)]

    def predict(self, run, inputs: list[str]) -> list[dict[str, Any]]:
        """Upscale each image file (predict_mode=upsample), or degrade it first and score (reference).

        Images of any size: large ones go through in bands and tiles (`bands.process`), so memory stays
        bounded; the panel is shrunk to at most `bands.PANEL_SIDE` pixels a side.
        """
        from tfzoo.generative.images import read_image

        config, info = run.config, run.info
        out_dir = Path(config.predict_out) if config.predict_out else run.plots / "predict"
        out_dir.mkdir(parents=True, exist_ok=True)
        r = config.scale
        results = []
        for path in inputs:
            stem = Path(path).stem
            png, panel = out_dir / f"{stem}_x{r}.png", out_dir / f"{stem}_x{r}_panel.png"
            try:
                outcome = bands.process(run.models["model"], read_image(path), scale=r, mode=config.predict_mode,
                                        channels=info["channels"], degrade=config.degrade, style=config.metric_style,
                                        out_png=png, panel_png=panel)
            except UserError as err:
                raise UserError(f"{path}: {err}") from None
            result = {"input": path, "output": str(png), "panel": str(panel), "scale": r,
                      "lr_shape": outcome["lr_shape"], "hr_shape": outcome["hr_shape"]}
            if "scores" in outcome:
                result["scores"] = outcome["scores"]
            results.append(result)
        return results

    def after_evaluate(self, run, split: str, results: dict[str, Any]) -> dict[str, Any]:
        """Whole held-out images (cropped to a multiple of r): PSNR, Y-PSNR and SSIM of the model and baselines.

        One image at a time, each in bands when large (`bands.process`), so a folder of big photos fits.
        """
        config = run.config
        r = config.scale
        features = self._own.get(id(run.models.get("features"))) if config.variant == "srgan" else None
        if config.variant == "srgan" and features is None:
            kind, path = parse_perceptual(config.perceptual)
            features = self._vgg.get((path, config.perceptual_layer)) if kind == "vgg19" else None
        names = photos.names(split) if config.data.strip() == "photos" else None
        rows = []
        panel = run.plots / f"evaluate_{split}_panel.png"
        for i, image in enumerate(pipeline.iter_images(config, split)):
            outcome = bands.process(run.models["model"], image, scale=r, mode="reference",
                                    channels=run.info["channels"], degrade=config.degrade, style=config.metric_style,
                                    features=features, panel_png=panel if i == 0 else None)
            row = {"image": names[i] if names else i,
                   **{m: {k: round(v, 4) for k, v in s.items()} for m, s in outcome["scores"].items()}}
            for m, distance in outcome.get("feature_distance", {}).items():
                row[m]["feature_distance"] = round(distance, 6)
            rows.append(row)
        results["whole_images"] = score_table(rows)
        results["per_image"] = rows
        if rows:
            results["panel_png"] = str(panel)
        return results

    def visualise(self, run, config: SuperResConfig) -> list[str]:
        """A comparison panel on the centre crop (`eval_crop`) of the first validation image: plots/panel.png."""
        images = pipeline.whole_images(config, "val", limit=1) or pipeline.whole_images(config, "train", limit=1)
        lr, hr = (np.asarray(t) for t in pipeline.eval_example(tf.constant(images[0]), config, run.info["eval_crop"]))
        path = write_panel(lr, self.upscale(run, lr), config.scale, run.plots / "panel.png", reference=hr,
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
def _warm_start(model: keras.Model, config: SuperResConfig) -> None:
    """Load the generator of an espcn-residual run (init_from) into `model` (SRGAN's warm start)."""
    from tfzoo.common.run import load_models

    run = Path(config.init_from)
    if not (run / "config.json").exists():
        raise ConfigError(f"init_from={config.init_from}: not a trained run (expected config.json and checkpoints/)")
    other = json.loads((run / "config.json").read_text())
    mismatch = [k for k in ("scale", "filters", "res_blocks") if other.get(k) != getattr(config, k)]
    if other.get("variant") not in ("espcn-residual", "srgan") or mismatch:
        raise ConfigError(f"init_from={config.init_from}: a {other.get('variant')} run with different "
                          f"{', '.join(mismatch) or 'architecture'}; expected an espcn-residual run with the same "
                          "scale, filters and res_blocks")
    try:
        load_models({"model": model}, run)
    except ConfigError as err:
        raise ConfigError(f"init_from={config.init_from}: {err}") from None
