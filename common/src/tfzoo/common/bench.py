"""BENCHMARKS.md at the repository root: each domain's section rewritten in place between its markers.

    <!-- DOMAIN:start -->
    <!-- DOMAIN:BLOCK:start --> ... <!-- DOMAIN:BLOCK:end -->
    <!-- DOMAIN:end -->

A benchmark run that rewrites some blocks keeps the domain's other blocks as they were;
everything outside the domain's markers is left alone. Every block starts with `provenance()`.
"""

from __future__ import annotations

import datetime as dt
import os
import platform
import re
from collections.abc import Sequence
from pathlib import Path

HEADER = """# tfzoo benchmarks

Figures written by `nox -s bench-<domain>`, which runs `python <domain>/benchmarks/run.py`.
Each domain rewrites only its own section, between its markers; edits there are overwritten.
Timings are ratios measured side by side in the same run, never absolute seconds
(shared/ARCHITECTURE.md, "Tests and benchmarks").
"""


def _marker(name: str, end: bool) -> str:
    return f"<!-- {name}:{'end' if end else 'start'} -->"


def load_average() -> float | None:
    """The 1-minute load average, or None where the platform has none."""
    try:
        return os.getloadavg()[0]
    except OSError:
        return None


def provenance(command: str, *, load_start: float | None = None) -> str:
    """One italic line: when, on what machine and load, with which versions, by which command."""
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


def write_section(path: Path, domain: str, blocks: dict[str, str], order: Sequence[str]) -> None:
    """Replace `blocks` of `domain`'s section (in `order`), keeping its other blocks and the rest of the file."""
    text = path.read_text(encoding="utf-8") if path.exists() else HEADER
    old = _extract(text, domain) or ""
    parts = []
    for name in order:
        body = blocks.get(name)
        if body is None:
            body = _extract(old, f"{domain}:{name}") or f"_{name}: not run yet._\n"
        parts.append(f"{_marker(f'{domain}:{name}', False)}\n{body.rstrip()}\n{_marker(f'{domain}:{name}', True)}\n")
    section = f"{_marker(domain, False)}\n" + "\n".join(parts) + f"{_marker(domain, True)}"
    pattern = re.escape(_marker(domain, False)) + r".*?" + re.escape(_marker(domain, True))
    if re.search(pattern, text, re.S):
        text = re.sub(pattern, lambda _: section, text, count=1, flags=re.S)
    else:
        text = text.rstrip() + f"\n\n## {domain}\n\n" + section + "\n"
    path.write_text(text, encoding="utf-8")


def run_blocks(*, domain: str, blocks: Sequence[str], description: str, argv: list[str] | None = None) -> int:
    """The `python <domain>/benchmarks/run.py` command: run block modules, print and write their sections.

    Each block is a module next to the calling run.py (already on `sys.path`) with
    `run(quick: bool) -> str` returning markdown; `--only` picks blocks, `--quick` runs them
    smoke-sized and, unless `--write`, leaves BENCHMARKS.md alone.
    """
    import argparse
    import importlib
    import shlex
    import sys

    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--only", nargs="+", choices=list(blocks), help="run these blocks; the others are kept")
    parser.add_argument("--quick", action="store_true", help="smoke-sized runs (figures are not benchmarks)")
    parser.add_argument("--write", action=argparse.BooleanOptionalAction, default=None,
                        help=f"rewrite the {domain} section of BENCHMARKS.md (default: yes, except with --quick)")
    parser.add_argument("--output", type=Path, default=Path("BENCHMARKS.md"),
                        help="the file to update (default: BENCHMARKS.md in the repository root you run from)")
    args = parser.parse_args(argv)
    argv = sys.argv[1:] if argv is None else argv
    command = shlex.join(["python", f"{domain}/benchmarks/run.py", *argv])
    load_start = load_average()
    written = {}
    for name in args.only or blocks:
        print(f"== {name}", flush=True)
        body = importlib.import_module(name).run(quick=args.quick)
        written[name] = provenance(command, load_start=load_start) + "\n\n" + body
        print(body, flush=True)
    if args.write if args.write is not None else not args.quick:
        write_section(args.output, domain, written, blocks)
        print(f"wrote {args.output}")
    return 0
