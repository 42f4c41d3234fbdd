"""The conformance check every registered task passes, from one parametrised test per domain:

    @pytest.mark.parametrize("name", domain_tasks("vision"))
    def test_task_conforms(name, tmp_path):
        check_task(name, tmp_path)

`check_task` trains the tiny preset through the CLI, evaluates, predicts (with the task's
`example_inputs`), exports the task's models and reloads them, resumes, and proves that
`optim.clip_norm` bounds every gradient the task applies. `check_mirrored` trains each task one
step under MirroredStrategy over two virtual CPUs in one subprocess; a task that cannot says why
in its `multi_replica` attribute.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np

from tfzoo.common.testing.smoke import run_cli

CLIP = 1e-4  # far below any real gradient norm, so an unclipped update shows


def domain_tasks(domain: str) -> list[str]:
    """The registered task names of one domain ("vision" -> vision.classify, ...)."""
    from tfzoo.common.registry import task_names

    return [name for name in task_names() if name.split(".")[0] == domain]


def check_task(name: str, tmp_path: Path, *, sets: tuple[str, ...] = ()) -> dict[str, Any]:
    """Tiny train, evaluate, predict, export and reload, resume, and clipping for task `name`."""
    from tfzoo.common.registry import get_task

    task = get_task(name)
    run_dir = Path(tmp_path) / "run"
    set_args = [a for s in ("train.steps=2", *sets) for a in ("--set", s)]
    code, out, err = run_cli("train", name, "--preset", "tiny", "--run-dir", str(run_dir), *set_args)
    assert code == 0, err
    assert out.strip().splitlines()[-1] == str(run_dir)
    train = [r for r in _records(run_dir) if r["split"] == "train"]
    assert train and train[-1]["step"] == 2 and all(math.isfinite(r["loss"]) for r in train), train

    code, out, err = run_cli("evaluate", str(run_dir), "--split", "val")
    assert code == 0, err
    evaluation = json.loads(out.strip().splitlines()[-1])
    assert evaluation["step"] == 2 and evaluation["split"] == "val" and _records(run_dir)[-1] == evaluation

    inputs = task.example_inputs(Path(tmp_path) / "inputs")
    code, out, err = run_cli("predict", str(run_dir), *inputs)
    if inputs or code == 0:
        assert code == 0, err
        predictions = [json.loads(line) for line in out.strip().splitlines()]
        assert predictions and (not inputs or len(predictions) == len(inputs)), out
    else:  # a task that predicts from files needs at least one: a one-line error, not a traceback
        assert code != 0 and len(err.strip().splitlines()) == 1, err

    _check_export_reload(run_dir)

    code, _, err = run_cli("train", name, "--preset", "tiny", "--run-dir", str(run_dir),
                           *[a for s in ("train.steps=3", *sets) for a in ("--set", s)])
    assert code == 0, err
    assert "resumed" in err and max(r["step"] for r in _records(run_dir)) == 3, err

    clipped = check_clipping(name, Path(tmp_path) / "clip", sets=sets)
    return {"evaluation": evaluation, "clip": clipped, "run_dir": run_dir}


def _check_export_reload(run_dir: Path) -> None:
    """Export the task's models as .keras, reload each, and compare weights (and outputs of "model")."""
    import keras

    from tfzoo.common.carry import carried_state
    from tfzoo.common.export import export
    from tfzoo.common.run import Run

    run = Run.open(run_dir)
    first = export(run, fmt="keras")
    assert first.is_file()
    for model in run.models.values():  # a reloaded stateful RNN starts from zero state; so must the run
        if carried_state(model) is not None:
            carried_state(model).reset()
    for name in run.task.export_models:
        model = run.models[name]
        reloaded = keras.saving.load_model(run.export / f"{name}.keras")
        for a, b in zip(model.get_weights(), reloaded.get_weights(), strict=True):
            np.testing.assert_array_equal(a, b)
    data = run.task.data(run.config, "val")
    if "model" in run.task.export_models and data is not None:
        batch = next(iter(run.eval_batches(data, limit=1)))
        x = batch[0] if isinstance(batch, tuple) else batch
        with contextlib.suppress(TypeError, ValueError):  # models whose call takes more than the batch's x
            expected = run.models["model"](x, training=False)
            got = keras.saving.load_model(run.export / "model.keras")(x, training=False)
            for a, b in zip(_flat(expected), _flat(got), strict=True):
                np.testing.assert_allclose(a, b, atol=1e-5)


