"""Where tfzoo keeps what it can rebuild (trained measuring instruments, converted files).

One folder per user, not per working directory, so a command finds the cache wherever it runs:
`$TFZOO_CACHE` when set, else `$XDG_CACHE_HOME/tfzoo`, else `~/.cache/tfzoo`.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["cache_dir"]


def cache_dir(*parts: str) -> Path:
    """The cache folder joined with `parts`, created (with its parents) if missing.

    An empty variable counts as unset, as the XDG base-directory specification says.
    """
    root = os.environ.get("TFZOO_CACHE")
    if root:
        base = Path(root).expanduser()
    else:
        xdg = os.environ.get("XDG_CACHE_HOME")
        base = (Path(xdg).expanduser() if xdg else Path.home() / ".cache") / "tfzoo"
    path = base.joinpath(*parts)
    path.mkdir(parents=True, exist_ok=True)
    return path
