"""timeseries.seq2seq: the generator, the loss formula, free-running decoding, bad input, (slow) the book
(train/evaluate/predict/visualise/export: test_conformance.py)."""

from dataclasses import replace

import numpy as np
import pytest
import tensorflow as tf

from tfzoo.common.errors import DataError
from tfzoo.common.registry import get_task
from tfzoo.common.testing import run_cli
from tfzoo.common.train import Trainer
from tfzoo.timeseries.seq2seq import data as pipeline
from tfzoo.timeseries.seq2seq.config import Seq2SeqConfig
from tfzoo.timeseries.seq2seq.model import build_model, core, seq2seq_loss


def test_curves_are_seeded_and_split_in_halves():
    past, future = (t.numpy() for t in pipeline.curve(tf.constant([1, 2], tf.int64), 15))
    again = pipeline.curve(tf.constant([1, 2], tf.int64), 15)[0].numpy()
    assert past.shape == future.shape == (15, 1)
    np.testing.assert_array_equal(past, again)
    assert np.abs(np.concatenate([past, future])).max() <= 1.1 + 1.2
    config = Seq2SeqConfig.tiny()
    test = [x.numpy() for x, _ in pipeline.load_split(config, "test").dataset]
    val = [x.numpy() for x, _ in pipeline.load_split(config, "val").dataset]
    assert len(test) == config.test_size and not np.allclose(test[0], val[0])


def test_loss_is_sum_of_step_mses_plus_tf1_l2():
    model = build_model(units=4, layers=2, features=1, horizon=5)
    rng = np.random.default_rng(0)
    past, future = (tf.constant(rng.normal(size=(3, 5, 1)), tf.float32) for _ in range(2))
    loss, outputs = seq2seq_loss(model, past, future, l2=0.003, global_batch_size=3, training=False)
    weights = [w for w in model.trainable_weights if "output" not in w.path]
    assert len(weights) == len(model.trainable_weights) - 2
    expected = np.sum(np.mean((outputs.numpy() - future.numpy()) ** 2, axis=0)) + 0.003 * sum(
        0.5 * np.sum(w.numpy() ** 2) for w in weights)
    np.testing.assert_allclose(float(loss), expected, rtol=1e-5)


def test_free_running_feeds_back_its_own_outputs():
    model = build_model(units=4, layers=2, features=1, horizon=4)
    past = tf.constant(np.random.default_rng(1).normal(size=(2, 6, 1)), tf.float32)
    free = model(past).numpy()
    # Teacher forcing with the model's own outputs as the "truth" reproduces the free-running run.
    np.testing.assert_allclose(core(model).teacher(past, tf.constant(free)).numpy(), free, atol=1e-5)
    truth = tf.zeros_like(free)
    assert not np.allclose(core(model).teacher(past, truth).numpy()[:, 1:], free[:, 1:])


def test_bad_input_is_one_line(tmp_path):
    short = tmp_path / "short.csv"
    short.write_text("1\n2\n3\n")
    with pytest.raises(DataError, match="3 values; the model needs at least 15"):
        pipeline.read_past(str(short), 15)
    bad = tmp_path / "bad.csv"
    bad.write_text("x\n1\nabc\n")
    with pytest.raises(DataError, match=r"bad.csv:3: 'abc'"):
        pipeline.read_past(str(bad), 2)
    code, _, err = run_cli("train", "timeseries.seq2seq", "--tiny", "--run-dir", str(tmp_path / "r"),
                           "--set", "mode=oracle")
    assert code == 2 and "'mode': found 'oracle', expected one of free, teacher" in err
    assert len(err.strip().splitlines()) == 1


def _fit(tmp_path, config):
    task = get_task("timeseries.seq2seq")
    trainer = Trainer(task=task, config=config, run_dir=tmp_path, verbose=False)
    trainer.fit()
    return trainer.evaluate(task.data(config, "test")), trainer


@pytest.mark.slow
def test_book_run_reaches_the_books_test_loss(tmp_path):
    test, trainer = _fit(tmp_path, replace(Seq2SeqConfig.book(), train=replace(Seq2SeqConfig.book().train, seed=0)))
    assert float(test["loss"]) <= 1.5
    first_val = trainer.run.read_metrics(split="val")[0]
    assert first_val["step"] == 50


@pytest.mark.slow
def test_default_free_running_beats_last_value(tmp_path):
    test, _ = _fit(tmp_path, Seq2SeqConfig())
    assert float(test["mse_free"]) < float(test["mse_naive"])
