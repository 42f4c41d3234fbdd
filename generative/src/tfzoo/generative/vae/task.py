"""generative.vae: the variational autoencoder (实例82) and its conditional form (实例83)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf
from scipy.stats import norm

from tfzoo.common.errors import UserError
from tfzoo.common.optim import build_optimizer
from tfzoo.common.task import Task, TrainState
from tfzoo.generative import images
from tfzoo.generative.vae import data as pipeline
from tfzoo.generative.vae.config import VAEConfig
from tfzoo.generative.vae.model import build_models, kl_divergence, reconstruction_nll

MANIFOLD = 15  # the book's 15x15 latent grid (S0 L19773-L19810)


def manifold_grid(size: int = MANIFOLD) -> np.ndarray:
    """[size², 2] latent points at Φ⁻¹(linspace(0.05, 0.95, size)) per axis, rows varying the second axis."""
    axis = norm.ppf(np.linspace(0.05, 0.95, size))
    return np.array([[x, y] for y in axis[::-1] for x in axis], np.float32)


def fixed_noise(n: int, latent_dim: int, seed: int = 0) -> np.ndarray:
    """The same prior draws every time, so successive sample grids are comparable."""
    return np.random.default_rng(seed).standard_normal((n, latent_dim)).astype(np.float32)


class VAE(Task):
    """Models {"model": x -> decoder(μ), "encoder": x -> (μ, log σ²), "decoder": z -> image}, one optimiser
    over "model"; `tfzoo export RUN --model encoder --model decoder` writes the two halves by name."""

    name = "generative.vae"
    config_class = VAEConfig

    # ----- data and models ---------------------------------------------------------------------------------
    def data(self, config: VAEConfig, split: str):
        return pipeline.load_split(config, split)

    def data_info(self, config: VAEConfig, train) -> dict[str, Any]:
        return {"class_names": list(train.class_names), "shape": pipeline.image_shape(config, train)}

    def train_map(self, config, info, example, seed):
        return pipeline.train_example(config, info, example, seed)

    def eval_map(self, config, info, example):
        return pipeline.eval_example(config, info, example)

    def build_models(self, config: VAEConfig, info: dict[str, Any]) -> dict[str, keras.Model]:
        return build_models(config, tuple(info["shape"]), len(info["class_names"]))

    def build_optimizers(self, config: VAEConfig, models, *, total_steps: int):
        # One optimiser over "model", which holds every encoder and decoder variable.
        return {"model": build_optimizer(config.optim, total_steps=total_steps)}

    # ----- steps ---------------------------------------------------------------------------------------
    def _losses(self, state: TrainState, batch, *, training: bool):
        inputs, label, eps = batch
        config = state.config
        encoder, decoder = state.models["encoder"], state.models["decoder"]
        conditional = config.variant == "cvae"
        x = inputs[0] if conditional else inputs
        mu, logvar = encoder(inputs, training=training)
        logvar = tf.clip_by_value(logvar, -config.logvar_clip, config.logvar_clip)
        z = mu + tf.exp(0.5 * logvar) * eps  # reparameterisation: gradients reach μ and σ
        output = decoder([z, label] if conditional else z, training=training)
        reconstruction = reconstruction_nll(config.likelihood, x, output)
        kl = kl_divergence(mu, logvar)
        return reconstruction, kl, x, output

    def compute_loss(self, state: TrainState, batch) -> tuple[tf.Tensor, dict[str, tf.Tensor]]:
        """The negative ELBO (reconstruction + β·KL), one update of "model" (every encoder and decoder weight)."""
        reconstruction, kl, _, _ = self._losses(state, batch, training=True)
        loss = state.average(reconstruction + state.config.beta * kl)
        return loss, {"reconstruction": state.average(reconstruction), "kl": state.average(kl)}

    def metrics(self, config: VAEConfig, info):
        # loss is the negative ELBO (β = 1 makes it a bound on -log p(x)) in nats per image.
        return {name: keras.metrics.Mean(name=name) for name in ("loss", "reconstruction", "kl", "mse")}

    def eval_step(self, state: TrainState, batch, metrics) -> None:
        reconstruction, kl, x, output = self._losses(state, batch, training=False)
        metrics["loss"].update_state(reconstruction + state.config.beta * kl)
        metrics["reconstruction"].update_state(reconstruction)
        metrics["kl"].update_state(kl)
        out = tf.clip_by_value(output, 0.0, 1.0)
        metrics["mse"].update_state(tf.reduce_mean(tf.reshape(tf.square(x - out), [tf.shape(x)[0], -1]), -1))

    # ----- generation ---------------------------------------------------------------------------------
    def _check_label(self, run, label: int) -> None:
        count = len(run.info["class_names"])
        if run.config.variant != "cvae" and label >= 0:
            raise UserError(f"label={label}: only the cvae variant takes a label")
        if not -1 <= label < count:
            raise UserError(f"label={label} is out of range: this run has {count} classes (0-{count - 1}, or -1)")

    def generate(self, run, z: np.ndarray, labels: np.ndarray | None = None) -> np.ndarray:
        """Decode latent points (and labels for cvae) to images in [0, 1]."""
        decoder = run.models["decoder"]
        out = []
        for i in range(0, len(z), 500):
            args = [z[i: i + 500], labels[i: i + 500]] if run.config.variant == "cvae" else z[i: i + 500]
            out.append(np.asarray(decoder(args, training=False)))
        return np.clip(np.concatenate(out), 0.0, 1.0)

    def _encode(self, run, x: np.ndarray, labels: np.ndarray) -> np.ndarray:
        inputs = [x, labels] if run.config.variant == "cvae" else x
        return np.asarray(run.models["encoder"](inputs, training=False)[0])

    def samples(self, run, n: int, label: int = -1, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """`n` prior samples with labels (label -1: 0, 1, 2, ... in turn)."""
        self._check_label(run, label)
        count = len(run.info["class_names"])
        labels = np.full(n, label, np.int64) if label >= 0 else np.arange(n, dtype=np.int64) % count
        return self.generate(run, fixed_noise(n, run.config.latent_dim, seed), labels), labels

    # ----- command-line hooks ---------------------------------------------------------------------------------
    def example_inputs(self, directory) -> list[str]:
        """`samples` (a grid from the prior) and a digit-like PNG to encode and reconstruct."""
        return ["samples", images.example_digits(directory)[0]]

    def predict(self, run, inputs: list[str]) -> list[dict[str, Any]]:
        """`samples` writes a grid of `n` samples (`label` for cvae); image files are encoded and reconstructed."""
        from tfzoo.common import plots

        config, info = run.config, run.info
        out_dir = run.plots / "predict"
        results = []
        for path in inputs:
            if path == "samples":
                self._check_label(run, config.label)
                grid, labels = self.samples(run, config.n, config.label)
                png = plots.image_grid(grid, out_dir / f"samples_label{config.label}.png")
                results.append({"input": path, "n": config.n, "labels": sorted(set(labels.tolist())),
                                "png": str(png)})
                continue
            image = images.shrink_large(images.read_image(path), info["shape"])  # a big photo: bounded memory
            x = images.fit_image(image, info["shape"]).numpy()[None]
            label = np.array([max(config.label, 0)], np.int64)
            if config.variant == "cvae":
                self._check_label(run, config.label)
            mu = self._encode(run, x, label)
            y = self.generate(run, mu, label)
            mse = float(np.mean((x - y) ** 2))
            png = plots.panel([x[0], y[0]], ["input", f"output (MSE {mse:.4f})"], out_dir / f"{Path(path).stem}.png")
            results.append({"input": path, "mu": [round(float(v), 5) for v in mu[0]], "mse": round(mse, 6),
                            "png": str(png)})
        return results

    def visualise(self, run, config: VAEConfig) -> list[str]:
        """recon.png, latent.png (μ of the test split), samples.png, interpolation.png, and manifold.png
        (2-D vae) or labels.png (cvae: rows = labels, one shared z per column)."""
        from tfzoo.common import plots

        plots_dir = run.plots
        x, labels = pipeline.load_arrays(config, run.info, "test", limit=1000)
        count = len(run.info["class_names"])
        mu = self._encode(run, x, labels)
        written = []
        recon = self.generate(run, mu[:10], labels[:10])
        written.append(plots.image_grid(np.concatenate([x[:10], recon]), plots_dir / "recon.png", rows=2, cols=10))
        written.append(plots.scatter2d(mu[:, :2] if mu.shape[1] >= 2 else np.pad(mu, ((0, 0), (0, 1))), labels,
                                       plots_dir / "latent.png"))
        written.append(plots.image_grid(self.samples(run, 64)[0], plots_dir / "samples.png", rows=8, cols=8))
        # Interpolations between the codes of test images, 5 pairs of 10 steps.
        t = np.linspace(0.0, 1.0, 10, dtype=np.float32)[:, None]
        rows = [self.generate(run, (1 - t) * mu[2 * i] + t * mu[2 * i + 1], np.full(10, labels[2 * i]))
                for i in range(5)]
        written.append(plots.image_grid(np.concatenate(rows), plots_dir / "interpolation.png", rows=5, cols=10))
        if config.variant == "cvae":
            z = np.tile(fixed_noise(10, config.latent_dim, seed=1), (count, 1))
            grid = self.generate(run, z, np.repeat(np.arange(count), 10))
            written.append(plots.image_grid(grid, plots_dir / "labels.png", rows=count, cols=10))
        elif config.latent_dim == 2:
            grid = self.generate(run, manifold_grid())
            written.append(plots.image_grid(grid, plots_dir / "manifold.png", rows=MANIFOLD, cols=MANIFOLD, border=1))
        return [str(p) for p in written]

    def after_evaluate(self, run, split: str, results: dict[str, Any]) -> dict[str, Any]:
        """Pictures, FD-DC (floor and ceilings) of prior samples and reconstructions, cvae class faithfulness."""
        from tfzoo.generative import evaluation

        config = run.config
        results["plots"] = self.visualise(run, config)
        clf = evaluation.domain_classifier(config.data, seed=config.train.seed,
                                           epochs=config.eval_classifier_epochs, root=config.eval_root or None)
        n = max(config.eval_samples, 1)
        generated, labels = self.samples(run, n, seed=123)
        results["samples_fd"] = _rounded(evaluation.fd_report(clf, generated, n=n))
        x, y = pipeline.load_arrays(config, run.info, split, limit=n)
        recon = self.generate(run, self._encode(run, x, y), y)
        results["reconstruction_fd"] = _rounded(evaluation.fd_report(clf, recon, n=n))
        if config.variant == "cvae":
            results["class_faithfulness"] = round(evaluation.class_faithfulness(clf, generated, labels), 4)
        return results

    def serving_function(self, config: VAEConfig, models, info):
        """The generator alone: noise z [N, latent_dim] (and int labels [N] for cvae) -> images [N, H, W, C]."""
        decoder = models["decoder"]
        z_spec = tf.TensorSpec([None, config.latent_dim], tf.float32, name="z")
        if config.variant == "cvae":
            count = len(info["class_names"])

            @tf.function(input_signature=[z_spec, tf.TensorSpec([None], tf.int64, name="labels")])
            def generate_labelled(z, labels):
                tf.debugging.assert_less(labels, tf.constant(count, tf.int64), message="label out of range")
                return {"images": tf.clip_by_value(decoder([z, labels], training=False), 0.0, 1.0)}

            return generate_labelled

        @tf.function(input_signature=[z_spec])
        def generate(z):
            return {"images": tf.clip_by_value(decoder(z, training=False), 0.0, 1.0)}

        return generate


def _rounded(report: dict[str, Any]) -> dict[str, Any]:
    return {k: round(float(v), 4) if isinstance(v, float) else v for k, v in report.items()}
