"""BENCHMARKS.md at the repository root: the vision section, rewritten in place between its markers.

    <!-- vision:start -->
    <!-- vision:overhead:start --> ... <!-- vision:overhead:end -->
    <!-- vision:accuracy:start --> ... <!-- vision:accuracy:end -->
    <!-- vision:end -->

A run with `--only overhead` rewrites the overhead block and keeps the accuracy block as it
was (and the reverse). Everything outside `vision:start`/`vision:end` is left alone.
"""

from __future__ import annotations

import datetime as dt
import os
import platform
import re
from pathlib import Path

HEADER = """# tfzoo benchmarks

Figures written by `nox -s bench-<domain>`, which runs `python <domain>/benchmarks/run.py`.
Each domain rewrites only its own section, between its markers; edits there are overwritten.
Timings are ratios measured side by side in the same run, never absolute seconds
(shared/ARCHITECTURE.md, "Tests and benchmarks").
"""

BLOCKS = ("overhead", "accuracy")


def _marker(name: str, end: bool) -> str:
    return f"<!-- {name}:{'end' if end else 'start'} -->"


def load_average() -> float | None:
    try:
        return os.getloadavg()[0]
    except OSError:
        return None


def provenance(command: str, *, load_start: float | None = None) -> str:
    import keras
    import tensorflow as tf

    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    load_end = load_average()
    load = ""
    if load_start is not None and load_end is not None:
        load = f", 1-min load average {load_start:.1f} at the start and {load_end:.1f} at the end"
    return (f"_{now}; {os.cpu_count()} CPUs ({platform.machine()}, no GPU used){load}; "
            f"Python {platform.python_version()}, TensorFlow {tf.__version__}, Keras {keras.__version__}; "
            f"command `{command}`._")


def _extract(text: str, name: str) -> str | None:
    match = re.search(re.escape(_marker(name, False)) + r"\n(.*?)" + re.escape(_marker(name, True)), text, re.S)
    return match.group(1) if match else None


def write(path: Path, blocks: dict[str, str]) -> None:
    """Replace the given blocks of the vision section, keeping the others and the rest of the file."""
    text = path.read_text(encoding="utf-8") if path.exists() else HEADER
    old = _extract(text, "vision") or ""
    parts = []
    for name in BLOCKS:
        body = blocks.get(name)
        if body is None:
            body = _extract(old, f"vision:{name}") or f"_{name}: not run yet._\n"
        parts.append(f"{_marker(f'vision:{name}', False)}\n{body.rstrip()}\n{_marker(f'vision:{name}', True)}\n")
    section = f"{_marker('vision', False)}\n" + "\n".join(parts) + f"{_marker('vision', True)}"
    pattern = re.escape(_marker("vision", False)) + r".*?" + re.escape(_marker("vision", True))
    if re.search(pattern, text, re.S):
        text = re.sub(pattern, lambda _: section, text, count=1, flags=re.S)
    else:
        text = text.rstrip() + "\n\n## vision\n\n" + section + "\n"
    path.write_text(text, encoding="utf-8")
