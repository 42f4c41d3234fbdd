"""nlp.word2vec's data: tokens, the vocabulary, and every centre word with its window.

An example is `(centre, contexts [2 * window])`, contexts -1 beyond the record, so a context never
crosses a sentence or wraps around the corpus (the book's wrap-around repeated one centre word,
S0 L15146). Which of them train is drawn at every step (`draw`: subsampling, window shrinking,
`num_skips`) with stateless seeds from the step, so each epoch draws anew, as word2vec.c and gensim do,
and a resumed run draws exactly what an uninterrupted one would. Skip-gram trains centre -> each
context; CBOW trains the mean of the contexts -> centre.
"""

from __future__ import annotations

import functools
from collections import Counter

import numpy as np
import tensorflow as tf

from tfzoo.common.data import DataSplit, resolve
from tfzoo.nlp import text as textlib
from tfzoo.nlp.readers import records

UNK_ONLY = (textlib.UNK,)  # word2vec's vocabulary: _UNK = 0 (the book's), then words by frequency


def _is_cjk(ch: str) -> bool:
    return "\u4e00" <= ch <= "\u9fff" or "\u3400" <= ch <= "\u4dbf"


def tokenizer(config, sample: list[str]):
    """The tokenizer `config.tokens` names ("auto": jieba when most letters of `sample` are CJK)."""
    kind = config.tokens
    if kind == "auto":
        letters = [c for r in sample[:200] for c in r if c.isalpha()]
        kind = "jieba" if letters and sum(map(_is_cjk, letters)) > 0.3 * len(letters) else "english"
    digits = config.normalize_digits
    if kind == "jieba":
        return lambda s: textlib.segment(s, user_dict=config.user_dict, digits=digits)
    if kind == "english":
        return lambda s: [t for t in textlib.english_tokens(s, lower=config.lower, digits=digits) if t.isalnum() or
                          t in textlib.WHOLE]
    if kind == "chars":
        return lambda s: [c for c in s if not c.isspace()]
    return lambda s: (textlib.normalize_digits(s) if digits else s).split()


@functools.lru_cache(maxsize=16)
def sentences(spec: str, split: str, tokens: str, lower: bool, user_dict: tuple, digits: bool) -> tuple:
    """The token lists of one split (cached: jieba over a corpus takes seconds)."""
    from types import SimpleNamespace

    recs = records(resolve(spec, split))
    options = SimpleNamespace(tokens=tokens, lower=lower, user_dict=user_dict, normalize_digits=digits)
    cut = tokenizer(options, records(resolve(spec, "train")) if tokens == "auto" else [])
    return tuple(tuple(cut(r)) for r in recs)


def split_sentences(config, split: str) -> tuple:
    """`sentences` of a split under `config`'s tokenisation."""
    return sentences(config.data, split, config.tokens, config.lower, tuple(config.user_dict), config.normalize_digits)


def vocabulary(config) -> textlib.Vocabulary:
    """_UNK, then the training split's words with at least `min_count` uses, the most frequent first.

    `counts` holds each entry's corpus count (_UNK: the words it replaces, or `unk_count` when set).
    """
    counts = Counter(t for s in split_sentences(config, "train") for t in s)
    vocab = textlib.Vocabulary.from_counts(counts, max_size=config.max_vocab, min_count=config.min_count,
                                           specials=UNK_ONLY)
    unknown = sum(counts.values()) - sum(vocab.counts)
    vocab.counts[0] = config.unk_count if config.unk_count >= 0 else unknown
    return vocab


def keep_probability(counts: np.ndarray, threshold: float) -> np.ndarray:
    """word2vec.c's subsampling: keep a word of frequency f with (sqrt(f / t) + 1) * t / f, at most 1."""
    counts = np.asarray(counts, np.float64)
    if threshold <= 0:
        return np.ones_like(counts)
    limit = threshold * counts.sum()
    with np.errstate(divide="ignore", invalid="ignore"):
        p = (np.sqrt(counts / limit) + 1.0) * limit / counts
    return np.where(counts > 0, np.minimum(p, 1.0), 1.0)


