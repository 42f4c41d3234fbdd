"""The common v2 task contract: the owned step, stages, the Run, the spec grammar, DataSplit meta,
batching hooks, corpus metrics in evaluation, Literal choices, ranges and presets."""

import json
from dataclasses import dataclass, field, replace
from typing import Literal

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfzoo.common import batching
from tfzoo.common import config as cfg
from tfzoo.common.data import DataSplit, parse_spec, register_scheme, resolve
from tfzoo.common.errors import ConfigError, DataError
from tfzoo.common.optim import OptimConfig
from tfzoo.common.run import Run, load_models
from tfzoo.common.task import Stage, Task, TrainState
from tfzoo.common.testing import run_cli
from tfzoo.common.train import TrainConfig, Trainer

# -- the step --------------------------------------------------------------------------------------


def _state(models, optimizers, *, stage=None, clip=0.0, batch=4):
    config = type("C", (), {"optim": OptimConfig(clip_norm=clip)})()
    return TrainState(models=models, optimizers=optimizers, step=tf.Variable(0, dtype=tf.int64), config=config,
                      info={}, global_batch_size=batch, stage=stage)


def _two_layer():
    x = keras.Input((3,))
    h = keras.layers.Dense(4, name="body", kernel_regularizer=keras.regularizers.L2(0.5))(x)
    return keras.Model(x, keras.layers.Dense(1, name="head")(h), name="net")


def test_minimize_adds_regularisation_clips_and_uses_the_stage_selection_and_optimiser():
    model = _two_layer()
    x = tf.ones([4, 3])
    sgd, other = keras.optimizers.SGD(1.0), keras.optimizers.SGD(1.0)
    stage = Stage(name="head-only", steps=1, trainable=r"^model/head/", optimizer="other")
    state = _state({"model": model}, {"model": sgd, "other": other}, stage=stage, clip=1e-3)
    assert [v.path for v in state.trainable()] == ["head/kernel", "head/bias"]
    body_before = [v.numpy().copy() for v in model.get_layer("body").weights]
    head_before = [v.numpy().copy() for v in model.get_layer("head").weights]

    loss, logs = state.minimize(lambda: (state.average(tf.reduce_sum(model(x) ** 2, -1)), {"n": tf.constant(1.0)}))

    regularisation = 0.5 * float(tf.reduce_sum(tf.square(body_before[0])))
    plain = float(tf.reduce_mean(tf.reduce_sum(keras.Model(model.input, model.output)(x) ** 2, -1)))
    assert float(loss) == pytest.approx(plain + regularisation, rel=1e-4) or float(loss) > regularisation
    assert set(logs) == {"n"}
    for before, v in zip(body_before, model.get_layer("body").weights, strict=True):
        np.testing.assert_array_equal(before, v.numpy())  # not selected by the stage
    moved = np.sqrt(sum(np.sum((b - v.numpy()) ** 2) for b, v in zip(head_before, model.get_layer("head").weights,
                                                                     strict=True)))
    assert 0 < moved <= 1e-3 * (1 + 1e-4)  # SGD lr 1 moves by exactly the clipped gradient
    assert int(other.iterations.numpy()) == 1 and int(sgd.iterations.numpy()) == 0


def test_regularisation_loss_is_part_of_the_minimised_loss():
    model = _two_layer()
    state = _state({"model": model}, {"model": keras.optimizers.SGD(0.0)})
    loss, _ = state.minimize(lambda: tf.constant(0.0))
    expected = 0.5 * float(tf.reduce_sum(tf.square(model.get_layer("body").kernel)))
    assert float(loss) == pytest.approx(expected, rel=1e-5)


# -- the run and named models ---------------------------------------------------------------------


