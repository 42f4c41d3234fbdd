"""The Reliability block: fault cases tried and ended correctly, by kind, and the kill -9 trial.

A fault case is one test of a `tests/test_faults.py` (parametrised cases count one each): it passes
when the command ended as the house promises (non-zero exit and one line, or works as documented)
and nothing written before was lost. Kinds are the test names without their parameters.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
KILLS = 20


def _fault_modules() -> list[Path]:
    return sorted(p for p in ROOT.glob("*/tests/test_faults.py"))


def _cases(junit: Path, package: str) -> list[tuple[str, str, bool]]:
    out = []
    for case in ET.parse(junit).getroot().iter("testcase"):
        if case.find("skipped") is not None:
            continue
        module = package
        kind = re.sub(r"\[.*\]$", "", case.get("name", "")).removeprefix("test_")
        ok = case.find("failure") is None and case.find("error") is None
        out.append((module, kind, ok))
    return out


def run(quick: bool) -> str:
    from tfzoo.common.testing.kills import kill_and_resume

    modules = _fault_modules()
    cases = []
    with tempfile.TemporaryDirectory() as tmp:
        for module in modules:
            junit = Path(tmp, f"{module.parts[-3]}.xml")
            subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--junitxml={junit}",
                            str(module)], cwd=ROOT, capture_output=True, text=True)
            cases += _cases(junit, module.parts[-3])
        kills = kill_and_resume(Path(tmp, "kills"), kills=3 if quick else KILLS, seed=1)
    tried, passed = Counter(), Counter()
    for module, kind, ok in cases:
        tried[(module, kind)] += 1
        passed[(module, kind)] += ok
    rows = [f"| {module} | {kind.replace('_', ' ')} | {tried[k]} | {passed[k]} |"
            for k in sorted(tried) for module, kind in [k]]
    total, good = sum(tried.values()), sum(passed.values())
    landed = kills["landed"]
    return "\n".join([
        f"Fault cases from {', '.join(str(m.relative_to(ROOT)) for m in modules)}: **{good} of {total} ended "
        f"correctly** (non-zero exit and one line naming what was wrong, or worked as documented; no checkpoint, "
        f"best/ or run record lost or changed).",
        "",
        "| package | kind | tried | ended correctly |",
        "|---|---|---|---|",
        *rows,
        "",
        f"kill -9 trial: one `toy.xor` run (300 steps, a checkpoint every step) killed {kills['kills']} times at "
        f"seeded random moments of its training (each a random number of steps past the last checkpoint, plus "
        f"0-50 ms) ({landed} landed on a live process; newest checkpoint after each kill: "
        f"{', '.join(map(str, kills['steps_at_kill']))}), resumed each time and finished: final weights "
        f"**{'bit-identical' if kills['identical'] else 'DIFFERENT'}** to an uninterrupted run "
        f"(final step {kills['final_step']}).",
    ])
