"""generative.autoencoder: the book's autoencoders (实例76-80) on any image dataset."""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from tfzoo.common.metrics import psnr_per_image
from tfzoo.common.optim import build_optimizer
from tfzoo.common.task import Stage, Task, TrainState
from tfzoo.generative import images
from tfzoo.generative.autoencoder import data as pipeline
from tfzoo.generative.autoencoder.config import STAGES, AutoencoderConfig
from tfzoo.generative.autoencoder.model import build_autoencoder, build_stacked, decoder, encoder

# The model each stacked stage updates (with the optimiser of the same name).
STAGE_MODEL = {"dae1": "dae1", "ae2": "ae2", "head": "head", "finetune": "model"}
# evaluate's robustness table: three levels per noise kind (spec §1.2)
ROBUSTNESS = {"gaussian": (0.1, 0.3, 0.5), "salt_pepper": (0.05, 0.1, 0.2), "flip": (0.05, 0.15, 0.3),
              "mask": (0.1, 0.25, 0.5)}


def reconstruction_loss(kind: str, target: tf.Tensor, output: tf.Tensor) -> tf.Tensor:
    """Per-example mean over pixels of MSE or BCE."""
    target = tf.reshape(target, [tf.shape(target)[0], -1])
    output = tf.reshape(output, [tf.shape(output)[0], -1])
    if kind == "bce":
        output = tf.clip_by_value(output, 1e-7, 1 - 1e-7)
        return -tf.reduce_mean(target * tf.math.log(output) + (1 - target) * tf.math.log(1 - output), -1)
    return tf.reduce_mean(tf.square(target - output), -1)