def encode(config, vocab: textlib.Vocabulary, split: str) -> list[np.ndarray]:
    """Each sentence as ids; rare words dropped (or _UNK with keep_unk)."""
    out = []
    for sentence in split_sentences(config, split):
        ids = np.asarray(vocab.encode(sentence), np.int32)
        out.append(ids if config.keep_unk else ids[ids != 0])
    return out


def windows(config, ids: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Every position of every sentence of 2 or more words with its full window: (centre [N],
    contexts [N, 2 * window]), contexts ordered by offset -w..-1, 1..w and -1 outside the sentence."""
    w = config.window
    offsets = np.r_[np.arange(-w, 0), np.arange(1, w + 1)]
    centres, contexts = [np.zeros(0, np.int32)], [np.zeros((0, 2 * w), np.int32)]
    for sentence in ids:
        n = len(sentence)
        if n < 2:
            continue
        where = np.arange(n)[:, None] + offsets[None, :]
        inside = (where >= 0) & (where < n)
        centres.append(sentence.astype(np.int32))
        contexts.append(np.where(inside, sentence[np.clip(where, 0, n - 1)], -1).astype(np.int32))
    return np.concatenate(centres), np.concatenate(contexts)


def draw(config, keep: tf.Tensor, centre: tf.Tensor, contexts: tf.Tensor, seed: tf.Tensor):
    """The contexts a batch trains on, drawn afresh at every step from the stateless `seed` [2], so every
    epoch sees new draws and a resumed run the same ones: frequent words subsampled (centre and contexts,
    with probabilities `keep`), each centre's window shrunk to 1..window, and `num_skips` contexts kept
    per centre. Returns (contexts with -1 where dropped, example weights: 1 where the centre is kept and
    has a context)."""
    w = config.window
    batch = tf.shape(centre)[0]
    seed = tf.cast(seed, tf.int64)
    present = contexts >= 0
    centre_kept = tf.ones([batch], tf.bool)
    if config.subsample > 0:
        u = tf.random.stateless_uniform(tf.stack([batch, 1 + 2 * w]), seed=seed)
        centre_kept = u[:, 0] < tf.gather(keep, centre)
        present &= u[:, 1:] < tf.gather(keep, tf.maximum(contexts, 0))
    if config.shrink_window:
        span = tf.random.stateless_uniform(tf.stack([batch, 1]), seed=seed + tf.constant([0, 1], tf.int64),
                                           minval=1, maxval=w + 1, dtype=tf.int32)
        distance = tf.constant(np.r_[np.arange(w, 0, -1), np.arange(1, w + 1)], tf.int32)
        present &= distance[None, :] <= span
    if config.num_skips and config.num_skips < 2 * w:
        keys = tf.random.stateless_uniform(tf.shape(contexts), seed=seed + tf.constant([0, 2], tf.int64))
        keys = tf.where(present, keys, -1.0)
        kth = tf.math.top_k(keys, k=config.num_skips).values[:, -1:]
        present &= keys >= kth
    weight = tf.cast(centre_kept & tf.reduce_any(present, -1), tf.float32)
    return tf.where(present, contexts, -1), weight


@functools.lru_cache(maxsize=4)
def _cached_vocab(key):
    return vocabulary(key)


def load_split(config, split: str) -> DataSplit:
    """(centre, full-window contexts) of every position of one split; the vocabulary is the training
    split's. Which contexts train is drawn per step (`draw`)."""
    vocab = _cached_vocab(config)
    centre, contexts = windows(config, encode(config, vocab, split))
    tokens = sum(len(s) for s in split_sentences(config, split))
    return DataSplit(tf.data.Dataset.from_tensor_slices((centre, contexts)), len(centre),
                     {"tokens": tokens, "centres": len(centre), "vocabulary_size": len(vocab)})
