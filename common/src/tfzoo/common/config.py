"""Frozen-dataclass configs: `--set key=value` overrides, TOML files and JSON round trips.

A task's config is a frozen dataclass whose fields may be nested dataclasses
(`train`, `optim`). Keys are dotted (`train.steps=100`); a leaf name that is
unique across the tree may be given alone (`steps=100`), because that is what
users type first.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import tomllib
import types
import typing
from pathlib import Path
from typing import Any

from tfzoo.common.errors import ConfigError


def leaf_keys(config: Any, prefix: str = "") -> dict[str, Any]:
    """Every dotted leaf key of `config` with its current value."""
    out: dict[str, Any] = {}
    for f in dataclasses.fields(config):
        value = getattr(config, f.name)
        key = prefix + f.name
        if dataclasses.is_dataclass(value):
            out.update(leaf_keys(value, key + "."))
        else:
            out[key] = value
    return out


def _full_key(config: Any, key: str) -> str:
    keys = leaf_keys(config)
    if key in keys:
        return key
    by_leaf = [k for k in keys if k.rsplit(".", 1)[-1] == key]
    if len(by_leaf) == 1:
        return by_leaf[0]
    if len(by_leaf) > 1:
        raise ConfigError(f"ambiguous config key {key!r}: use one of {', '.join(by_leaf)}")
    close = difflib.get_close_matches(key, list(keys), n=3, cutoff=0.5)
    hint = f"; did you mean {', '.join(close)}?" if close else f"; valid keys: {', '.join(keys)}"
    raise ConfigError(f"unknown config key {key!r}{hint}")


def _field_type(config: Any, dotted: str) -> Any:
    head, _, rest = dotted.partition(".")
    hints = typing.get_type_hints(type(config))
    if rest:
        return _field_type(getattr(config, head), rest)
    return hints[head]


def coerce(value: Any, annotation: Any, key: str) -> Any:
    """Convert a string (from the command line) or TOML value to the field's type."""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Literal:
        return _choice(value, args, key)
    if origin in (typing.Union, types.UnionType):
        if value in (None, "none", "None", "") and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        return coerce(value, inner[0], key)
    if origin is tuple:
        items = value
        if isinstance(value, str):
            items = [v for v in value.strip("()[] ").split(",") if v.strip()]
        if not isinstance(items, (list, tuple)):
            items = [items]
        item_type = args[0] if args else str
        return tuple(coerce(v, item_type, key) for v in items)
    try:
        if annotation is bool:
            if isinstance(value, bool):
                return value
            text = str(value).strip().lower()
            if text in ("1", "true", "yes", "on"):
                return True
            if text in ("0", "false", "no", "off"):
                return False
            raise ValueError(value)
        if annotation is int:
            if isinstance(value, float) and not value.is_integer():
                raise ValueError(value)
            return int(float(value)) if isinstance(value, str) and "e" in value.lower() else int(value)
        if annotation is float:
            return float(value)
        if annotation is str:
            return str(value)
    except (TypeError, ValueError):
        name = getattr(annotation, "__name__", str(annotation))
        raise ConfigError(f"config key {key!r}: expected {name}, got {value!r}") from None
    return value


def _choice(value: Any, allowed: tuple, key: str) -> Any:
    for option in allowed:  # compare as text: "--set flag=1" or a TOML number may name a choice
        if value == option or str(value).strip().lower() == str(option).lower():
            return option
    raise ConfigError(f"config key {key!r}: found {value!r}, expected one of {', '.join(map(str, allowed))}")


def choices(config_class: type) -> dict[str, tuple]:
    """The allowed values of every `Literal` field, by dotted key (for `tfzoo info`)."""
    out: dict[str, tuple] = {}
    hints = typing.get_type_hints(config_class)
    for f in dataclasses.fields(config_class):
        hint = hints[f.name]
        if dataclasses.is_dataclass(hint):
            out.update({f"{f.name}.{k}": v for k, v in choices(hint).items()})
        elif _literal_args(hint) is not None:
            out[f.name] = _literal_args(hint)
    return out


