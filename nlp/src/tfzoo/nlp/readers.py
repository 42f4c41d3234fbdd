"""Text dataset specs (entry-point group "tfzoo.data") and their `tfzoo data check` report.

| Spec | Records |
|---|---|
| `text:FILE[?encoding=gb18030]` | the non-empty lines of a plain-text file |
| `lines:FILE[?regex=^[A-Za-z]+&encoding=]` | one item per line; `regex` extracts a field (its first group, else the match) |
| `hsk-zh` | the 4,354 HSK sentences of `hsk-sentences-audio` (simplified Chinese) |
| `names:female` / `names:male` | the 1990 US-Census first names of the `names` package, title-cased |

Every reader yields one `tf.string` scalar per record, in a fixed order; splits are 90/5/5 by record
with common's fixed split seed (hsk-zh stratified by HSK level), so test data never changes.
"""

from __future__ import annotations

import functools
import importlib.util
import re
from pathlib import Path

import numpy as np
import tensorflow as tf

from tfzoo.common.data import DataSplit, carve
from tfzoo.common.errors import DataError, DataNotFound

from . import text as textlib

VAL, TEST = 0.05, 0.05


def _split(records: list[str], split: str, meta: dict, *, labels=None) -> DataSplit:
    labels = np.zeros(len(records), np.int64) if labels is None else np.asarray(labels)
    chosen = carve(labels, val=VAL, test=TEST)[split] if records else np.zeros(0, np.int64)
    part = [records[i] for i in chosen]
    dataset = tf.data.Dataset.from_tensor_slices(tf.constant(part, tf.string, shape=[len(part)]))
    return DataSplit(dataset, len(part), {**meta, "records": len(part),
                                          "characters": sum(len(r) for r in part)})


def _file_lines(path: str, encoding: str) -> tuple[str, ...]:
    stat = Path(path).stat()  # keyed by size and time too: an edited file is read again
    return _cached_lines(path, encoding, stat.st_size, stat.st_mtime_ns)


@functools.lru_cache(maxsize=8)
def _cached_lines(path: str, encoding: str, size: int, mtime: int) -> tuple[str, ...]:
    return tuple(textlib.read_text(path, encoding=encoding).splitlines())


def read_text(arg: str, split: str, *, seed: int = 0, channels=None, on_error: str = "raise",
              encoding: str = "utf-8") -> DataSplit:
    """`text:FILE`: the non-empty lines of a text file in any encoding (`?encoding=gb18030`)."""
    path = _need_file("text", arg)
    records = [line.rstrip() for line in _file_lines(str(path), encoding) if line.strip()]
    if not records:
        raise DataError(f"{path}: no text; expected at least one non-empty line")
    return _split(records, split, {"source": str(path), "encoding": encoding})


def read_lines(arg: str, split: str, *, seed: int = 0, channels=None, on_error: str = "raise",
               encoding: str = "utf-8", regex: str = "") -> DataSplit:
    """`lines:FILE`: one item per line; `?regex=` extracts a field from each (its first group, or the
    whole match), as from the book's `Name：meaning` lines. A line it does not match is a one-line
    error naming the line (`?on_error=skip` drops such lines)."""
    path = _need_file("lines", arg)
    try:
        pattern = re.compile(regex) if regex else None
    except re.error as err:
        raise DataError(f"lines:{path}?regex={regex}: not a valid regular expression ({err})") from None
    records = []
    for number, line in enumerate(_file_lines(str(path), encoding), start=1):
        if not line.strip():
            continue
        if pattern is None:
            records.append(line.strip())
            continue
        match = pattern.search(line)
        if match is None or not (match.group(1) if pattern.groups else match.group(0)).strip():
            if on_error == "skip":
                continue
            raise DataError(f"{path}:{number}: found {line.strip()[:40]!r}, expected a line matching {regex!r}")
        records.append((match.group(1) if pattern.groups else match.group(0)).strip())
    if not records:
        raise DataError(f"{path}: no items; expected one item per line")
    return _split(records, split, {"source": str(path), "encoding": encoding})