def test_run_record_models_metrics_and_load_models(tmp_path):
    code, out, err = run_cli("train", "toy.xor", "--preset", "tiny", "--run-dir", str(tmp_path / "run"))
    assert code == 0, err
    run = Run.open(tmp_path / "run")
    assert run.task.name == "toy.xor" and run.step == 10 and run.task_name() == "toy.xor"
    assert {r["split"] for r in run.read_metrics()} == {"train", "val"}
    assert all(r["split"] == "val" for r in run.read_metrics(split="val"))
    fresh = run.task.build_models(run.config, run.info)
    load_models(fresh, tmp_path / "run")
    for a, b in zip(fresh["model"].get_weights(), run.models["model"].get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ConfigError, match="no checkpoint"):
        load_models(fresh, tmp_path)
    # A corrupt record is one line, not a JSONDecodeError.
    (tmp_path / "run/config.json").write_text("{not json")
    code, _, err = run_cli("evaluate", str(tmp_path / "run"))
    assert code == 2 and "config.json: not valid JSON" in err and len(err.strip().splitlines()) == 1


def test_a_bad_data_spec_leaves_the_run_record_as_it_was(tmp_path):
    run_dir = str(tmp_path / "run")
    assert run_cli("train", "toy.linreg", "--tiny", "--run-dir", run_dir)[0] == 0
    before = (tmp_path / "run/config.json").read_text()
    code, _, err = run_cli("train", "toy.linreg", "--tiny", "--run-dir", run_dir, "--force",
                           "--set", "samples=3", "--set", "train.batch_size=10")
    assert code == 3 and "fewer than one batch" in err
    assert (tmp_path / "run/config.json").read_text() == before


# -- spec grammar and DataSplit ---------------------------------------------------------------------


def test_parse_spec_splits_scheme_arg_and_options():
    spec = parse_spec("csv:/data/a b.csv?encoding=gbk&delimiter=;")
    assert (spec.scheme, spec.arg, spec.options) == ("csv", "/data/a b.csv", {"encoding": "gbk", "delimiter": ";"})
    assert parse_spec("mnist-5k") == parse_spec(" mnist-5k ")
    assert parse_spec("espeak:x?voice=en-us+f3&text=a%26b").options == {"voice": "en-us+f3", "text": "a&b"}
    assert str(parse_spec("folder:x?on_error=skip")) == "folder:x?on_error=skip"
    with pytest.raises(DataError, match="repeated"):
        parse_spec("csv:f?header=0&header=1")


def test_reader_options_arrive_as_keywords_and_unknown_ones_are_refused():
    seen = {}

    def reader(arg, split, *, seed=0, channels=None, on_error="raise", rate="16000"):
        seen.update(arg=arg, rate=rate, on_error=on_error)
        return DataSplit(tf.data.Dataset.range(3), 3, {"sample_rate": int(rate), "vocabulary": ["a", "b"]})

    register_scheme("contract-audio", reader)
    split = resolve("contract-audio:corpus?rate=8000&on_error=skip", "train")
    assert seen == {"arg": "corpus", "rate": "8000", "on_error": "skip"}
    assert split.meta["sample_rate"] == 8000 and split.class_names == () and split.image_shape is None
    with pytest.raises(DataError, match="unknown option speed.*takes rate"):
        resolve("contract-audio:corpus?speed=2", "train")
    twice = split.replace(size=6, sample_rate=16000)
    assert twice.size == 6 and twice.meta["vocabulary"] == ["a", "b"] and split.meta["sample_rate"] == 8000


# -- batching and corpus metrics -------------------------------------------------------------------


@dataclass(frozen=True)
class SeqConfig:
    data: str = "generated"
    train: TrainConfig = field(default_factory=lambda: TrainConfig(steps=6, batch_size=4, eval_every=3, log_every=1,
                                                                   ckpt_every=3))
    optim: OptimConfig = field(default_factory=OptimConfig)