def _literal_args(hint: Any) -> tuple | None:
    """The choices of a `Literal[...]` field, or of each item of a `tuple[Literal[...], ...]` field."""
    if typing.get_origin(hint) is typing.Literal:
        return typing.get_args(hint)
    if typing.get_origin(hint) is tuple:
        args = [a for a in typing.get_args(hint) if a is not Ellipsis]
        if args and all(typing.get_origin(a) is typing.Literal for a in args):
            return tuple(dict.fromkeys(x for a in args for x in typing.get_args(a)))
    return None


def validate(config: Any, prefix: str = "") -> Any:
    """Check every `Literal` choice and every range a config class declares in `RANGES`
    ({field: (min, max)}, None for open); returns `config`, or raises a one-line ConfigError."""
    hints = typing.get_type_hints(type(config))
    ranges = getattr(type(config), "RANGES", {})
    for f in dataclasses.fields(config):
        value, key = getattr(config, f.name), prefix + f.name
        if dataclasses.is_dataclass(value):
            validate(value, key + ".")
            continue
        allowed = _literal_args(hints[f.name])
        if allowed is not None:
            for item in value if isinstance(value, tuple) else (value,):
                _choice(item, allowed, key)
        low, high = ranges.get(f.name, (None, None))
        if value is not None and ((low is not None and value < low) or (high is not None and value > high)):
            bounds = f">= {low}" if high is None else f"<= {high}" if low is None else f"in [{low}, {high}]"
            raise ConfigError(f"config key {key!r}: found {value!r}, expected a value {bounds}")
    return config


def override(config: Any, updates: dict[str, Any]) -> Any:
    """Return a copy of `config` with dotted `updates` applied, type-checked and validated."""
    for key, raw in updates.items():
        full = _full_key(config, key)
        value = coerce(raw, _field_type(config, full), full)
        config = _replace_dotted(config, full.split("."), value)
    return validate(config)


def _replace_dotted(config: Any, path: list[str], value: Any) -> Any:
    head, *rest = path
    if rest:
        value = _replace_dotted(getattr(config, head), rest, value)
    return dataclasses.replace(config, **{head: value})


def parse_sets(pairs: list[str]) -> dict[str, str]:
    """Parse `key=value` strings from `--set`."""
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--set expects key=value, got {pair!r}")
        out[key.strip()] = value.strip()
    return out


def flatten(tree: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Flatten nested TOML/JSON tables into dotted keys."""
    out = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            out.update(flatten(value, f"{prefix}{key}."))
        else:
            out[prefix + key] = value
    return out


def load_toml(path: str | Path) -> dict[str, Any]:
    """Read a TOML override file as dotted keys."""
    path = Path(path)
    try:
        return flatten(tomllib.loads(path.read_text(encoding="utf-8")))
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"{path}: not valid TOML ({err})") from None


def to_dict(config: Any) -> dict[str, Any]:
    """The config as plain JSON-ready nested dicts."""
    return json.loads(json.dumps(dataclasses.asdict(config)))


def save_json(config: Any, path: str | Path) -> None:
    """Write the resolved config, atomically, as `config.json`."""
    path = Path(path)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(to_dict(config), indent=2, sort_keys=True) + "\n")
    tmp.replace(path)


def load_json(config_class: type, path: str | Path) -> Any:
    """Rebuild a config saved by `save_json`."""
    data = json.loads(Path(path).read_text())
    return override(config_class(), flatten(data))


def changed_keys(old: Any, new: Any) -> list[str]:
    """Dotted keys whose values differ between two configs of one class."""
    a, b = leaf_keys(old), leaf_keys(new)
    return sorted(k for k in a if a[k] != b.get(k))


def presets(config_class: type) -> dict[str, Any]:
    """Named configurations (`--preset NAME`) of a config class: the zero-argument classmethods listed
    in its `PRESETS` tuple, by default whichever of `tiny` and `book` it has. A preset may be spelled
    with hyphens ("infogan-ac") for a classmethod infogan_ac."""
    names = getattr(config_class, "PRESETS", ("tiny", "book"))
    methods = {name: getattr(config_class, name.replace("-", "_"), None) for name in names}
    return {name: method for name, method in methods.items() if callable(method)}
