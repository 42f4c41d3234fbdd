"""What a run reports: `metrics.jsonl`, TensorBoard summaries and a progress line."""

from __future__ import annotations

import json
import math
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import tensorflow as tf


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
        if not self.path.exists():
            return []
        return [json.loads(line) for line in self.path.read_text().splitlines() if line.strip()]


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
