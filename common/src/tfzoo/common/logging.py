"""What a run reports: `metrics.jsonl`, TensorBoard summaries and a progress line."""

from __future__ import annotations

import json
import math
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import tensorflow as tf

from tfzoo.common.errors import DataError


def _plain(value: Any) -> Any:
    if isinstance(value, (np.generic, np.ndarray)):
        return value.tolist()
    if isinstance(value, tf.Tensor):
        return value.numpy().tolist()
    return value


class MetricsLog:
    """Appends one JSON object per event: {"step", "time", "split", "stage", <name>: value}."""

    def __init__(self, path: str | Path, *, enabled: bool = True) -> None:
        self.path = Path(path)
        self.enabled = enabled

    def write(self, *, step: int, split: str, values: dict[str, Any], stage: str = "") -> dict[str, Any]:
        record = {"step": int(step), "time": round(time.time(), 3), "split": split, "stage": stage}
        record.update({k: _plain(v) for k, v in values.items()})
        if self.enabled:
            with self.path.open("a") as f:
                f.write(json.dumps(record) + "\n")
        return record

    def read(self) -> list[dict[str, Any]]:
        """The records written so far (see `read_metrics`)."""
        return read_metrics(self.path)


def read_metrics(path: str | Path, *, split: str | None = None) -> list[dict[str, Any]]:
    """The records of a `metrics.jsonl`, in file order; with `split`, only that split's ("train", "val", ...).

    A missing file has no records yet. Blank lines are skipped. A last line without its newline that is
    not a record is what a run killed mid-write leaves: it is dropped with one warning. Any other line
    that is not a JSON object with a numeric "step" is a DataError naming the file and line.
    """
    path = Path(path)
    if not path.exists():
        return []
    lines = path.read_text(encoding="utf-8").split("\n")  # a complete file ends in "\n": the last item is ""
    records = []
    for lineno, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            record = None
        step = record.get("step") if isinstance(record, dict) else None
        if not isinstance(step, int | float) or isinstance(step, bool):
            if lineno == len(lines):
                warnings.warn(f"{path}:{lineno}: ignoring a cut-off last line {line[:60]!r} (a run stopped "
                              "mid-write)", RuntimeWarning, stacklevel=2)
                break
            raise DataError(f"{path}:{lineno}: found {line.strip()[:60]!r}, expected a JSON object with 'step'")
        if split is None or record.get("split") == split:
            records.append(record)
    return records


class Summaries:
    """TensorBoard scalars and images; a no-op on non-chief workers."""

    def __init__(self, logdir: str | Path, *, enabled: bool = True) -> None:
        self.writer = tf.summary.create_file_writer(str(logdir)) if enabled else None

    def scalars(self, step: int, values: dict[str, float], *, prefix: str) -> None:
        if self.writer is None:
            return
        with self.writer.as_default(step=int(step)):
            for name, value in values.items():
                if np.ndim(value) == 0:
                    tf.summary.scalar(f"{prefix}/{name}", float(value))
        self.writer.flush()

    def image(self, step: int, name: str, png_path: str | Path) -> None:
        """Log a PNG written by the plots module."""
        if self.writer is None:
            return
        data = tf.io.decode_png(tf.io.read_file(str(png_path)), channels=4)
        with self.writer.as_default(step=int(step)):
            tf.summary.image(name, data[None])
        self.writer.flush()


def format_values(values: dict[str, Any]) -> str:
    parts = []
    for name, value in values.items():
        if np.ndim(value) != 0 or name == "samples_per_sec":
            continue
        value = float(value)
        parts.append(f"{name} {value:.4g}" if math.isfinite(value) else f"{name} {value}")
    return "  ".join(parts)


class Progress:
    """A redrawn bar on a terminal; one plain line every `log_every` steps otherwise."""

    def __init__(self, *, total: int, stream=None, enabled: bool = True) -> None:
        self.total = total
        self.stream = stream or sys.stderr
        self.enabled = enabled
        self.tty = self.stream.isatty()

    def update(self, step: int, values: dict[str, Any], samples_per_sec: float) -> None:
        if not self.enabled:
            return
        text = f"step {step}/{self.total}  {format_values(values)}  {samples_per_sec:.0f} samples/s"
        if self.tty:
            width = 24
            done = int(width * step / max(self.total, 1))
            self.stream.write(f"\r[{'#' * done}{'.' * (width - done)}] {text}\033[K")
        else:
            self.stream.write(text + "\n")
        self.stream.flush()

    def message(self, text: str) -> None:
        if not self.enabled:
            return
        if self.tty:
            self.stream.write("\r\033[K")
        self.stream.write(text + "\n")
        self.stream.flush()
