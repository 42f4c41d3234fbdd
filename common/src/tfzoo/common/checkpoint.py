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

from tfzoo.common.errors import UserError


class CheckpointError(UserError):
    """Checkpoints that exist but cannot be restored; the run directory is left untouched."""


class IncompatibleCheckpoint(CheckpointError):
    """A readable checkpoint whose variables do not fit the models built from the config."""


def _first_line(err: Exception) -> str:
    text = getattr(err, "message", None) or str(err)
    return text.strip().splitlines()[0] if text.strip() else type(err).__name__


class Checkpoints:
    """Keep the last `keep` checkpoints of `trackables` in `directory`, plus `best/`."""

    def __init__(self, directory: str | Path, *, keep: int, trackables: dict[str, Any],
                 required: tuple[str, ...] = ()) -> None:
        self.directory = Path(directory)
        self.required = tuple(required)  # trackables a restored checkpoint must hold (the models)
        self.checkpoint = tf.train.Checkpoint(**trackables)
        self.manager = tf.train.CheckpointManager(self.checkpoint, str(self.directory), max_to_keep=keep)
        self.best = tf.train.CheckpointManager(self.checkpoint, str(self.directory / "best"), max_to_keep=1)

    def restore_latest(self) -> str | None:
        """Restore the newest readable checkpoint; returns its path, or None for a fresh run.

        An unreadable newest checkpoint falls back to older ones, then to `best/` (said on stderr).
        Checkpoints that exist but cannot be read at all, or that do not fit the models (another
        architecture), raise a one-line CheckpointError: a restart from scratch would overwrite
        them, so the run is left as it is.
        """
        unreadable = []
        for path in reversed(self.manager.checkpoints):
            try:
                return self._restore(path)
            except IncompatibleCheckpoint:
                raise
            except (tf.errors.OpError, ValueError, IndexError) as err:
                unreadable.append(path)
                print(f"warning: {path}: unreadable checkpoint, trying an older one ({_first_line(err)})",
                      file=sys.stderr)
        orphans = sorted(self.directory.glob("ckpt-*.index"))
        if not unreadable and not orphans:
            return None
        best = self.best.latest_checkpoint
        if best:
            try:
                self._restore(best)
            except (tf.errors.OpError, ValueError, IndexError):
                pass
            else:
                print(f"warning: no rolling checkpoint of {self.directory} is readable; resuming from {best}",
                      file=sys.stderr)
                return best
        what = f"none of its {len(unreadable)} checkpoints can be read" if unreadable else (
            f"{len(orphans)} checkpoint files but no readable 'checkpoint' state file")
        raise CheckpointError(f"{self.directory}: {what}; nothing was changed. Move them away (or use another "
                              f"--run-dir) to train from scratch")

    def _restore(self, path: str) -> str:
        try:
            self.checkpoint.restore(path).expect_partial()
        except ValueError as err:
            if "shape" in str(err) or "incompatible" in str(err).lower():
                raise IncompatibleCheckpoint(
                    f"{path}: incompatible with the models of this config ({_first_line(err)[:200]}); the run "
                    f"was trained with another architecture: use another --run-dir") from None
            raise
        # A model the checkpoint lacks (renamed, added) would otherwise keep its fresh weights and
        # "resume" silently; other state (optimiser slots, counters) may legitimately be new.
        missing = sorted(set(self.required) - _saved_objects(path))
        if missing:
            raise IncompatibleCheckpoint(
                f"{path}: holds no {', '.join(missing)}; the run was trained with other models: use another "
                f"--run-dir")
        return path

    def save(self, step: int) -> str:
        return self.manager.save(checkpoint_number=int(step))

    def save_best(self, step: int) -> str:
        return self.best.save(checkpoint_number=int(step))

    def restore_best(self) -> str | None:
        path = self.best.latest_checkpoint
        if path:
            self._restore(path)
        return path


def _saved_objects(path: str) -> set[str]:
    """The names of the objects a checkpoint saved at its top level (its trackables' keys)."""
    from tensorflow.core.protobuf import trackable_object_graph_pb2

    graph = trackable_object_graph_pb2.TrackableObjectGraph()
    graph.ParseFromString(tf.train.load_checkpoint(path).get_tensor("_CHECKPOINTABLE_OBJECT_GRAPH"))
    return {child.local_name for child in graph.nodes[0].children}


def latest(directory: str | Path) -> str | None:
    """The newest checkpoint prefix in a run's checkpoint folder."""
    return tf.train.latest_checkpoint(str(directory))


def list_variables(path: str) -> list[tuple[str, list[int]]]:
    """Names and shapes of every variable stored in a checkpoint (实例10)."""
    return [(name, shape) for name, shape in tf.train.list_variables(path) if "OBJECT_GRAPH" not in name]
