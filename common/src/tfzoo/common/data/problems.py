"""What a reader does with a bad record: raise, skip with a warning, or hand it to `check`."""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from tfzoo.common.errors import DataError

# `check` collects every problem instead of raising; a context variable lets it do that
# through any reader without widening the reader signature that domains implement.
_sink: ContextVar[list[str] | None] = ContextVar("tfzoo_data_problems", default=None)


def handle(problems: list[str], *, on_error: str, where: str) -> None:
    """Raise the first problem (on_error="raise"), or report how many records were skipped."""
    if not problems:
        return
    sink = _sink.get()
    if sink is not None:
        sink.extend(problems)
        return
    if on_error == "raise":
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise DataError(problems[0] + more)
    print(f"tfzoo: warning: skipped {len(problems)} unreadable record(s) in {where}; first: {problems[0]}",
          file=sys.stderr)


@contextmanager
def collecting() -> Iterator[list[str]]:
    """Within this block readers append their problems to the yielded list instead of raising."""
    problems: list[str] = []
    token = _sink.set(problems)
    try:
        yield problems
    finally:
        _sink.reset(token)


def tf_message(error) -> str:
    """The useful part of a TensorFlow OpError: no `{{function_node ...}}` prefix or `[Op:...]` suffix."""
    text = re.sub(r"\{\{.*?\}\}\s*", "", error.message.splitlines()[0] if error.message else str(error))
    return text.split(" [Op:")[0].strip()
