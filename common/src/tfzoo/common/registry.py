"""Task discovery through the `tfzoo.tasks` entry-point group; cheap, imports no TensorFlow."""

from __future__ import annotations

import difflib
from importlib.metadata import entry_points
from typing import Any

from tfzoo.common.errors import TaskNotFound

ENTRY_POINT_GROUP = "tfzoo.tasks"
# task name -> its config class, in a module that imports no TensorFlow
CONFIG_GROUP = "tfzoo.configs"


def _registered() -> dict[str, Any]:
    return {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}


def task_names() -> list[str]:
    """Names of every task the installed tfzoo packages register."""
    return sorted(_registered())


def _known(name: str, registry: dict[str, Any]) -> None:
    if name not in registry:
        close = difflib.get_close_matches(name, list(registry), n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else f"; installed: {', '.join(sorted(registry))}"
        raise TaskNotFound(f"unknown task {name!r}{hint}")


def get_task(name: str) -> Any:
    """Instantiate a registered task by name; an unknown name lists the close ones."""
    registry = _registered()
    _known(name, registry)
    return registry[name].load()()


def get_config_class(name: str) -> type:
    """A registered task's config class, without importing the task (nor TensorFlow) when its package
    registers it under the `tfzoo.configs` group; otherwise through the task."""
    _known(name, _registered())
    configs = {ep.name: ep for ep in entry_points(group=CONFIG_GROUP)}
    if name in configs:
        return configs[name].load()
    return get_task(name).config_class
