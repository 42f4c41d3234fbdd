"""The training loop: learning, resume after SIGKILL, rotation, corrupt checkpoints, early stop, logs."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from tfzoo.common import config as cfg
from tfzoo.common.logging import read_metrics
from tfzoo.common.registry import get_task
from tfzoo.common.train import Trainer


def _train(name, run_dir, **updates):
    task = get_task(name)
    config = cfg.override(task.default_config(), updates)
    return Trainer(task=task, config=config, run_dir=run_dir, verbose=False).fit()


def _weights(run_dir):
    path = tf.train.latest_checkpoint(str(Path(run_dir, "checkpoints")))
    # Model variables are stored once, under whichever owner the object graph reaches first.
    skip = ("_CHECKPOINTABLE_OBJECT_GRAPH", "save_counter")
    return {n: tf.train.load_variable(path, n) for n, _ in tf.train.list_variables(path) if not n.startswith(skip)}


def test_linreg_learns_slope_two(tmp_path):
    result = _train("toy.linreg", tmp_path / "run")
    weights = _weights(tmp_path / "run")
    kernel = next(v for v in weights.values() if np.shape(v) == (1, 1))
    assert abs(float(kernel.squeeze()) - 2.0) < 0.15, kernel  # the book reaches 1.9686
    assert float(result["val"]["loss"]) < 0.15
    records = read_metrics(tmp_path / "run/metrics.jsonl")
    assert {"step", "time", "split", "stage", "loss"} <= set(records[0])
    assert (tmp_path / "run/plots/curves.png").stat().st_size > 1000


def test_xor_predictions_round_to_truth(tmp_path):
    _train("toy.xor", tmp_path / "run")
    from tfzoo.common.cli import open_run

    trainer = open_run(str(tmp_path / "run"))
    out = trainer.models["model"](np.array([[0, 0], [0, 1], [1, 0], [1, 1]], "float32")).numpy()[:, 0]
    assert np.round(out).tolist() == [0, 1, 1, 0], out


def test_zero_steps_saves_the_initial_weights_for_evaluate_and_predict(tmp_path):
    from tfzoo.common.cli import open_run

    result = _train("toy.linreg", tmp_path / "run", **{"train.steps": 0})
    assert result["step"] == 0
    assert tf.train.latest_checkpoint(str(tmp_path / "run/checkpoints")).endswith("ckpt-0")
    reopened = open_run(str(tmp_path / "run"))
    assert reopened.step == 0


def test_keep_last_k_and_fallback_from_a_corrupt_newest_checkpoint(tmp_path):
    run = tmp_path / "run"
    _train("toy.xor", run, steps=40, ckpt_every=10, keep=2, eval_every=20)
    state = tf.train.get_checkpoint_state(str(run / "checkpoints"))
    assert [Path(p).name for p in state.all_model_checkpoint_paths] == ["ckpt-30", "ckpt-40"]
    # A disk that lost the newest data file: resume must fall back to ckpt-30, not fail.
    for data_file in run.glob("checkpoints/ckpt-40.data-*"):
        data_file.write_bytes(b"")
    task = get_task("toy.xor")
    config = cfg.override(task.default_config(), {"steps": 40, "ckpt_every": 10, "keep": 2, "eval_every": 20})
    trainer = Trainer(task=task, config=config, run_dir=run, verbose=False)
    trainer.info = {}
    trainer._build({}, 40)
    assert Path(trainer.checkpoints.restore_latest()).name == "ckpt-30"
    assert int(trainer.step.numpy()) == 30


def test_early_stopping_stops_and_keeps_best(tmp_path):
    result = _train("toy.xor", tmp_path / "run", steps=200, lr=0.0, eval_every=10, patience=2)
    assert result["step"] < 200, "a frozen model never improves, so patience 2 must stop it"
    assert (tmp_path / "run/checkpoints/best").is_dir()


def test_tensorboard_has_scalars_and_curves(tmp_path):
    _train("toy.linreg", tmp_path / "run", steps=20, log_every=5, eval_every=10)
    tags = set()
    for event_file in (tmp_path / "run/tensorboard").glob("events.*"):
        for event in tf.compat.v1.train.summary_iterator(str(event_file)):
            tags.update(v.tag for v in event.summary.value)
    assert {"train/loss", "train/lr", "train/samples_per_sec", "val/loss", "curves"} <= tags


def test_task_figures_refresh_after_each_evaluation(tmp_path):
    from tfzoo.common import plots
    from tfzoo.common.toy import LinReg

    class Sampling(LinReg):
        seen: list[int] = []

        def during_training(self, run, step):
            self.seen.append(step)
            return [str(plots.scatter2d(np.zeros((2, 2)), np.array([0, 1]), run.plots / "samples.png"))]

    task = Sampling()
    config = cfg.override(task.default_config(), {"steps": 20, "log_every": 5, "eval_every": 10})
    Trainer(task=task, config=config, run_dir=tmp_path / "run", verbose=False).fit()
    assert task.seen == [10, 20] and (tmp_path / "run/plots/samples.png").exists()
    tags = set()
    for event_file in (tmp_path / "run/tensorboard").glob("events.*"):
        for event in tf.compat.v1.train.summary_iterator(str(event_file)):
            tags.update(v.tag for v in event.summary.value)
    assert "samples" in tags


def test_resume_with_changed_config_is_refused(tmp_path):
    from tfzoo.common.errors import ConfigError

    _train("toy.xor", tmp_path / "run", steps=10, eval_every=5)
    with pytest.raises(ConfigError, match="optim.lr"):
        _train("toy.xor", tmp_path / "run", steps=20, lr=0.5)
    assert _train("toy.xor", tmp_path / "run", steps=20)["step"] == 20  # steps may change


def test_sigkill_mid_run_then_resume_is_bit_identical(tmp_path):
    """A run killed with SIGKILL and resumed ends with exactly the weights of an uninterrupted run."""
    args = ["--set", "steps=400", "--set", "ckpt_every=7", "--set", "eval_every=100", "--set", "log_every=50"]
    killed = tmp_path / "killed"
    proc = subprocess.Popen(
        [sys.executable, "-m", "tfzoo.common.cli", "train", "toy.xor", "--run-dir", str(killed), *args],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    deadline = time.time() + 120
    while time.time() < deadline:
        state = tf.train.get_checkpoint_state(str(killed / "checkpoints")) if (killed / "checkpoints/checkpoint").exists() else None
        if state and int(state.model_checkpoint_path.rsplit("-", 1)[1]) >= 35:
            break
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    saved = int(tf.train.get_checkpoint_state(str(killed / "checkpoints")).model_checkpoint_path.rsplit("-", 1)[1])
    assert 35 <= saved < 400, f"the kill should land mid-run, found ckpt-{saved}"
    updates = {"steps": 400, "ckpt_every": 7, "eval_every": 100, "log_every": 50}
    assert _train("toy.xor", killed, **updates)["step"] == 400
    _train("toy.xor", tmp_path / "straight", **updates)
    a, b = _weights(killed), _weights(tmp_path / "straight")
    assert a.keys() == b.keys() and a
    for name in a:
        np.testing.assert_array_equal(a[name], b[name], err_msg=name)


def test_sigterm_saves_and_exits_with_code_4(tmp_path):
    run = tmp_path / "run"
    proc = subprocess.Popen(
        [sys.executable, "-m", "tfzoo.common.cli", "train", "toy.xor", "--run-dir", str(run),
         "--set", "steps=100000", "--set", "ckpt_every=100000", "--set", "eval_every=100000"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )
    deadline = time.time() + 120
    while time.time() < deadline and not (run / "metrics.jsonl").exists():
        time.sleep(0.1)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 4, err
    assert err.strip().splitlines()[-1].startswith("error: interrupted at step"), err
    assert tf.train.latest_checkpoint(str(run / "checkpoints")) is not None


def test_unbatchable_data_is_a_data_error(tmp_path):
    from tfzoo.common.errors import DataError

    with pytest.raises(DataError, match="fewer than one batch"):
        _train("toy.xor", tmp_path / "run", batch_size=8)


def test_plateau_schedule_lowers_the_lr_when_val_loss_stalls(tmp_path):
    # lr so large that loss diverges: plateau must halve it at some evaluation.
    _train("toy.linreg", tmp_path / "run", steps=60, eval_every=5, log_every=5, lr=1.5, schedule="plateau",
           plateau_patience=2)
    lrs = [r["lr"] for r in read_metrics(tmp_path / "run/metrics.jsonl", split="train")]
    assert lrs[0] == pytest.approx(1.5) and min(lrs) < 1.5, lrs
