"""The `Run`: one run directory and what lives in it, the object every task hook receives.

    runs/<task>/<run-id>/config.json  info.json  task.txt  checkpoints/  tensorboard/
                         metrics.jsonl  plots/  export/

A `Run` knows its paths, its record (task, config, info), its named models once built or
restored, its metrics log, and how checkpoints name models. Nothing outside this module
spells a checkpoint key: `load_models` copies named models from another run or checkpoint.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

from tfzoo.common import logging as logs
from tfzoo.common.errors import ConfigError, UserError


def model_key(name: str) -> str:
    """The checkpoint key of the model called `name` (private to runs and the trainer)."""
    return f"model_{name}"


def write_json_atomic(path: Path, data: Any) -> None:
    """Write JSON beside `path` and rename over it, so a reader never sees half a file."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True, default=str) + "\n")
    os.replace(tmp, path)


class RunLock:
    """An exclusive lock on a run directory while a trainer writes it (`.lock` holds the pid).

    A second trainer refuses in one line naming the holder; the lock of a process that no longer
    exists (a kill -9) is taken over with a notice.
    """

    def __init__(self, directory: Path) -> None:
        self.path = Path(directory) / ".lock"
        self.held = False

    def __enter__(self) -> RunLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        for _ in range(2):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            except FileExistsError:
                holder = self._holder()
                if holder is not None and _alive(holder):
                    raise UserError(f"{self.path.parent} is being trained by process {holder}; wait for it, "
                                    f"or use another --run-dir") from None
                print(f"notice: {self.path.parent}: taking over the lock of process {holder}, which is gone",
                      file=sys.stderr)
                self.path.unlink(missing_ok=True)
                continue
            with os.fdopen(fd, "w") as f:
                f.write(f"{os.getpid()}\n")
            self.held = True
            return self
        raise UserError(f"{self.path}: could not take the run lock")

    def __exit__(self, *exc: Any) -> None:
        if self.held:
            self.path.unlink(missing_ok=True)
            self.held = False

    def _holder(self) -> int | None:
        try:
            return int(self.path.read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class Run:
    """A run directory; `Trainer` and `Run.open` fill in the task, config, info and models."""

    def __init__(self, path: str | Path, *, task: Any = None, config: Any = None) -> None:
        self.path = Path(path)
        self.config_file = self.path / "config.json"
        self.info_file = self.path / "info.json"
        self.task_file = self.path / "task.txt"
        self.checkpoints = self.path / "checkpoints"
        self.tensorboard = self.path / "tensorboard"
        self.metrics_file = self.path / "metrics.jsonl"
        self.plots = self.path / "plots"
        self.export = self.path / "export"
        self.task = task
        self.config = config
        self.info: dict[str, Any] = {}
        self.models: dict[str, Any] = {}
        self._trainer: Any = None  # set by the Trainer that owns this run

    # ----- the record ------------------------------------------------------------------
    def exists(self) -> bool:
        """Whether this directory holds a run record."""
        return self.config_file.is_file() and self.task_file.is_file()

    def task_name(self) -> str | None:
        """The task recorded in task.txt, or None for a directory that holds no run."""
        return self.task_file.read_text().strip() if self.task_file.is_file() else None

    def read_config(self, config_class: type) -> Any:
        """The config recorded in config.json; a corrupt file is a one-line ConfigError."""
        from tfzoo.common import config as cfg

        try:
            return cfg.load_json(config_class, self.config_file)
        except json.JSONDecodeError as err:
            raise ConfigError(f"{self.config_file}: not valid JSON ({err.msg}, line {err.lineno})") from None

    def read_info(self) -> dict[str, Any]:
        """The data facts recorded in info.json."""
        if not self.info_file.is_file():
            raise UserError(f"{self.path}: not a tfzoo run (no info.json); train one first")
        try:
            return json.loads(self.info_file.read_text())
        except json.JSONDecodeError as err:
            raise ConfigError(f"{self.info_file}: not valid JSON ({err.msg}, line {err.lineno})") from None

    def write_record(self, *, task_name: str, config: Any, info: dict[str, Any]) -> None:
        """Write task.txt, config.json and info.json, each atomically (chief only)."""
        from tfzoo.common import config as cfg

        self.path.mkdir(parents=True, exist_ok=True)
        self.plots.mkdir(exist_ok=True)
        # task.txt first: other workers check a resume once config.json exists.
        self.task_file.write_text(task_name + "\n")
        write_json_atomic(self.config_file, cfg.to_dict(config))
        write_json_atomic(self.info_file, info)

    # ----- what a hook uses -------------------------------------------------------------
    @property
    def step(self) -> int:
        """The trained step of the loaded models."""
        return int(self._owner().step.numpy())

    @property
    def log(self) -> logs.MetricsLog:
        """The metrics.jsonl writer."""
        return logs.MetricsLog(self.metrics_file)

    def read_metrics(self, *, split: str | None = None) -> list[dict[str, Any]]:
        """The records of metrics.jsonl, optionally of one split ("train", "val", "test")."""
        return logs.read_metrics(self.metrics_file, split=split)

    def evaluate(self, data: Any, *, limit: int = 0) -> dict[str, Any]:
        """Streaming and aggregated metrics of the loaded models over a DataSplit."""
        return self._owner().evaluate(data, limit=limit)

    def eval_batches(self, data: Any, *, limit: int = 0) -> Any:
        """A split mapped and batched as evaluation sees it (not distributed)."""
        return self._owner().eval_batches(data, limit=limit, distribute=False)

    def _owner(self) -> Any:
        if self._trainer is None:
            raise UserError(f"{self.path}: no models loaded; use Run.open(path)")
        return self._trainer

    # ----- opening and copying models ---------------------------------------------------------
    @classmethod
    def open(cls, path: str | Path, *, data: str | None = None, sets: list[str] = ()) -> Run:
        """A finished (or running) run with its models rebuilt and its newest checkpoint loaded.

        `data` evaluates or predicts on another dataset spec; `sets` are `key=value` overrides
        of settings that do not change the models (predict options).
        """
        from tfzoo.common import config as cfg
        from tfzoo.common.registry import get_task
        from tfzoo.common.train import Trainer

        run = cls(path)
        if not run.exists():
            raise UserError(f"{path}: not a tfzoo run (expected config.json and task.txt)")
        task = get_task(run.task_name())
        config = run.read_config(task.config_class)
        updates = cfg.parse_sets(list(sets))
        if data:
            updates["data"] = data
        config = cfg.override(config, updates)
        trainer = Trainer(task=task, config=config, run_dir=path, verbose=False)
        trainer.restore()
        return trainer.run


def load_models(models: dict[str, Any], source: str | Path) -> str:
    """Copy the weights of `models` (name -> model) from `source`, a run directory (its newest
    checkpoint) or a checkpoint prefix; returns the checkpoint read. Other contents are ignored;
    a model the checkpoint lacks or that does not fit is a one-line ConfigError."""
    import tensorflow as tf

    path = Path(source).expanduser()
    checkpoint = tf.train.latest_checkpoint(str(path / "checkpoints")) if path.is_dir() else str(path)
    if not checkpoint:
        raise ConfigError(f"{source}: no checkpoint found (expected a tfzoo run or a checkpoint prefix)")
    status = tf.train.Checkpoint(**{model_key(n): m for n, m in models.items()}).read(checkpoint)
    try:
        status.expect_partial().assert_existing_objects_matched()
    except (AssertionError, ValueError) as err:
        raise ConfigError(f"{checkpoint}: does not hold {', '.join(models)} in this shape "
                          f"({str(err).splitlines()[0][:200]})") from None
    return checkpoint
