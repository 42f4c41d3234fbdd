"""The smoke test every task's test suite calls: train, evaluate, predict, save/load, CLI."""

from __future__ import annotations

import contextlib
import io
import json
import math
from pathlib import Path
from typing import Any

import numpy as np


def run_cli(*argv: str) -> tuple[int, str, str]:
    """Run `tfzoo ARGV` in-process; returns (exit code, stdout, stderr)."""
    from tfzoo.common.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(argv))
    return code, out.getvalue(), err.getvalue()


def smoke_test_task(
    name: str,
    run_dir: str | Path,
    *,
    predict_inputs: list[str] | None = None,
    sets: list[str] = (),
) -> dict[str, Any]:
    """CLI `train --tiny` for 2 steps with a finite loss, evaluate, predict, `.keras` round trip.

    Returns the evaluation record and predictions for task-specific checks.
    """
    import keras

    from tfzoo.common.cli import open_run
    from tfzoo.common.export import export

    run_dir = Path(run_dir)
    set_args = [a for s in ["train.steps=2", *sets] for a in ("--set", s)]
    code, out, err = run_cli("train", name, "--tiny", "--run-dir", str(run_dir), *set_args)
    assert code == 0, err
    assert out.strip().splitlines()[-1] == str(run_dir)
    train_losses = [r["loss"] for r in _records(run_dir) if r["split"] == "train"]
    assert train_losses and all(math.isfinite(v) for v in train_losses), train_losses

    code, out, err = run_cli("evaluate", str(run_dir), "--split", "val")
    assert code == 0, err
    evaluation = json.loads(out.strip().splitlines()[-1])
    assert evaluation["step"] == 2 and evaluation["split"] == "val"
    assert _records(run_dir)[-1] == evaluation

    predictions = []
    if predict_inputs:
        code, out, err = run_cli("predict", str(run_dir), *predict_inputs)
        assert code == 0, err
        predictions = [json.loads(line) for line in out.strip().splitlines()]
        assert len(predictions) == len(predict_inputs)

    run = open_run(str(run_dir))
    model = run.models["model"]
    path = export(run, fmt="keras")
    reloaded = keras.saving.load_model(path)
    batch = next(iter(run.eval_batches(run.task.data(run.config, "val"), limit=1)))
    inputs = batch[0] if isinstance(batch, tuple) else batch
    np.testing.assert_allclose(
        np.asarray(reloaded(inputs, training=False)), np.asarray(model(inputs, training=False)), atol=1e-5
    )
    return {"evaluation": evaluation, "predictions": predictions, "run": run, "trainer": run}


def _records(run_dir: Path) -> list[dict[str, Any]]:
    from tfzoo.common.logging import read_metrics

    return read_metrics(Path(run_dir, "metrics.jsonl"))
