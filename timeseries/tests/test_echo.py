"""timeseries.echo: smoke, stream order, state carrying, bad input, and (slow) the book's learning result."""

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


def stateful_smoke(name, run_dir, *, predict_inputs):
    """smoke_test_task for stateful models: its `.keras` check compares a restored model, whose checkpoint
    holds the carried RNN state, with a reloaded one that starts from zero; here both start from zero."""
    import json

    import keras

    from tfzoo.common.cli import open_run
    from tfzoo.common.export import export

    code, out, err = run_cli("train", name, "--tiny", "--run-dir", str(run_dir), "--set", "train.steps=2")
    assert code == 0, err
    code, out, err = run_cli("evaluate", str(run_dir), "--split", "val")
    assert code == 0, err
    evaluation = json.loads(out.strip().splitlines()[-1])
    assert evaluation["step"] == 2 and np.isfinite(evaluation["loss"])
    code, out, err = run_cli("predict", str(run_dir), *predict_inputs)
    assert code == 0, err
    predictions = [json.loads(line) for line in out.strip().splitlines()]
    assert len(predictions) == len(predict_inputs)
    trainer = open_run(str(run_dir))
    model = trainer.models["model"]
    reloaded = keras.saving.load_model(export(trainer, fmt="keras"))
    carried_state(model).reset()
    x = next(iter(trainer.eval_batches(trainer.task.data(trainer.config, "val"), limit=1)))[0]
    for _ in range(2):  # twice: the second call starts from the state the first one left
        np.testing.assert_allclose(np.asarray(reloaded(x)), np.asarray(model(x)), atol=1e-5)
    return {"evaluation": evaluation, "predictions": predictions, "trainer": trainer}


def test_smoke_cli_train_evaluate_predict_roundtrip(tmp_path):
    bits = tmp_path / "bits.txt"
    bits.write_text("0110100111\n0100011101, 1\n")
    np.save(tmp_path / "bits.npy", np.array([1, 0, 1, 1, 0, 0, 1, 0]))
    result = stateful_smoke("timeseries.echo", tmp_path / "run", predict_inputs=[str(bits), str(tmp_path / "bits.npy")])
    evaluation = result["evaluation"]
    assert 0.0 <= evaluation["accuracy_first"] <= 1.0 and len(evaluation["accuracy_by_position"]) == 15
    assert (tmp_path / "run/plots/echo.png").exists()
    first = result["predictions"][0]
    assert first["bits"] == 21 and set(first["echo"]) <= {"0", "1"} and len(first["echo"]) == 21


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
