"""Text handling shared by every nlp task: encodings, Chinese and English tokens, the vocabulary, buckets.

- `read_text(path, encoding=)`: UTF-8 by default; "gbk"/"gb2312" read as gb18030 (their superset), and
  a bad byte is a one-line `DataError` naming the file and line.
- `segment(text, user_dict=)`: jieba in exact mode with user dictionaries; the special tokens
  (`_PAD _GO _EOS _UNK _NUM _SEP`) always stay whole; jieba's cache lives under tfzoo's cache.
- `english_tokens(text, lower=)`: split on whitespace and punctuation (punctuation kept as tokens).
- `Vocabulary`: `_PAD`=0, `_GO`=1, `_EOS`=2, `_UNK`=3, then tokens by frequency; `max_size`, `min_count`;
  one token a line on disk; out-of-vocabulary tokens map to `_UNK`.
- `auto_boundaries` and `bucketed`: length buckets from quantiles over common's `bucket_by_sequence_length`.
"""

from __future__ import annotations

import functools
import logging
import re
import warnings
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from tfzoo.common.errors import DataError, DataNotFound

PAD, GO, EOS, UNK, NUM, SEP = "_PAD", "_GO", "_EOS", "_UNK", "_NUM", "_SEP"
SPECIALS = (PAD, GO, EOS, UNK)
# Every token jieba must never split (the book's myjiebadict.txt, S0 L16425-L16432).
WHOLE = (PAD, GO, EOS, UNK, NUM, SEP)
_WHOLE_RE = re.compile("(" + "|".join(map(re.escape, WHOLE)) + ")")
# GB2312 and GBK are subsets of GB18030, so one codec reads the books' files (S0 L11150, L16372).
_ALIASES = {"gbk": "gb18030", "gb2312": "gb18030", "cp936": "gb18030", "utf8": "utf-8"}


def codec(encoding: str) -> str:
    """The codec that reads `encoding` (GBK and GB2312 are read as their superset GB18030)."""
    name = encoding.strip().lower().replace("_", "-")
    return _ALIASES.get(name, name)


def decode_bytes(data: bytes, *, encoding: str = "utf-8", where: str = "<bytes>") -> str:
    """`data` as text; a byte that is not `encoding` is a one-line DataError naming `where` and the line."""
    name = codec(encoding)
    try:
        text = data.decode(name)
    except LookupError:
        raise DataError(f"{where}: unknown encoding {encoding!r}; expected e.g. utf-8 or gb18030") from None
    except UnicodeDecodeError as err:
        line = data[: err.start].count(b"\n") + 1
        raise DataError(f"{where}:{line}: found byte 0x{data[err.start]:02x}, expected {encoding} text "
                        f"(for GBK/GB2312 files use encoding=gb18030)") from None
    return text.removeprefix("\ufeff")  # a UTF-8 byte-order mark is not text


