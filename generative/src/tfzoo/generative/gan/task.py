"""generative.gan: DCGAN, InfoGAN, AC-GAN, AEGAN, WGAN-GP, LSGAN and GAN-CLS (实例88-92) as one task.

The variants are presets of orthogonal options (config.VARIANTS), each also a `--preset` with the
book's hyperparameters. The models are {"generator", "discriminator", "encoder" (aegan)}; `tfzoo export`
writes the generator (`export_models`) with a signature over noise (and labels, codes), and
`--model discriminator` or `--model encoder` exports the others under their own names.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from tfzoo.common import gan_losses
from tfzoo.common.errors import DataError, UserError
from tfzoo.common.task import Stage, Task, TrainState
from tfzoo.generative.gan import data as pipeline
from tfzoo.generative.gan import losses, pictures
from tfzoo.generative.gan.config import GANConfig, Options, options
from tfzoo.generative.gan.model import build_discriminator, build_encoder, build_generator, latent, latent_dim

ZERO = 0.0


class GAN(Task):
    name = "generative.gan"
    config_class = GANConfig
    monitor = "loss"
    export_models = ("generator",)

    # ----- data -------------------------------------------------------------------
    def data(self, config: GANConfig, split: str):
        options(config)
        return pipeline.load_split(config, split)

    def data_info(self, config: GANConfig, train) -> dict[str, Any]:
        opts = options(config)
        shape = pipeline.image_shape(config, opts.arch, train)
        num_classes = len(train.class_names)
        if opts.labelled and num_classes < 2:
            raise DataError(f"{config.data}: conditioning={opts.conditioning} needs at least 2 classes, "
                            f"found {num_classes}")
        return {
            "class_names": list(train.class_names),
            "num_classes": num_classes,
            "image_shape": list(shape),
            "latent_dim": latent_dim(config, opts, num_classes),
        }

    def eval_map(self, config: GANConfig, info: dict[str, Any], example):
        image, label = example
        return pipeline.to_float(image, tuple(info["image_shape"][:2])), tf.cast(label, tf.int32)

    # ----- models -------------------------------------------------------------------
    def build_models(self, config: GANConfig, info: dict[str, Any]) -> dict[str, keras.Model]:
        opts = options(config)
        shape, k = tuple(info["image_shape"]), int(info["num_classes"])
        models = {"generator": build_generator(config, opts, shape, k),
                  "discriminator": build_discriminator(config, opts, shape, k)}
        if opts.encoder == "aegan":
            models["encoder"] = build_encoder(config, shape, int(info["latent_dim"]))
        return models

    def build_optimizers(self, config: GANConfig, models, *, total_steps: int):
        """Separate Adam optimisers for G, D and E, each with its own learning rate."""
        lrs = {"generator": config.lr_g, "discriminator": config.lr_d, "encoder": config.lr_e}
        return {name: keras.optimizers.Adam(lrs[name], beta_1=config.beta1, beta_2=config.beta2)
                for name in models}

    def stages(self, config: GANConfig) -> list[Stage]:
        stages = [Stage(name="gan", steps=config.train.steps)]
        if options(config).encoder == "aegan":
            # 89: G and D are frozen while E learns to invert G.
            stages.append(Stage(name="encoder", steps=config.encoder_steps))
        return stages

    # ----- sampling inside the compiled step ------------------------------------------------------
    def _draw(self, state: TrainState, opts: Options, labels: tf.Tensor, seed: tf.Tensor):
        """(latent vectors, labels or categorical codes, continuous codes) for a batch of fakes."""
        config, k = state.config, int(state.info["num_classes"])
        n = tf.shape(labels)[0]
        seeds = tf.random.experimental.stateless_split(seed, 3)
        if opts.z_dist == "uniform":
            z = tf.random.stateless_uniform([n, opts.z_dim], seeds[0], -1.0, 1.0)
        else:
            z = tf.random.stateless_normal([n, opts.z_dim], seeds[0])
        onehot = codes = None
        if opts.conditioning == "infogan":  # unsupervised: the categorical code is drawn, not read
            labels = tf.random.stateless_uniform([n], seeds[1], 0, k, dtype=tf.int32)
        if opts.labelled:
            onehot = tf.one_hot(labels, k)
        if opts.has_codes:
            codes = tf.random.stateless_uniform([n, config.n_cont], seeds[2], -1.0, 1.0)
        return latent(z, onehot, codes), labels, codes

    def _disc(self, model, images, labels, k: int, opts: Options, *, training: bool):
        if opts.conditioning == "matching":
            return model({"image": images, "label": tf.one_hot(labels, k)}, training=training)
        return model(images, training=training)

    # ----- steps -------------------------------------------------------------------------------
    def train_step(self, state: TrainState, batch) -> dict[str, tf.Tensor]:
        """n_critic discriminator updates, then one generator update (or one encoder update in AEGAN's stage 2)."""
        opts = options(state.config)
        real, labels = batch
        if state.stage is not None and state.stage.name == "encoder":
            return self._encoder_step(state, opts, real, labels)
        return self._gan_step(state, opts, real, labels)

    def _seed(self, state: TrainState, k: int) -> tf.Tensor:
        # Stateless draws from (step, use, replica): resumed runs see the same noise, replicas differ.
        ctx = tf.distribute.get_replica_context()
        replica = tf.cast(ctx.replica_id_in_sync_group, tf.int64) if ctx is not None else tf.constant(0, tf.int64)
        return tf.stack([tf.cast(state.step, tf.int64) * 16 + k, int(state.config.train.seed) * 1024 + replica])

    def _gan_step(self, state, opts: Options, real, labels) -> dict[str, tf.Tensor]:
        # The same real batch meets fresh noise in each of the n_critic updates of D.
        for i in range(opts.n_critic):
            seed = self._seed(state, i)
            drawn = self._draw(state, opts, labels, seed)
            loss_d, d_logs = state.minimize(functools.partial(self._d_loss, state, opts, real, labels, drawn, seed),
                                            model="discriminator")
        drawn = self._draw(state, opts, labels, self._seed(state, 15))
        loss_g, g_logs = state.minimize(functools.partial(self._g_loss, state, opts, drawn), model="generator")
        return {"loss": loss_d + loss_g, "loss_d": loss_d, "loss_g": loss_g, "loss_e": tf.constant(ZERO),
                **d_logs, **g_logs}

    def _d_loss(self, state, opts: Options, real, labels, drawn, seed):
        """D's loss on the real batch and one batch of fakes (G runs in training mode, as it always has)."""
        config, k = state.config, int(state.info["num_classes"])
        generator, disc = state.models["generator"], state.models["discriminator"]
        vectors, fake_labels, codes = drawn
        kw = {"ls_sigmoid": config.ls_sigmoid}
        fake = generator(vectors, training=True)
        on_real = self._disc(disc, real, labels, k, opts, training=True)
        on_fake = self._disc(disc, fake, fake_labels, k, opts, training=True)
        per = gan_losses.d_real(opts.loss, on_real["score"], **kw)
        if opts.conditioning == "matching":
            # GAN-CLS (S0 L22645-L22671): real images with wrong labels count as fake too.
            wrong = losses.wrong_labels(labels, k, tf.random.experimental.stateless_fold_in(seed, 7))
            on_wrong = self._disc(disc, real, wrong, k, opts, training=True)
            per += 0.5 * (gan_losses.d_fake(opts.loss, on_fake["score"], **kw)
                          + gan_losses.d_fake(opts.loss, on_wrong["score"], **kw))
        else:
            per += gan_losses.d_fake(opts.loss, on_fake["score"], **kw)
        if opts.needs_labels and opts.has_class_head:  # AC: the real-class term
            per += config.info_weight * _class_loss(labels, on_real["class_logits"])
        per += self._info_terms(config, opts, on_fake, fake_labels, codes)
        if opts.loss == "wgan-gp":
            eps = tf.random.stateless_uniform([tf.shape(real)[0]], tf.random.experimental.stateless_fold_in(seed, 11))
            critic = lambda x: self._disc(disc, x, labels, k, opts, training=True)["score"]  # noqa: E731
            per += gan_losses.gradient_penalty(critic, real, fake, eps, weight=config.gp_weight, mode=config.gp)
        return state.average(per), {"d_real": state.average(tf.reshape(on_real["score"], [-1]))}

    def _g_loss(self, state, opts: Options, drawn):
        config, k = state.config, int(state.info["num_classes"])
        generator, disc = state.models["generator"], state.models["discriminator"]
        vectors, fake_labels, codes = drawn
        on_fake = self._disc(disc, generator(vectors, training=True), fake_labels, k, opts, training=True)
        per = gan_losses.g_loss(opts.loss, on_fake["score"], ls_sigmoid=config.ls_sigmoid)
        per += self._info_terms(config, opts, on_fake, fake_labels, codes)
        return state.average(per), {"d_fake": state.average(tf.reshape(on_fake["score"], [-1]))}

    @staticmethod
    def _info_terms(config, opts: Options, on_fake, fake_labels, codes) -> tf.Tensor:
        """Class / categorical-code cross-entropy and the continuous codes' squared error on fakes.

        Both networks minimise them: for InfoGAN this is the mutual-information bound, for AC-GAN the
        auxiliary classifier; the continuous term is the log-likelihood of a unit Gaussian up to constants.
        """
        per = tf.zeros([tf.shape(on_fake["score"])[0]])
        if opts.has_class_head:
            per += config.info_weight * _class_loss(fake_labels, on_fake["class_logits"])
        if opts.has_codes:
            per += config.cont_weight * tf.reduce_sum(tf.square(on_fake["codes"] - codes), axis=-1)
        return per

    def _encoder_step(self, state, opts: Options, real, labels) -> dict[str, tf.Tensor]:
        """89: E learns ‖G(z) − G(E(G(z)))‖² with G frozen."""
        generator, encoder = state.models["generator"], state.models["encoder"]
        vectors, _, _ = self._draw(state, opts, labels, self._seed(state, 0))
        images = generator(vectors, training=False)

        def loss_fn():
            recon = generator(encoder(images, training=True), training=False)
            return state.average(tf.reduce_mean(tf.square(recon - images), axis=[1, 2, 3]))

        loss_e, _ = state.minimize(loss_fn, model="encoder")
        zero = tf.constant(ZERO)
        return {"loss": loss_e, "loss_d": zero, "loss_g": zero, "loss_e": loss_e, "d_real": zero, "d_fake": zero}

    # ----- pictures during training ------------------------------------------------------------------
    def during_training(self, run, step: int) -> list[str]:
        """samples_<step>.png at evaluations on multiples of `sample_every`; every figure at the end of training."""
        config = run.config
        if step >= sum(stage.steps for stage in self.stages(config)):
            return self.visualise(run, config)
        if config.sample_every <= 0 or step % config.sample_every:
            return []
        path = run.plots / f"samples_{step}.png"
        return [str(pictures.sample_grid(run.models["generator"], config, options(config), int(run.info["num_classes"]),
                                         path)[0])]

    # ----- evaluation --------------------------------------------------------------------------------
    def metrics(self, config: GANConfig, info: dict[str, Any]) -> dict[str, keras.metrics.Metric]:
        names = ["loss", "loss_d", "loss_g", "d_real", "d_fake"]
        if options(config).encoder == "aegan":
            names.append("recon_mse")
        return {n: keras.metrics.Mean(name=n) for n in names}

    def eval_step(self, state: TrainState, batch, metrics) -> None:
        """Diagnostic losses on held-out images (fresh noise), and AEGAN's real-image reconstruction MSE."""
        opts, config = options(state.config), state.config
        real, labels = batch
        k = int(state.info["num_classes"])
        generator, disc = state.models["generator"], state.models["discriminator"]
        vectors, fake_labels, _ = self._draw(state, opts, labels, self._seed(state, 13))
        on_real = self._disc(disc, real, labels, k, opts, training=False)
        on_fake = self._disc(disc, generator(vectors, training=False), fake_labels, k, opts, training=False)
        kw = {"ls_sigmoid": config.ls_sigmoid}
        loss_d = gan_losses.d_loss(opts.loss, on_real["score"], on_fake["score"], **kw)
        loss_g = gan_losses.g_loss(opts.loss, on_fake["score"], **kw)
        for name, value in (("loss", loss_d + loss_g), ("loss_d", loss_d), ("loss_g", loss_g),
                            ("d_real", on_real["score"]), ("d_fake", on_fake["score"])):
            metrics[name].update_state(tf.reshape(value, [-1]))
        if "recon_mse" in metrics:
            recon = generator(state.models["encoder"](real, training=False), training=False)
            metrics["recon_mse"].update_state(tf.reduce_mean(tf.square(recon - real), axis=[1, 2, 3]))

    def after_evaluate(self, run, split: str, results: dict[str, Any]) -> dict[str, Any]:
        """FD-DC with its floor and ceilings; class faithfulness or code accuracy; AEGAN reconstruction MSE."""
        from tfzoo.generative import evaluation

        config, opts = run.config, options(run.config)
        k, generator = int(run.info["num_classes"]), run.models["generator"]
        clf = evaluation.domain_classifier(config.data, seed=config.train.seed, epochs=config.eval_classifier_epochs,
                                           root=config.eval_root or None)
        rng = np.random.default_rng(config.train.seed + 99)
        n = config.eval_samples
        labels = np.arange(n) % k
        codes = rng.uniform(-1, 1, (n, config.n_cont)).astype(np.float32) if opts.has_codes else None
        images = pictures.generate(generator, pictures.latents(config, opts, k, pictures.noise(opts, n, rng),
                                                               labels, codes))
        images = _like_classifier(images, clf)
        report = evaluation.fd_report(clf, images, n=n, seed=config.train.seed)
        results.update({"fd_dc": report["fd_dc"], "fd_floor": report["floor"], "fd_noise_ceiling": report["noise"],
                        "fd_mean_image_ceiling": report["mean_image"],
                        "classifier_accuracy": report["classifier_accuracy"], "fd_n": report["n"]})
        predicted = clf.predict(images)
        if opts.needs_labels:
            results["class_faithfulness"] = evaluation.class_faithfulness(clf, images, labels)
        if opts.conditioning == "infogan":
            real, real_labels = _split_arrays(self, run, split)
            logits = np.concatenate([np.asarray(run.models["discriminator"](real[i: i + 500], training=False)
                                                ["class_logits"]) for i in range(0, len(real), 500)])
            # Real digits by the recogniser's code, and generated codes by the classifier's class.
            results["code_accuracy"] = evaluation.code_accuracy(np.argmax(logits, -1), real_labels)
            results["code_accuracy_generated"] = evaluation.code_accuracy(labels, predicted)
        if "encoder" in run.models:
            real, _ = _split_arrays(self, run, split)
            pictures.pairs(generator, run.models["encoder"], real, run.plots / "aegan_pairs.png")
            recon = pictures.generate(generator, np.asarray(run.models["encoder"](real, training=False)))
            results["recon_mse"] = float(np.mean((recon - real) ** 2))
        return results

    # ----- command-line hooks --------------------------------------------------------------------------
    def visualise(self, run, config: GANConfig) -> list[str]:
        real = _split_arrays(self, run, "val", limit=18)[0] if "encoder" in run.models else None
        return pictures.write_all(run, options(config), step=run.step, real=real)

    def example_inputs(self, directory) -> list[str]:
        """`sample`: a grid of `n` samples (an AEGAN run also reconstructs image files)."""
        return ["sample"]

    def predict(self, run, inputs: list[str]) -> list[dict[str, Any]]:
        """`sample` or OUT.png: a grid of `n` samples (of class `label`); an image file: AEGAN's G(E(x))."""
        from tfzoo.common import plots

        config, opts = run.config, options(run.config)
        k, generator = int(run.info["num_classes"]), run.models["generator"]
        if config.label >= k or config.label < -1 or (config.label >= 0 and not opts.labelled):
            valid = f"0..{k - 1}, or -1 for every class" if opts.labelled else "-1 (this variant is unconditional)"
            raise UserError(f"label={config.label} is out of range: this run takes {valid}")
        results = []
        for item in inputs:
            if Path(item).is_file():
                if "encoder" not in run.models:
                    raise UserError(f"{item}: reconstructing images needs variant=aegan (encoder=aegan)")
                x = pipeline.read_image(item, shape=tuple(run.info["image_shape"]))[None]
                recon = pictures.generate(generator, np.asarray(run.models["encoder"](x, training=False)))
                out = run.plots / f"reconstruction_{Path(item).stem}.png"
                plots.panel([x[0], recon[0]], ["input", "G(E(x))"], out)
                results.append({"input": item, "output": str(out), "mse": float(np.mean((recon - x) ** 2))})
                continue
            if item not in ("sample", "samples") and not item.endswith(".png"):
                raise UserError(f"{item}: not an image file; give `sample` or OUT.png for a grid of samples")
            name = f"predict_{'all' if config.label < 0 else config.label}_{config.n}.png"
            out = Path(item) if item.endswith(".png") else run.plots / name
            rng = np.random.default_rng(pictures.SEED + 5)
            labels = np.full(config.n, config.label) if config.label >= 0 else None
            codes = rng.uniform(-1, 1, (config.n, config.n_cont)).astype(np.float32) if opts.has_codes else None
            images = pictures.generate(generator, pictures.latents(config, opts, k, pictures.noise(opts, config.n, rng),
                                                                   labels, codes))
            plots.image_grid(images, out)
            results.append({"input": item, "output": str(out), "n": config.n,
                            "label": None if config.label < 0 else run.info["class_names"][config.label]})
        return results

    def serving_function(self, config: GANConfig, models: dict[str, keras.Model], info: dict[str, Any]):
        """noise [N, z] (and labels [N] int32, codes [N, n_cont] where the variant has them) -> images [0, 1]."""
        opts, generator = options(config), models["generator"]
        k = int(info["num_classes"])
        specs = [tf.TensorSpec([None, opts.z_dim], tf.float32, name="noise")]
        if opts.labelled:
            specs.append(tf.TensorSpec([None], tf.int32, name="labels"))
        if opts.has_codes:
            specs.append(tf.TensorSpec([None, config.n_cont], tf.float32, name="codes"))

        def generate(noise, labels=None, codes=None):
            onehot = None
            if labels is not None:
                checks = [tf.debugging.assert_non_negative(labels, message="labels must be >= 0"),
                          tf.debugging.assert_less(labels, k, message=f"labels must be < {k}")]
                with tf.control_dependencies(checks):
                    onehot = tf.one_hot(labels, k)
            return {"images": generator(latent(noise, onehot, codes), training=False)}

        if len(specs) == 1:
            return tf.function(lambda noise: generate(noise), input_signature=specs)
        if len(specs) == 2:
            return tf.function(lambda noise, labels: generate(noise, labels), input_signature=specs)
        return tf.function(lambda noise, labels, codes: generate(noise, labels, codes), input_signature=specs)


def _class_loss(labels: tf.Tensor, logits: tf.Tensor) -> tf.Tensor:
    return keras.losses.sparse_categorical_crossentropy(labels, logits, from_logits=True)


def _split_arrays(task: GAN, run, split: str, *, limit: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A split's images (float, the networks' size) and labels as arrays."""
    ds = task.data(run.config, split).dataset.map(lambda *ex: task.eval_map(run.config, run.info, ex))
    if limit:
        ds = ds.take(limit)
    images, labels = [], []
    for x, y in ds.batch(500):
        images.append(x.numpy())
        labels.append(y.numpy())
    return np.concatenate(images), np.concatenate(labels)


def _like_classifier(images: np.ndarray, clf) -> np.ndarray:
    """Resize generated images to the domain classifier's input when the GAN trained at another size."""
    h, w, c = clf.model.input_shape[1:]
    if images.shape[1:3] != (h, w):
        images = tf.clip_by_value(tf.image.resize(images, (h, w), antialias=True), 0.0, 1.0).numpy()
    if images.shape[-1] != c:
        images = np.repeat(images.mean(-1, keepdims=True), c, axis=-1) if c == 3 else images.mean(-1, keepdims=True)
    return images.astype(np.float32)
