"""Dataset specs and the registry of readers that resolve them.

One grammar for every domain: `scheme[:ARG][?key=value&key=value]`. `parse_spec` is the only
parser; a reader receives ARG and the options as keyword arguments, declares the options it
accepts as keyword parameters, and `resolve` rejects any other option in one line.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from urllib.parse import unquote

from tfzoo.common.errors import DataError

from . import cifar, embedded, folder, idx, table, tfrecord
from .base import DataSplit, check_args

Reader = Callable[..., DataSplit]
"""`reader(arg, split, *, seed, channels, on_error, **options) -> DataSplit`; `arg` is the text after
the first ':' without the `?query`; each `?key=value` option arrives as a keyword argument (a string)."""

# Options every resolve() call passes itself; a spec may also give them (`folder:DIR?on_error=skip`).
COMMON_OPTIONS = ("seed", "channels", "on_error")


@dataclass(frozen=True)
class Spec:
    """A parsed spec string: `scheme`, `arg` (path, glob or name; may be empty) and `options`."""

    scheme: str
    arg: str = ""
    options: dict[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        query = "&".join(f"{k}={v}" for k, v in self.options.items())
        return self.scheme + (f":{self.arg}" if self.arg else "") + (f"?{query}" if query else "")


def parse_spec(spec: str) -> Spec:
    """Split `scheme[:ARG][?key=value&...]`; a repeated or empty option key is a DataError."""
    text = spec.strip()
    if not text:
        raise DataError("empty data spec; expected scheme[:ARG][?key=value], e.g. folder:/data/images")
    body, _, query = text.partition("?")
    scheme, _, arg = body.partition(":")
    # Split by hand rather than parse_qsl: a "+" in a value (a voice "en-us+f3") stays a "+".
    pairs = [(unquote(k), unquote(v)) for k, _, v in (p.partition("=") for p in query.split("&")) if k or v]
    keys = [k for k, _ in pairs]
    for key in keys:
        if not key or keys.count(key) > 1:
            raise DataError(f"{spec}: option {key!r} is empty or repeated; expected ?key=value&key=value")
    return Spec(scheme.strip(), arg.strip(), dict(pairs))

ENTRY_POINT_GROUP = "tfzoo.data"

# Built-in schemes and how to write them, for the "unknown spec" message.
_USAGE = {
    "mnist-5k": "mnist-5k", "mnist-8x8": "mnist-8x8", "digits-8x8": "digits-8x8", "fashion-mnist": "fashion-mnist",
    "idx": "idx:DIR", "folder": "folder:DIR", "tfrecord": "tfrecord:GLOB", "cifar10": "cifar10:DIR",
    "csv": "csv:FILE",
}
_readers: dict[str, Reader] = {
    "mnist-5k": embedded.read_mnist_5k, "mnist-8x8": embedded.read_mnist_8x8, "digits-8x8": embedded.read_digits,
    "fashion-mnist": embedded.read_fashion_mnist, "idx": idx.read, "folder": folder.read,
    "tfrecord": tfrecord.read, "cifar10": cifar.read, "csv": table.read,
}


def register_scheme(name: str, reader: Reader) -> None:
    """Make `name` or `name:ARG` resolve through `reader(arg, split, *, seed, channels, on_error)`.

    Domains usually register through the "tfzoo.data" entry-point group instead (name -> callable);
    a scheme registered here replaces one of the same name.
    """
    if not name or ":" in name:
        raise DataError(f"scheme name {name!r}; expected a non-empty name without ':'")
    if not callable(reader):
        raise DataError(f"reader for scheme {name!r} is not callable: {reader!r}")
    _readers[name] = reader


def _entry_points() -> dict:
    return {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}


def known_specs() -> list[str]:
    """Every spec form that resolves: built-ins, registered and entry-point schemes."""
    names = dict.fromkeys([*_readers, *_entry_points()])
    return [_USAGE.get(name, f"{name}[:ARG]") for name in names]


def _reader(name: str) -> Reader:
    if name not in _readers:
        point = _entry_points().get(name)
        if point is None:
            raise DataError(f"unknown data spec scheme {name!r}; known specs: {', '.join(known_specs())}")
        _readers[name] = point.load()  # loaded on first use: a domain's import can be slow
    return _readers[name]


def accepted_options(reader: Reader) -> tuple[str, ...] | None:
    """The `?key=` options a reader takes (its keyword parameters), or None when it takes any (**kw)."""
    params = inspect.signature(reader).parameters.values()
    if any(p.kind is p.VAR_KEYWORD for p in params):
        return None
    return tuple(p.name for p in params if p.kind is p.KEYWORD_ONLY and p.name not in COMMON_OPTIONS)


def resolve(spec: str, split: str, *, seed: int = 0, channels: int | None = None,
            on_error: str = "raise") -> DataSplit:
    """One split ("train", "val" or "test") of the dataset that `spec` names.

    `channels` forces 1 or 3 image channels (default: the data's own). `on_error="skip"` skips
    unreadable records with a one-line warning instead of raising a DataError; the spec's own
    `?channels=` and `?on_error=` win over these. Built-in readers split with a fixed seed, so
    test data never depends on `seed`; it is passed on to readers registered by domains.
    """
    parsed = parse_spec(spec)
    options = dict(parsed.options)
    on_error = options.pop("on_error", on_error)
    if "channels" in options:
        channels = _channels(spec, options.pop("channels"))
    check_args(split=split, channels=channels, on_error=on_error)
    reader = _reader(parsed.scheme)
    accepted = accepted_options(reader)
    unknown = sorted(set(options) - set(accepted)) if accepted is not None else []
    if unknown:
        allowed = ", ".join((accepted or ()) + ("channels", "on_error"))
        raise DataError(f"{spec}: unknown option {', '.join(unknown)} for {parsed.scheme}:; it takes {allowed}")
    result = reader(parsed.arg, split, seed=seed, channels=channels, on_error=on_error, **options)
    if not isinstance(result, DataSplit):
        raise TypeError(f"reader for {parsed.scheme!r} returned {type(result).__name__}, expected DataSplit")
    return result


def _channels(spec: str, value: str) -> int | None:
    if value.lower() in ("", "none", "keep"):
        return None
    if value not in ("1", "3"):
        raise DataError(f"{spec}: channels={value}; expected 1, 3 or none")
    return int(value)


MAKER_GROUP = "tfzoo.makers"


def make(name: str, out, *, n: int, size: int, seed: int = 0) -> list:
    """Write the generated dataset `name` (a "tfzoo.makers" entry point) under `out`; returns the paths.

    A maker is `make(out: Path, *, n, size, seed) -> list[Path]`; tfzoo-vision provides `shapes`.
    """
    from pathlib import Path

    makers = {ep.name: ep for ep in entry_points(group=MAKER_GROUP)}
    if name not in makers:
        known = ", ".join(sorted(makers)) or "none (install a domain that provides one, e.g. tfzoo-vision)"
        raise DataError(f"unknown generated dataset {name!r}; installed generators: {known}")
    if n < 1 or size < 1:
        raise DataError(f"make {name}: n={n}, size={size}; expected positive integers")
    return list(makers[name].load()(Path(out), n=n, size=size, seed=seed))