@functools.cache
def hsk_sentences() -> tuple[tuple[str, ...], tuple[int, ...], tuple[str, ...]]:
    """(simplified Chinese sentences, HSK levels, English translations) of hsk-sentences-audio."""
    if importlib.util.find_spec("hsk_sentences_audio") is None:
        raise DataNotFound("hsk-zh: the hsk-sentences-audio package is not installed; "
                           "`pip install hsk-sentences-audio` (or pass text:FILE)")
    from hsk_sentences_audio import load_sentences

    rows = load_sentences()
    return (tuple(r["chinese"].strip() for r in rows), tuple(int(r["hsk_level"]) for r in rows),
            tuple(r["translation"]["en"].strip() for r in rows))


def read_hsk_zh(arg: str, split: str, *, seed: int = 0, channels=None, on_error: str = "raise") -> DataSplit:
    """`hsk-zh`: the 4,354 graded HSK sentences (CC-BY-SA-4.0, read from the installed package),
    split 90/5/5 by sentence, stratified by HSK level."""
    if arg:
        raise DataError(f"hsk-zh takes no argument, found hsk-zh:{arg}")
    sentences, levels, _ = hsk_sentences()
    return _split(list(sentences), split, {"source": "hsk-sentences-audio", "language": "zh"}, labels=levels)


@functools.cache
def census_names(kind: str) -> tuple[str, ...]:
    """The `names` package's 1990 Census first names of `kind` (female or male), title-cased, by rank."""
    spec = importlib.util.find_spec("names")
    if spec is None or not spec.submodule_search_locations:
        raise DataNotFound("names: the `names` package is not installed; `pip install names` "
                           "(or pass lines:FILE?regex=^[A-Za-z]+)")
    path = Path(next(iter(spec.submodule_search_locations))) / f"dist.{kind}.first"
    if not path.is_file():
        raise DataNotFound(f"names:{kind}: {path} is absent; expected the names package's dist.{kind}.first")
    out = []
    for number, line in enumerate(path.read_text(encoding="ascii").splitlines(), start=1):
        if not line.strip():
            continue
        name = line.split()[0]
        if not name.isalpha():
            raise DataError(f"{path}:{number}: found {name!r}, expected a name in letters")
        out.append(name.title())
    return tuple(out)


def read_names(arg: str, split: str, *, seed: int = 0, channels=None, on_error: str = "raise") -> DataSplit:
    """`names:female` (4,275) or `names:male` (1,219): title-cased first names, split 90/5/5."""
    kind = arg or "female"
    if kind not in ("female", "male"):
        raise DataError(f"names:{kind}: expected names:female or names:male")
    return _split(list(census_names(kind)), split, {"source": f"names:{kind}", "language": "en"})


def _need_file(scheme: str, arg: str) -> Path:
    if not arg.strip():
        raise DataError(f"{scheme}: needs a file, e.g. {scheme}:/data/corpus.txt")
    path = Path(arg.strip()).expanduser()
    if not path.is_file():
        raise DataNotFound(f"{scheme}:{path}: no such file; expected a plain-text file, one record a line")
    return path


def records(data: DataSplit) -> list[str]:
    """The records of a text split as Python strings."""
    return [r.decode("utf-8") for r in data.dataset.as_numpy_iterator()]


def check_report(split: DataSplit, *, train: DataSplit | None) -> dict:
    """`tfzoo data check`'s text report: records, characters, character vocabulary, the share of
    characters the training split lacks (OOV), and a histogram of record lengths."""
    items = records(split)
    chars = [c for r in items for c in r]
    vocab = set(chars) if train is None else {c for r in records(train) for c in r}
    oov = sum(c not in vocab for c in chars)
    lengths = [len(r) for r in items]
    problems = [f"record {i}: empty, expected text" for i, r in enumerate(items) if not r.strip()][:20]
    return {"records": len(items), "characters": len(chars), "distinct_characters": len(set(chars)),
            "oov_share": round(oov / max(1, len(chars)), 4),
            "length_histogram": textlib.length_histogram(lengths), "problems": problems}