def check_clipping(name: str, run_dir: Path, *, sets: tuple[str, ...] = ()) -> float:
    """Train one tiny step with `optim.clip_norm` = CLIP and return the largest global norm of the
    gradients any optimiser of the task received; asserts it is <= CLIP and that one was applied."""
    import keras
    import tensorflow as tf

    from tfzoo.common import config as cfg
    from tfzoo.common.registry import get_task
    from tfzoo.common.train import Trainer

    task = get_task(name)
    config = task.default_config(preset="tiny")
    assert hasattr(config, "optim"), f"{name}: its config has no optim block, so clip_norm cannot be set"
    config = cfg.override(config, {"train.steps": 1, "optim.clip_norm": CLIP, **cfg.parse_sets(list(sets))})
    largest = tf.Variable(0.0, dtype=tf.float32, trainable=False)
    calls = tf.Variable(0, dtype=tf.int64, trainable=False)
    base = keras.optimizers.Optimizer
    original, own = base.apply_gradients, "apply_gradients" in base.__dict__

    def recording(self, grads_and_vars):
        pairs = [(g, v) for g, v in grads_and_vars if g is not None]
        norm = tf.linalg.global_norm([tf.cast(g, tf.float32) for g, _ in pairs])
        largest.assign(tf.maximum(largest, norm))
        calls.assign_add(1)
        return original(self, pairs)

    base.apply_gradients = recording
    try:
        Trainer(task=task, config=config, run_dir=run_dir, verbose=False).fit()
    finally:
        if own:
            base.apply_gradients = original
        else:
            del base.apply_gradients
    assert int(calls.numpy()) > 0, f"{name}: no optimiser applied a gradient in one step"
    assert float(largest.numpy()) <= CLIP * (1 + 1e-3), f"{name}: gradient norm {float(largest.numpy())} > {CLIP}"
    return float(largest.numpy())


def check_mirrored(names: list[str], tmp_path: Path, *, sets: dict[str, tuple[str, ...]] | None = None,
                   timeout: int = 900) -> dict[str, str]:
    """One training step of each task under MirroredStrategy over 2 virtual CPUs, in one subprocess
    (virtual devices must exist before TensorFlow starts). `sets` adds `key=value` settings per task
    (a smaller dataset). Returns {task: "ok" | "cannot: <the task's reason>" | "failed: ..."}."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    spec = [f"{name}={';'.join((sets or {}).get(name, ()))}" for name in names]
    proc = subprocess.run([sys.executable, "-m", __name__, str(tmp_path), *spec], capture_output=True,
                          text=True, timeout=timeout, env=env)
    results = {}
    for line in proc.stdout.splitlines():
        if line.startswith("{"):
            record = json.loads(line)
            results[record["task"]] = record["result"]
    assert proc.returncode == 0 and set(results) == set(names), proc.stdout[-3000:] + proc.stderr[-3000:]
    return results


def _mirrored_main(root: str, names: list[str]) -> int:
    from tfzoo.common.distribute import configure_virtual_cpus

    configure_virtual_cpus(2)
    from tfzoo.common.registry import get_task

    failed = 0
    for item in names:
        name, _, extra = item.partition("=")
        settings = [a for pair in extra.split(";") if pair for a in ("--set", pair)]
        reason = get_task(name).multi_replica
        if reason is not True:
            result = f"cannot: {reason}"
        else:
            code, _, err = run_cli("train", name, "--preset", "tiny", "--run-dir", str(Path(root, name)),
                                   "--strategy", "mirrored", "--set", "train.steps=1", *settings)
            result = "ok" if code == 0 else f"failed: {err.strip()[-500:]}"
            failed += code != 0
        print(json.dumps({"task": name, "result": result}), flush=True)
    return 1 if failed else 0


def _records(run_dir: Path) -> list[dict[str, Any]]:
    from tfzoo.common.logging import read_metrics

    return read_metrics(Path(run_dir, "metrics.jsonl"))


def _flat(value: Any) -> list[np.ndarray]:
    if isinstance(value, dict):
        return [np.asarray(value[k]) for k in sorted(value)]
    if isinstance(value, (list, tuple)):
        return [np.asarray(v) for v in value]
    return [np.asarray(value)]


if __name__ == "__main__":
    sys.exit(_mirrored_main(sys.argv[1], sys.argv[2:]))