class Sequences(Task):
    """Variable-length integer sequences; predicts each sequence's length parity."""

    name = "contract.sequences"
    config_class = SeqConfig
    monitor = "exact"
    monitor_mode = "max"

    def data(self, config, split):
        rng = np.random.default_rng({"train": 0, "val": 1, "test": 2}[split])
        lengths = rng.integers(1, 12, size=21)
        rows = [rng.integers(1, 9, size=n).astype(np.int64) for n in lengths]
        ds = tf.data.Dataset.from_generator(lambda: ((r, np.int64(len(r) % 2)) for r in rows), output_signature=(
            tf.TensorSpec([None], tf.int64), tf.TensorSpec([], tf.int64)))
        return DataSplit(ds, len(rows), {"vocabulary": list(range(9))})

    def batch(self, config, info, dataset, split):
        return batching.bucketed(dataset, batch_size=config.train.batch_size, split=split,
                                 length=lambda x, y: tf.shape(x)[0], boundaries=(4, 8))

    def build_models(self, config, info):
        x = keras.Input((None,), dtype="int64")
        h = keras.layers.Embedding(10, 4, mask_zero=True)(x)
        return {"model": keras.Model(x, keras.layers.Dense(2)(keras.layers.GlobalAveragePooling1D()(h)))}

    def eval_step(self, state, batch, metrics):
        super().eval_step(state, batch, metrics)
        x, y = batch
        return {"predicted": tf.argmax(state.models["model"](x), -1), "truth": y}

    def aggregate(self, config, info, outputs):
        predicted = np.concatenate([o["predicted"] for o in outputs])
        truth = np.concatenate([o["truth"] for o in outputs])
        return {"exact": float(np.mean(predicted == truth)), "seen": float(len(truth))}


def test_bucketed_batches_pad_within_buckets_and_evaluation_sees_every_example(tmp_path):
    task = Sequences()
    config = task.default_config()
    ds = task.batch(config, {}, task.data(config, "val").dataset, "eval")
    batches = list(ds.as_numpy_iterator())
    assert sum(len(y) for _, y in batches) == 21  # no dropped remainder
    for x, _ in batches:
        lengths = (x != 0).sum(1)
        assert x.shape[1] == lengths.max()  # padded to the longest in its batch only
    result = Trainer(task=task, config=config, run_dir=tmp_path / "run", verbose=False).fit()
    assert result["val"]["seen"] == 21.0 and 0.0 <= result["val"]["exact"] <= 1.0
    assert [r["exact"] for r in Run(tmp_path / "run").read_metrics(split="val")]  # logged, and the monitor decides best/
    assert (tmp_path / "run/checkpoints/best").is_dir()


def test_bucketed_training_resumes_at_the_same_batches(tmp_path):
    task = Sequences()
    config = task.default_config()
    Trainer(task=task, config=config, run_dir=tmp_path / "whole", verbose=False).fit()
    Trainer(task=task, config=cfg.override(config, {"train.steps": 3}), run_dir=tmp_path / "half",
            verbose=False).fit()
    Trainer(task=task, config=config, run_dir=tmp_path / "half", verbose=False).fit()
    opened = [Trainer(task=task, config=config, run_dir=tmp_path / d, verbose=False) for d in ("whole", "half")]
    for trainer in opened:
        trainer.restore()
    whole, half = (t.models["model"].get_weights() for t in opened)
    for a, b in zip(whole, half, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-6)


def test_padded_batches_pad_to_the_longest():
    ds = tf.data.Dataset.from_generator(lambda: (np.arange(n) for n in (1, 3, 2)),
                                        output_signature=tf.TensorSpec([None], tf.int64))
    (batch,) = list(batching.padded(ds, batch_size=3, split="eval").as_numpy_iterator())
    assert batch.tolist() == [[0, 0, 0], [0, 1, 2], [0, 1, 0]]
    assert list(batching.padded(ds, batch_size=2, split="train").as_numpy_iterator())[0].shape == (2, 3)
    with pytest.raises(ConfigError):
        batching.bucketed(ds, batch_size=2, split="train", length=tf.size, boundaries=(5, 3))


# -- config choices, ranges, presets -------------------------------------------------------------------


@dataclass(frozen=True)
class ChoiceConfig:
    PRESETS = ("tiny", "book", "wide")
    RANGES = {"dropout": (0.0, 1.0)}
    model: Literal["cnn", "mlp"] = "cnn"
    stages: tuple[Literal["heads", "all"], ...] = ("heads",)
    dropout: float | None = None
    train: TrainConfig = field(default_factory=TrainConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)

    @classmethod
    def tiny(cls):
        return replace(cls(), train=TrainConfig(steps=2))

    @classmethod
    def wide(cls):
        return replace(cls(), model="mlp")


