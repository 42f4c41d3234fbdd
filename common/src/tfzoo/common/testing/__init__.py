"""Test helpers shared by every domain: the pytest plugin and the task smoke test."""

from tfzoo.common.testing.smoke import run_cli, smoke_test_task

__all__ = ["run_cli", "smoke_test_task"]
