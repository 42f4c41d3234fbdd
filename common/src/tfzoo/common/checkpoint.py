"""Rolling and best checkpoints with resume that survives a kill at any instant.

TensorFlow writes a checkpoint's data and index files first and then replaces
the `checkpoint` state file atomically, so a kill mid-save leaves the state
file naming the previous, complete checkpoint. Restore still falls back to
older checkpoints if the newest cannot be read (a disk that lost a file).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import tensorflow as tf


class Checkpoints:
    """Keep the last `keep` checkpoints of `trackables` in `directory`, plus `best/`."""

    def __init__(self, directory: str | Path, *, keep: int, trackables: dict[str, Any]) -> None:
        self.directory = Path(directory)
        self.checkpoint = tf.train.Checkpoint(**trackables)
        self.manager = tf.train.CheckpointManager(self.checkpoint, str(self.directory), max_to_keep=keep)
        self.best = tf.train.CheckpointManager(self.checkpoint, str(self.directory / "best"), max_to_keep=1)

    def restore_latest(self) -> str | None:
        """Restore the newest readable checkpoint; returns its path, or None for a fresh run."""
        for path in reversed(self.manager.checkpoints):
            try:
                self.checkpoint.restore(path).expect_partial()
                return path
            except (tf.errors.OpError, ValueError, IndexError) as err:
                print(f"warning: {path}: unreadable checkpoint, trying an older one ({err})", file=sys.stderr)
        return None

    def save(self, step: int) -> str:
        return self.manager.save(checkpoint_number=int(step))

    def save_best(self, step: int) -> str:
        return self.best.save(checkpoint_number=int(step))

    def restore_best(self) -> str | None:
        path = self.best.latest_checkpoint
        if path:
            self.checkpoint.restore(path).expect_partial()
        return path


def latest(directory: str | Path) -> str | None:
    """The newest checkpoint prefix in a run's checkpoint folder."""
    return tf.train.latest_checkpoint(str(directory))


def list_variables(path: str) -> list[tuple[str, list[int]]]:
    """Names and shapes of every variable stored in a checkpoint (实例10)."""
    return [(name, shape) for name, shape in tf.train.list_variables(path) if "OBJECT_GRAPH" not in name]