def read_text(path: str | Path, *, encoding: str = "utf-8") -> str:
    """The text of a file; absent files raise DataNotFound, bad bytes a DataError naming the line."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise DataNotFound(f"{path}: no such file; expected a plain-text file ({encoding})")
    return decode_bytes(path.read_bytes(), encoding=encoding, where=str(path))


# ----- tokens ---------------------------------------------------------------------------------------------
def _jieba_module():
    with warnings.catch_warnings():  # jieba 0.42's regexes have invalid escapes: noise for our users
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", SyntaxWarning)
        import jieba
    jieba.setLogLevel(logging.WARNING)
    return jieba


@functools.cache
def tokenizer(user_dict: tuple[str, ...] = ()):
    """A jieba `Tokenizer` with `user_dict` files loaded; one per dictionary set, so runs do not mix them.

    Its dictionary cache goes under tfzoo's cache folder, not the system temporary directory, so
    parallel tests do not race on one file.
    """
    from tfzoo.common.cache import cache_dir

    jieba = _jieba_module()
    tok = jieba.Tokenizer()
    tok.tmp_dir = str(cache_dir("jieba"))
    for path in user_dict:
        if not Path(path).is_file():
            raise DataNotFound(f"{path}: no such jieba user dictionary; expected lines `word [freq] [pos]`")
        tok.load_userdict(str(path))
    for token in WHOLE:
        tok.add_word(token, freq=10**6)
    return tok


def normalize_digits(text: str) -> str:
    """Every run of digits replaced by `_NUM` (S0 L16435-L16519)."""
    return re.sub(r"\d+", NUM, text)


def segment(text: str, *, user_dict: Sequence[str] = (), digits: bool = False) -> list[str]:
    """Chinese words by jieba in exact mode; special tokens stay whole, whitespace is dropped.

    `digits=True` replaces digit runs with `_NUM` first.
    """
    if digits:
        text = normalize_digits(text)
    tok = tokenizer(tuple(str(p) for p in user_dict))
    words: list[str] = []
    for piece in _WHOLE_RE.split(text):
        if piece in WHOLE:
            words.append(piece)
        elif piece:
            words.extend(w for w in tok.lcut(piece, cut_all=False) if w.strip())
    return words


_EN_TOKEN = re.compile(r"_(?:PAD|GO|EOS|UNK|NUM|SEP)\b|\w+(?:['’]\w+)*|[^\w\s]", re.UNICODE)


def english_tokens(text: str, *, lower: bool = False, digits: bool = False) -> list[str]:
    """Tokens split on whitespace and punctuation, each punctuation mark a token; the book keeps case."""
    if digits:
        text = normalize_digits(text)
    tokens = _EN_TOKEN.findall(text)
    return [t if t in WHOLE else t.lower() for t in tokens] if lower else tokens


def characters(text: str) -> list[str]:
    """The characters of a text (the char-LM's tokens)."""
    return list(text)


# ----- vocabulary -------------------------------------------------------------------------------------------
class Vocabulary:
    """Tokens by id: the special tokens first (`_PAD`=0, `_GO`=1, `_EOS`=2, `_UNK`=3), then by frequency.

    `encode` maps out-of-vocabulary tokens to `_UNK`; `save`/`load` write one token a line.
    """

    def __init__(self, tokens: Sequence[str], *, specials: Sequence[str] = SPECIALS) -> None:
        self.tokens = list(tokens)
        self.specials = tuple(specials)
        if self.tokens[: len(self.specials)] != list(self.specials):
            raise DataError(f"vocabulary starts with {self.tokens[:len(self.specials)]}, expected {list(self.specials)}")
        if len(set(self.tokens)) != len(self.tokens):
            dup = next(t for t, n in Counter(self.tokens).items() if n > 1)
            raise DataError(f"vocabulary lists {dup!r} twice; expected each token once")
        self.ids = {t: i for i, t in enumerate(self.tokens)}
        self.unk = self.ids.get(UNK, 0)

    @classmethod
    def build(cls, sequences: Iterable[Iterable[str]], *, max_size: int = 0, min_count: int = 1,
              specials: Sequence[str] = SPECIALS) -> Vocabulary:
        """The vocabulary of `sequences`: tokens seen at least `min_count` times, the most frequent first
        (ties in first-seen order), at most `max_size` entries in all (0: no limit)."""
        counts: Counter = Counter()
        for seq in sequences:
            counts.update(seq)
        return cls.from_counts(counts, max_size=max_size, min_count=min_count, specials=specials)

    @classmethod
    def from_counts(cls, counts: Counter, *, max_size: int = 0, min_count: int = 1,
                    specials: Sequence[str] = SPECIALS) -> Vocabulary:
        """As `build`, from token counts."""
        ranked = [t for t, n in counts.most_common() if n >= min_count and t not in specials]
        if max_size:
            ranked = ranked[: max(0, max_size - len(specials))]
        vocab = cls([*specials, *ranked], specials=specials)
        vocab.counts = [0] * len(specials) + [counts[t] for t in ranked]
        return vocab

    def __len__(self) -> int:
        return len(self.tokens)

    def __contains__(self, token: str) -> bool:
        return token in self.ids

    def encode(self, tokens: Iterable[str]) -> list[int]:
        """Ids of `tokens`; unknown ones are `_UNK`."""
        return [self.ids.get(t, self.unk) for t in tokens]

    def decode(self, ids: Iterable[int], *, strip: bool = True) -> list[str]:
        """Tokens of `ids`; `strip` stops at `_EOS` and drops `_PAD` and `_GO`."""
        out = []
        for i in ids:
            token = self.tokens[int(i)] if 0 <= int(i) < len(self.tokens) else UNK
            if strip and token == EOS:
                break
            if strip and token in (PAD, GO):
                continue
            out.append(token)
        return out

    def unknown(self, tokens: Iterable[str]) -> list[str]:
        """The distinct tokens of `tokens` that are not in the vocabulary, in order of appearance."""
        return list(dict.fromkeys(t for t in tokens if t not in self.ids))

    def save(self, path: str | Path) -> Path:
        """Write one token a line (UTF-8)."""
        path = Path(path)
        path.write_text("".join(t.replace("\n", "\\n") + "\n" for t in self.tokens), encoding="utf-8")
        return path

    @classmethod
    def load(cls, path: str | Path, *, specials: Sequence[str] = SPECIALS) -> Vocabulary:
        """Read a vocabulary written by `save`."""
        text = read_text(path)
        return cls([t.replace("\\n", "\n") for t in text.split("\n")[:-1]], specials=specials)


# ----- buckets ----------------------------------------------------------------------------------------------
def auto_boundaries(lengths: Sequence[int], *, buckets: int = 4) -> tuple[int, ...]:
    """Bucket boundaries at the length quantiles (`buckets=auto`): ascending, distinct, at least 1."""
    if len(lengths) == 0:
        return (1,)
    qs = np.quantile(np.asarray(lengths), np.linspace(0, 1, buckets + 1)[1:-1])
    bounds = sorted({max(1, int(np.ceil(q)) + 1) for q in qs})
    return tuple(bounds) or (int(max(lengths)) + 1,)


def bucketed(dataset: Any, *, batch_size: int, split: str, length: Callable[..., Any],
             boundaries: Sequence[int], padding_values: Any = None) -> Any:
    """Padded batches of similar length (`tf.data.Dataset.bucket_by_sequence_length` via common)."""
    from tfzoo.common import batching

    return batching.bucketed(dataset, batch_size=batch_size, split=split, length=length,
                             boundaries=boundaries, padding_values=padding_values)


def length_histogram(lengths: Sequence[int], *, bins: int = 8) -> dict[str, int]:
    """Counts of lengths in `bins` equal ranges, keyed "lo-hi" (for `tfzoo data check`)."""
    if len(lengths) == 0:
        return {}
    lengths = np.asarray(lengths)
    hi = int(lengths.max())
    edges = np.unique(np.linspace(int(lengths.min()), hi + 1, bins + 1).astype(int))
    counts, _ = np.histogram(lengths, bins=edges)
    return {f"{a}-{b - 1}": int(c) for a, b, c in zip(edges[:-1], edges[1:], counts)}
