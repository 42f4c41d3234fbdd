"""Task discovery through the `tfzoo.tasks` entry-point group; cheap, imports no TensorFlow."""

from __future__ import annotations

import difflib
from importlib.metadata import entry_points
from typing import Any

from tfzoo.common.errors import TaskNotFound

ENTRY_POINT_GROUP = "tfzoo.tasks"


def _registered() -> dict[str, Any]:
    return {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}


def task_names() -> list[str]:
    """Names of every task the installed tfzoo packages register."""
    return sorted(_registered())


def get_task(name: str) -> Any:
    """Instantiate a registered task by name; an unknown name lists the close ones."""
    registry = _registered()
    if name not in registry:
        close = difflib.get_close_matches(name, list(registry), n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else f"; installed: {', '.join(sorted(registry))}"
        raise TaskNotFound(f"unknown task {name!r}{hint}")
    return registry[name].load()()
