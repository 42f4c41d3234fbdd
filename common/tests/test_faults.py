"""Fault injection against the CLI: each case ends in a non-zero exit and one line, or works as
documented, and no readable checkpoint, best/ or run record is lost or made to lie."""

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tfzoo.common.testing import run_cli


def _train(run_dir, *sets, force=False):
    args = ["train", "toy.xor", "--tiny", "--run-dir", str(run_dir), *[a for s in sets for a in ("--set", s)]]
    return run_cli(*args, *(["--force"] if force else []))


def _fingerprint(run_dir: Path) -> dict[str, str]:
    """Hashes of every checkpoint and record file, to prove a refused command changed nothing."""
    files = [p for p in run_dir.rglob("*") if p.is_file() and (p.parent.name in ("checkpoints", "best")
                                                              or p.name in ("config.json", "info.json"))]
    return {str(p.relative_to(run_dir)): hashlib.sha256(p.read_bytes()).hexdigest() for p in files}


def _one_line_error(code, err, *, expected_code=None):
    assert code != 0 and (expected_code is None or code == expected_code), (code, err)
    lines = [line for line in err.strip().splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


@pytest.fixture()
def finished(tmp_path):
    run_dir = tmp_path / "run"
    code, _, err = _train(run_dir)
    assert code == 0, err
    assert (run_dir / "checkpoints/best").is_dir()
    return run_dir


def test_force_with_bad_data_rewrites_nothing(tmp_path):
    run_dir = str(tmp_path / "run")
    assert run_cli("train", "toy.linreg", "--tiny", "--run-dir", run_dir)[0] == 0
    before = _fingerprint(tmp_path / "run")
    code, _, err = run_cli("train", "toy.linreg", "--tiny", "--run-dir", run_dir, "--force", "--set", "samples=3")
    _one_line_error(code, err, expected_code=3)  # 3 examples: fewer than one batch
    assert _fingerprint(tmp_path / "run") == before
    code, out, err = run_cli("evaluate", run_dir)  # scores the run on its own data, as recorded
    assert code == 0 and '"step": 20' in out, err
    assert run_cli("train", "toy.linreg", "--tiny", "--run-dir", run_dir, "--set", "train.steps=21")[0] == 0


def test_force_with_another_architecture_is_incompatible_not_a_silent_restart(finished):
    before = _fingerprint(finished)
    code, _, err = _train(finished, "hidden=16", force=True)
    line = _one_line_error(code, err, expected_code=2)
    assert "incompatible" in line and "unreadable" not in err
    assert _fingerprint(finished) == before


def test_no_readable_rolling_checkpoint_resumes_from_best_and_says_so(finished):
    for data_file in (finished / "checkpoints").glob("ckpt-*.data-*"):
        data_file.write_bytes(b"")
    code, _, err = _train(finished, "train.steps=12")
    assert code == 0, err
    assert "resuming from" in err and "/best/" in err
    resumed_at = int(err.split("at step ")[1].split()[0])
    assert resumed_at > 0  # from best/, not a silent restart from scratch


def test_no_readable_checkpoint_at_all_refuses(finished):
    for data_file in (finished / "checkpoints").rglob("ckpt-*.data-*"):
        data_file.write_bytes(b"")
    before = _fingerprint(finished)
    code, _, err = _train(finished, "train.steps=12")
    line = _one_line_error(code, err)
    assert "can be read" in line and "nothing was changed" in line
    assert _fingerprint(finished) == before


def test_a_second_trainer_refuses_and_a_stale_lock_is_taken_over(finished):
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        (finished / ".lock").write_text(f"{sleeper.pid}\n")
        code, _, err = _train(finished, "train.steps=11")
        assert str(sleeper.pid) in _one_line_error(code, err, expected_code=2)
    finally:
        sleeper.kill()
        sleeper.wait()
    code, _, err = _train(finished, "train.steps=11")  # the holder is gone: take over, with a notice
    assert code == 0 and "taking over the lock" in err, err
    assert not (finished / ".lock").exists()


def test_a_first_attempt_that_trained_nothing_can_be_retried_with_other_settings(tmp_path):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "task.txt").write_text("toy.xor\n")
    code, _, err = _train(run_dir)
    assert code == 0, err
    for ckpt in (run_dir / "checkpoints").rglob("ckpt-*"):
        ckpt.unlink()
    (run_dir / "checkpoints/checkpoint").unlink()
    code, _, err = _train(run_dir, "hidden=4")
    assert code == 0, err


