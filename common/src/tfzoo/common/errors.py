"""User-facing errors: the CLI prints them as one line and exits non-zero."""

import re


class UserError(Exception):
    """A mistake in the user's input; shown as one line, never as a traceback."""

    exit_code = 2


class ConfigError(UserError):
    """An unknown config key or a value of the wrong type."""

    exit_code = 2


class DataError(UserError):
    """Unreadable or inconsistent data: names the file, the record and what was expected."""

    exit_code = 3


class DataNotFound(DataError):
    """A dataset that is not on disk: names the files, the layout and the format expected."""


class TaskNotFound(UserError):
    """A task name that no installed tfzoo package registers."""

    exit_code = 2


def op_error_line(message: str) -> str:
    """The user's part of a TensorFlow op error: its first line without the graph plumbing
    (`{{function_node __wrapped__ReadFile_device_...}}`, `[Op:...]`, `[[{{node ...}}]]`)."""
    line = next((part for part in message.strip().splitlines() if part.strip()), "TensorFlow error")
    line = re.sub(r"\{\{function_node [^}]*\}\}", "", line)
    line = re.sub(r"\s*\[\[\{\{node [^\]]*\]\]|\s*\[Op:[^\]]*\](\s*name:.*$)?", "", line)
    return line.strip() or "TensorFlow error"