class Autoencoder(Task):
    name = "generative.autoencoder"
    config_class = AutoencoderConfig

    # ----- data --------------------------------------------------------------------------------
    def data(self, config: AutoencoderConfig, split: str):
        return pipeline.load_split(config, split)

    def data_info(self, config: AutoencoderConfig, train) -> dict[str, Any]:
        return {"class_names": list(train.class_names), "shape": pipeline.image_shape(config, train)}

    def train_map(self, config, info, example, seed):
        return pipeline.train_example(config, info, example, seed)

    def eval_map(self, config, info, example):
        return pipeline.eval_example(config, info, example)

    # ----- models and stages ----------------------------------------------------------------------
    def build_models(self, config: AutoencoderConfig, info: dict[str, Any]) -> dict[str, keras.Model]:
        shape = tuple(info["shape"])
        if config.variant == "stacked":
            return build_stacked(config, shape, len(info["class_names"]))
        model = build_autoencoder(config, shape)
        # The halves are views of "model" (shared weights), named so `tfzoo export --model encoder` finds them.
        halves = {"encoder": encoder(model), "decoder": decoder(model)}
        return {"model": model, **{name: half for name, half in halves.items() if half is not None}}

    def build_optimizers(self, config: AutoencoderConfig, models, *, total_steps: int):
        if config.variant != "stacked":
            return {"model": build_optimizer(config.optim, total_steps=total_steps)}
        # One optimiser per stage's model; fine-tuning ("model") runs at its own, lower rate (Adam 1e-3).
        fine = replace(config.optim, optimizer="adam", lr=config.finetune_lr)
        out = {name: build_optimizer(config.optim, total_steps=total_steps) for name in ("dae1", "ae2", "head")}
        out["model"] = build_optimizer(fine, total_steps=total_steps)
        return out

    def stages(self, config: AutoencoderConfig) -> list[Stage]:
        if config.variant != "stacked":
            return [Stage(name="all", steps=config.train.steps)]
        steps = config.stage_steps or _split(config.train.steps, 4)
        # Each stage updates its own model (STAGE_MODEL) with that model's optimiser.
        return [Stage(name=n, steps=int(s)) for n, s in zip(STAGES, steps)]

    # ----- steps -----------------------------------------------------------------------------------------
    def compute_loss(self, state: TrainState, batch) -> tuple[tf.Tensor, dict[str, tf.Tensor]]:
        """The reconstruction loss of `noisy` against `clean` (every variant but stacked)."""
        noisy, clean, _, _ = batch
        output = state.models["model"](noisy, training=True)
        return state.average(reconstruction_loss(state.config.loss, clean, output)), {}

    def train_step(self, state: TrainState, batch) -> dict[str, tf.Tensor]:
        if state.config.variant != "stacked":
            return super().train_step(state, batch)
        noisy, clean, label, labelled = batch
        config, stage = state.config, state.stage.name  # a Python value: the step is traced once per stage
        name = STAGE_MODEL[stage]
        model, zero = state.models[name], tf.constant(0.0)
        if stage == "dae1":
            loss, _ = state.minimize(
                lambda: state.average(reconstruction_loss(config.loss, clean, model(noisy, training=True))),
                model=name)
            return {"loss": loss, "accuracy": zero}  # same keys in every stage: a log window may span two
        stacked = state.models["model"]
        enc1, enc2 = stacked.get_layer("enc1"), stacked.get_layer("enc2")
        flat = tf.reshape(clean, [tf.shape(clean)[0], -1])
        if stage == "ae2":
            code1 = tf.stop_gradient(enc1(flat))  # layer 1 is frozen: only its codes are used
            loss, _ = state.minimize(
                lambda: state.average(tf.reduce_mean(tf.square(code1 - model(code1, training=True)), -1)),
                model=name)
            return {"loss": loss, "accuracy": zero}
        inputs = tf.stop_gradient(enc2(enc1(flat))) if stage == "head" else clean
        # Unlabelled examples weigh 0; dividing by the expected labelled count keeps the step size
        # independent of label_fraction.
        denominator = state.global_batch_size * config.label_fraction

        def loss_fn():
            logits = model(inputs, training=True)
            ce = keras.losses.sparse_categorical_crossentropy(label, logits, from_logits=True)
            correct = tf.cast(tf.equal(tf.argmax(logits, -1), tf.cast(label, tf.int64)), tf.float32)
            return tf.reduce_sum(ce * labelled) / denominator, {
                "accuracy": tf.reduce_sum(correct * labelled) / denominator}

        loss, logs = state.minimize(loss_fn, model=name)
        if stage == "head":
            # Keep the classifier as it is at the end of the head stage for "accuracy before fine-tuning".
            for target, source in zip(state.models["before"].weights, stacked.weights):
                target.assign(source)
        return {"loss": loss, **logs}

    def metrics(self, config: AutoencoderConfig, info):
        names = ["loss"]
        if config.variant == "stacked":
            names += ["accuracy", "accuracy_before_finetune", "dae1_mse"]
        else:
            names += ["mse", "psnr"] + (["denoise_mse"] if pipeline.noise_spec(config) else [])
        return {name: keras.metrics.Mean(name=name) for name in names}

    def eval_step(self, state: TrainState, batch, metrics) -> None:
        noisy, clean, label, _ = batch
        config = state.config
        if config.variant == "stacked":
            for key, name in (("accuracy", "model"), ("accuracy_before_finetune", "before")):
                logits = state.models[name](clean, training=False)
                correct = tf.equal(tf.argmax(logits, -1), tf.cast(label, tf.int64))
                metrics[key].update_state(tf.cast(correct, tf.float32))
                if name == "model":
                    metrics["loss"].update_state(
                        keras.losses.sparse_categorical_crossentropy(label, logits, from_logits=True))
            metrics["dae1_mse"].update_state(
                reconstruction_loss("mse", clean, state.models["dae1"](noisy, training=False)))
            return
        model = state.models["model"]
        output = model(clean, training=False)
        metrics["loss"].update_state(reconstruction_loss(config.loss, clean, output))
        metrics["mse"].update_state(reconstruction_loss("mse", clean, output))
        metrics["psnr"].update_state(psnr_per_image(clean, output, max_val=1.0))
        if "denoise_mse" in metrics:
            metrics["denoise_mse"].update_state(reconstruction_loss("mse", clean, model(noisy, training=False)))

    # ----- command-line hooks ------------------------------------------------------------------------
    def _reconstruct(self, run, x: np.ndarray) -> np.ndarray:
        name = "dae1" if run.config.variant == "stacked" else "model"
        model = run.models[name]
        return np.concatenate([np.asarray(model(x[i: i + 500], training=False)) for i in range(0, len(x), 500)])

    def example_inputs(self, directory) -> list[str]:
        """A digit-like PNG and the same strokes as a float .npy: predict reads both."""
        return images.example_digits(directory)

    def predict(self, run, inputs: list[str]) -> list[dict[str, Any]]:
        """Reconstruct each image file or `.npy`; writes plots/predict/<name>.png (input | output)."""
        from tfzoo.common import plots

        config, info = run.config, run.info
        out_dir = run.plots / "predict"
        results = []
        for path in inputs:
            image = images.shrink_large(images.read_image(path), info["shape"])  # a big photo: bounded memory
            x = images.fit_image(image, info["shape"]).numpy()[None]
            y = self._reconstruct(run, x)
            mse = float(np.mean((x - y) ** 2))
            png = plots.panel([x[0], y[0]], ["input", f"output (MSE {mse:.4f})"], out_dir / f"{Path(path).stem}.png")
            result = {"input": path, "mse": round(mse, 6), "png": str(png)}
            if config.variant == "stacked":
                probs = tf.nn.softmax(run.models["model"](x, training=False))[0].numpy()
                result["class"] = info["class_names"][int(np.argmax(probs))]
                result["probability"] = round(float(probs.max()), 6)
            else:
                code = np.asarray(run.models["encoder"](x, training=False))[0]
                result["code"] = [round(float(v), 5) for v in code.ravel()] if code.size <= 1024 else list(code.shape)
            results.append(result)
        return results

    def visualise(self, run, config: AutoencoderConfig) -> list[str]:
        """recon.png (inputs over outputs), denoise.png, codes.png (2-D codes), and for stacked the layer-1 codes and filters."""
        from tfzoo.common import plots

        plots_dir = run.plots
        x, labels = pipeline.load_arrays(config, run.info, "test", limit=1000)
        written = []
        recon = self._reconstruct(run, x[:10])
        written.append(plots.image_grid(np.concatenate([x[:10], recon]), plots_dir / "recon.png", rows=2, cols=10))
        spec = pipeline.noise_spec(config)
        if spec:
            noisy = np.stack([images.add_noise(x[i], spec, images.content_seed(x[i])).numpy() for i in range(10)])
            denoised = self._reconstruct(run, noisy)
            grid = np.concatenate([np.clip(noisy, 0, 1), x[:10], denoised])
            written.append(plots.image_grid(grid, plots_dir / "denoise.png", rows=3, cols=10))
        if config.variant == "stacked":
            enc1 = run.models["model"].get_layer("enc1")
            side = math.isqrt(enc1.units)
            if side * side == enc1.units:  # 256 units show as 16x16 images
                codes = np.asarray(enc1(x[:20].reshape(20, -1)))
                written.append(plots.image_grid(codes.reshape(20, side, side), plots_dir / "codes1.png", rows=2))
            kernel = np.asarray(enc1.kernel).T[:64].reshape(-1, *run.info["shape"])
            written.append(plots.image_grid(kernel, plots_dir / "filters1.png"))
        elif np.prod(run.models["encoder"].output.shape[1:]) == 2:
            codes = np.asarray(run.models["encoder"].predict(x, verbose=0))
            written.append(plots.scatter2d(codes, labels, plots_dir / "codes.png"))
        return [str(p) for p in written]

    def after_evaluate(self, run, split: str, results: dict[str, Any]) -> dict[str, Any]:
        """Pictures, FD-DC of reconstructions with floor and ceilings, and the noise robustness table."""
        from tfzoo.generative import evaluation

        config = run.config
        results["plots"] = self.visualise(run, config)
        x, _ = pipeline.load_arrays(config, run.info, split, limit=max(config.eval_samples, 1))
        clf = evaluation.domain_classifier(config.data, seed=config.train.seed,
                                           epochs=config.eval_classifier_epochs, root=config.eval_root or None)
        results["reconstruction_fd"] = _rounded(evaluation.fd_report(clf, self._reconstruct(run, x),
                                                                     n=config.eval_samples))
        if config.variant != "stacked":
            table = {}
            for kind, levels in ROBUSTNESS.items():
                for level in levels:
                    noisy = images.add_noise(x, f"{kind}:{level}", [int(level * 1000), 5]).numpy()
                    out = self._reconstruct(run, noisy)
                    mse = float(np.mean((out - x) ** 2))
                    table[f"{kind}:{level}"] = {"mse": round(mse, 6),
                                                "psnr": round(10 * math.log10(1 / max(mse, 1e-10)), 3)}
            results["robustness"] = table
        return results

    def serving_function(self, config: AutoencoderConfig, models, info):
        """uint8 images [N, H, W, C] in; reconstruction and code (or class probabilities for stacked) out."""
        shape = info["shape"]
        spec = tf.TensorSpec([None, *shape], tf.uint8, name="images")
        if config.variant == "stacked":
            classifier, names = models["model"], tf.constant(info["class_names"])

            @tf.function(input_signature=[spec])
            def serve_classes(batch):
                probabilities = tf.nn.softmax(classifier(images.to_unit(batch), training=False))
                index = tf.argmax(probabilities, -1)
                return {"probabilities": probabilities, "class_id": index, "class_name": tf.gather(names, index)}

            return serve_classes
        model = models["model"]
        coder = models["encoder"]

        @tf.function(input_signature=[spec])
        def serve(batch):
            x = images.to_unit(batch)
            return {"reconstruction": model(x, training=False), "code": coder(x, training=False)}

        return serve


def _split(total: int, parts: int) -> list[int]:
    base, extra = divmod(int(total), parts)
    return [base + (1 if i < extra else 0) for i in range(parts)]


def _rounded(report: dict[str, Any]) -> dict[str, Any]:
    return {k: round(float(v), 4) if isinstance(v, float) else v for k, v in report.items()}
