"""BENCHMARKS.md's vision section: one block per benchmark part (common's bench.write_section).

A run with `--only overhead` rewrites the overhead block and keeps the other blocks as they were.
"""

from __future__ import annotations

from pathlib import Path

from tfzoo.common.bench import load_average, provenance, write_section

BLOCKS = ("overhead", "accuracy", "transfer", "yolo", "ssd", "maskrcnn")

__all__ = ["BLOCKS", "load_average", "provenance", "write"]


def write(path: Path, blocks: dict[str, str]) -> None:
    """Replace the given blocks of the vision section, keeping the others and the rest of the file."""
    write_section(path, "vision", blocks, BLOCKS)