def test_literal_choices_and_ranges_are_checked_when_the_config_is_built():
    config = ChoiceConfig()
    assert cfg.override(config, {"model": "MLP"}).model == "mlp"
    with pytest.raises(ConfigError, match="'model': found 'rnn', expected one of cnn, mlp"):
        cfg.override(config, {"model": "rnn"})
    with pytest.raises(ConfigError, match="optimizer.*expected one of sgd"):
        cfg.override(config, {"optim.optimizer": "adamax"})
    for key, value in (("train.batch_size", 0), ("train.batch_size", -4), ("train.keep", 0), ("train.steps", -5),
                       ("optim.lr", -1)):
        with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
            cfg.override(config, {key: value})
    assert cfg.choices(ChoiceConfig)["model"] == ("cnn", "mlp")
    assert cfg.override(config, {"stages": "heads,all"}).stages == ("heads", "all")
    with pytest.raises(ConfigError, match="'stages': found 'head', expected one of heads, all"):
        cfg.override(config, {"stages": "head"})
    assert cfg.choices(ChoiceConfig)["stages"] == ("heads", "all")
    assert cfg.override(config, {"dropout": "none"}).dropout is None  # None passes a bounded field
    with pytest.raises(ConfigError, match="'dropout': found 1.5"):
        cfg.override(config, {"dropout": 1.5})
    assert "sgd" in cfg.choices(ChoiceConfig)["optim.optimizer"]


def test_presets_come_from_the_config_class_and_the_cli():
    class Chosen(Task):
        name = "contract.choice"
        config_class = ChoiceConfig

    task = Chosen()
    assert list(task.presets()) == ["tiny", "wide"]  # book is listed but absent
    assert task.default_config(preset="wide").model == "mlp"
    assert task.default_config(tiny=True).train.steps == 2
    with pytest.raises(ConfigError, match="unknown preset 'huge'; presets: tiny, wide"):
        task.default_config(preset="huge")
    code, out, _ = run_cli("info", "toy.linreg")
    assert code == 0 and "presets (--preset NAME): tiny" in out and '# one of "sgd", "adam"' in out


def test_export_named_models_keeps_their_names(tmp_path):
    assert run_cli("train", "toy.xor", "--tiny", "--run-dir", str(tmp_path / "run"))[0] == 0
    code, out, err = run_cli("export", str(tmp_path / "run"), "--format", "keras", "--model", "model")
    assert code == 0 and out.strip().endswith("model.keras"), err
    code, _, err = run_cli("export", str(tmp_path / "run"), "--model", "generator")
    assert code == 2 and "no model generator; this run has model" in err
    code, out, err = run_cli("export", str(tmp_path / "run"), "--model", "model", "--format", "savedmodel")
    assert code == 0, err
    serve = tf.saved_model.load(out.strip()).signatures["serving_default"]
    (output,) = serve(tf.constant([[0.0, 1.0]])).values()
    expected = Run.open(tmp_path / "run").models["model"](np.array([[0.0, 1.0]], "float32"))
    np.testing.assert_allclose(output.numpy(), expected.numpy(), atol=1e-6)
    manifest = json.loads((tmp_path / "run/export/manifest.json").read_text())
    assert "model" in manifest["models"]
    assert list(manifest["serving"]["serving_default"]["inputs"].values()) == [{"shape": [None, 2], "dtype": "float32"}]
    code, out, err = run_cli("export", str(tmp_path / "run"), "--format", "tflite")
    assert code == 0 and out.strip().endswith("model.tflite"), err
    manifest = json.loads((tmp_path / "run/export/manifest.json").read_text())
    assert manifest["tflite"] == {"file": "model.tflite", "needs_flex_delegate": False}


def test_tflite_that_needs_tensorflow_ops_says_so(tmp_path, capsys):
    from tfzoo.common.export import _tflite
    from tfzoo.common.layers import MaxPoolWithArgmax

    x = keras.Input((4, 4, 1))
    pooled, argmax = MaxPoolWithArgmax()(x)  # the argmax has no TFLite builtin
    path, facts = _tflite(keras.Model(x, [pooled, argmax]), tmp_path / "m.tflite")
    assert path.stat().st_size > 0 and facts["needs_flex_delegate"] is True
    assert "Flex delegate" in capsys.readouterr().err
