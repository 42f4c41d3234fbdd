"""nlp.names' data: names as strings, mapped to the book's fixed ASCII vocabulary per example."""

from __future__ import annotations

from collections import Counter

import tensorflow as tf

from tfzoo.common.data import resolve
from tfzoo.nlp.readers import records
from tfzoo.nlp.text import GO, PAD, UNK, Vocabulary

# pad, printable ASCII 32-126, unknown: 97 symbols (S4 L1311-L1322); the start token comes last.
TOKENS = (PAD, *(chr(c) for c in range(32, 127)), UNK, GO)


def vocabulary() -> Vocabulary:
    """The fixed vocabulary: `_PAD`=0 (also the end of a name), ' '..'~' = 1..95, `_UNK`=96, `_GO`=97."""
    return Vocabulary(TOKENS, specials=(PAD,))


def load_split(config, split: str):
    """The names of one split (tf.string scalars)."""
    return resolve(config.data, split)


def names(config, split: str) -> list[str]:
    """The names of one split as Python strings."""
    return records(load_split(config, split))


def first_letters(config) -> dict[str, int]:
    """How often each first letter starts a training name (bos=False samples the first letter from it)."""
    return dict(Counter(n[0] for n in names(config, "train") if n).most_common())


def encode(name: tf.Tensor, *, bos: bool) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
    """(input, target, weights): the target is the input shifted left with the pad appended
    ("ANNA" -> "NNA_PAD", S4 L1389-L1403); with `bos` the input starts with `_GO`."""
    cps = tf.strings.unicode_decode(name, "UTF-8")
    ids = tf.where((cps >= 32) & (cps <= 126), cps - 31, TOKENS.index(UNK))
    end = tf.constant([0], tf.int32)
    if bos:
        x = tf.concat([[TOKENS.index(GO)], ids], 0)
        y = tf.concat([ids, end], 0)
    else:
        x, y = ids, tf.concat([ids[1:], end], 0)
    return x, y, tf.ones_like(x, tf.float32)
