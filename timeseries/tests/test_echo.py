"""timeseries.echo: stream order, state carrying, bad input, and (slow) the book's learning result
(train/evaluate/predict/export/resume and the task's CLI outputs: test_conformance.py)."""

from dataclasses import replace

import numpy as np
import pytest
import tensorflow as tf

from tfzoo.common.carry import carried_state
from tfzoo.common.errors import DataError
from tfzoo.common.registry import get_task
from tfzoo.common.testing import run_cli
from tfzoo.common.train import Trainer
from tfzoo.timeseries.echo import data as pipeline
from tfzoo.timeseries.echo.config import EchoConfig
from tfzoo.timeseries.echo.model import build_model
from tfzoo.timeseries.echo.task import read_bits


def test_batches_continue_each_stream_and_epochs_differ():
    config = EchoConfig.tiny()
    bits, echo, position = (t.numpy() for t in pipeline.epoch_examples(config, seed=3, epoch=0, length=300))
    streams, chunk = config.train.batch_size, config.chunk
    assert bits.shape == (4 * streams, chunk, 1) and list(position[:streams * 2]) == [0] * streams + [1] * streams
    # Stream j is examples j, j + streams, j + 2 streams, ...: one contiguous series per stream.
    stream = np.concatenate([bits[k * streams + 2, :, 0] for k in range(4)])
    target = np.concatenate([echo[k * streams + 2] for k in range(4)])
    np.testing.assert_array_equal(target, np.concatenate([[0, 0, 0], stream[:-3]]))
    again = pipeline.epoch_examples(config, seed=3, epoch=0, length=300)[0].numpy()
    other = pipeline.epoch_examples(config, seed=3, epoch=1, length=300)[0].numpy()
    np.testing.assert_array_equal(bits, again)
    assert not np.array_equal(bits, other)
    assert 0.4 < bits.mean() < 0.6


def test_state_carries_resets_at_epoch_start_and_survives_evaluation():
    config = EchoConfig.tiny()
    model = build_model(config)
    carry = carried_state(model)
    x = tf.ones((config.train.batch_size, config.chunk, 1))
    carry.before_train(tf.constant(0, tf.int64))
    model(x)
    trained = [v.numpy().copy() for v in carry.states]
    assert np.abs(trained[0]).sum() > 0
    carry.before_train(tf.constant(1, tf.int64))  # mid-epoch: carried
    np.testing.assert_allclose(carry.states[0].numpy(), trained[0])
    carry.before_eval(tf.constant(0, tf.int64))  # evaluation starts from zero ...
    assert np.abs(carry.states[0].numpy()).sum() == 0
    model(-x)
    carry.before_eval(tf.constant(1, tf.int64))
    carry.before_train(tf.constant(2, tf.int64))  # ... and training gets its own state back
    np.testing.assert_allclose(carry.states[0].numpy(), trained[0])
    carry.before_train(tf.constant(0, tf.int64))  # a new epoch
    assert np.abs(carry.states[0].numpy()).sum() == 0


def test_bad_input_is_one_line(tmp_path):
    bad = tmp_path / "bits.txt"
    bad.write_text("0101\n01x1\n")
    with pytest.raises(DataError, match=r"bits.txt:2:3: 'x'"):
        read_bits(str(bad))
    code, _, err = run_cli("train", "timeseries.echo", "--tiny", "--run-dir", str(tmp_path / "r"),
                           "--set", "chunk=3", "--set", "echo_step=3")
    assert code == 2 and err.startswith("error: chunk=3 and echo_step=3") and len(err.strip().splitlines()) == 1


def _train(tmp_path, **changes):
    config = replace(EchoConfig(), **changes)
    trainer = Trainer(task=get_task("timeseries.echo"), config=config, run_dir=tmp_path, verbose=False)
    result = trainer.fit()
    return result, trainer


@pytest.mark.slow
def test_five_epochs_learn_the_echo_and_the_ablation_cannot_know_the_first_steps(tmp_path):
    result, trainer = _train(tmp_path / "carry")
    records = trainer.run.read_metrics(split="train")
    assert result["step"] == 3330
    assert records[-1]["loss"] <= 0.15
    assert result["val"]["accuracy_rest"] >= 0.97
    result, _ = _train(tmp_path / "stateless", carry_state=False)
    assert 0.4 <= result["val"]["accuracy_first"] <= 0.6
    assert result["val"]["accuracy_rest"] >= 0.97