@pytest.mark.parametrize("setting", ["train.batch_size=0", "train.batch_size=-4", "train.keep=0",
                                     "train.steps=-5", "optim.lr=-1", "optim.optimizer=adamax"])
def test_out_of_range_settings_are_one_line(tmp_path, setting):
    code, _, err = _train(tmp_path / "run", setting)
    line = _one_line_error(code, err, expected_code=2)
    assert setting.split("=")[0] in line
    assert not (tmp_path / "run/config.json").exists()


def test_run_dir_that_is_a_file_or_unwritable_is_one_line(tmp_path):
    afile = tmp_path / "a-file"
    afile.write_text("x")
    _one_line_error(*_train(afile)[::2], expected_code=2)
    _one_line_error(*_train(afile / "below")[::2], expected_code=2)


@pytest.mark.parametrize("record", ["config.json", "info.json"])
def test_corrupt_run_record_is_one_line_for_train_and_evaluate(finished, record):
    (finished / record).write_text('{"train": ')
    for argv in (("evaluate", str(finished)), ("predict", str(finished), "0,1")):
        assert record in _one_line_error(*run_cli(*argv)[::2])
    code, _, err = _train(finished, "train.steps=11")
    if record == "config.json":  # the settings to resume with are unknown: refuse
        assert record in _one_line_error(code, err)
    else:  # info.json is derived from the data: training writes it again
        assert code == 0, err
        assert run_cli("evaluate", str(finished))[0] == 0


def test_corrupt_task_record_names_the_file(finished):
    (finished / "task.txt").write_text("no.such.task\n")
    line = _one_line_error(*run_cli("evaluate", str(finished))[::2])
    assert "no.such.task" in line
    assert os.path.exists(finished / "config.json")


def test_predict_on_a_directory_is_one_line(finished):
    line = _one_line_error(*run_cli("predict", str(finished), str(finished))[::2])
    assert "a directory" in line


def test_tensorflow_op_errors_lose_their_graph_plumbing():
    from tfzoo.common.errors import op_error_line

    raw = ("{{function_node __wrapped__ReadFile_device_/job:localhost/replica:0/task:0/device:CPU:0}} "
           "/data/x.png; Is a directory [Op:ReadFile]")
    assert op_error_line(raw) == "/data/x.png; Is a directory"
    assert op_error_line("Input is empty.\n\t [[{{node DecodePng}}]] [Op:IteratorGetNext]") == "Input is empty."
    assert op_error_line("{{function_node x}} Input is empty. [Op:DecodeImage] name: ") == "Input is empty."


@pytest.mark.slow
def test_twenty_kills_at_random_moments_resume_to_the_uninterrupted_weights(tmp_path):
    from tfzoo.common.testing.kills import kill_and_resume

    result = kill_and_resume(tmp_path, kills=20, seed=1)
    assert result["landed"] >= 15, result  # most kills hit a live process, not one that had finished
    steps = result["steps_at_kill"]
    assert steps[0] > 0 and steps == sorted(steps) and steps[-1] < 300, result  # mid-run, moving on
    assert result["identical"] and result["final_step"] == 300, result


def test_a_checkpoint_without_one_of_the_models_is_incompatible_not_a_fresh_model(tmp_path):
    import keras
    import tensorflow as tf

    from tfzoo.common.checkpoint import Checkpoints, IncompatibleCheckpoint

    def net():
        x = keras.Input((2,))
        return keras.Model(x, keras.layers.Dense(1)(x))

    step = tf.Variable(3, dtype=tf.int64)
    Checkpoints(tmp_path, keep=1, trackables={"model_model": net(), "step": step}).save(3)
    renamed = Checkpoints(tmp_path, keep=1, trackables={"model_generator": net(), "step": tf.Variable(0, dtype=tf.int64)},
                          required=("model_generator",))
    with pytest.raises(IncompatibleCheckpoint, match="holds no model_generator"):
        renamed.restore_latest()
