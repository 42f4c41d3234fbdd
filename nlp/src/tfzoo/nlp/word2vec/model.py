"""nlp.word2vec's model and losses: input vectors, output weights, NCE / sampled softmax / SGNS."""

from __future__ import annotations

import math

import keras
import numpy as np
import tensorflow as tf


@keras.saving.register_keras_serializable(package="tfzoo.nlp")
class Word2VecModel(keras.Model):
    """Input vectors `embeddings` [V, dim] ~ U(-scale, scale), output `out_weights` [V, dim] (truncated normal,
    std 1/sqrt(dim); zeros for SGNS, as word2vec.c's syn1neg) and `out_biases` [V] = 0.

    Called on centre ids [B] (skip-gram) it returns their vectors; on context ids [B, 2w] padded with -1
    (CBOW) the mean of the present ones. `tally` holds the epoch's float64 loss sum and step count.
    """

    def __init__(self, *, vocab_size: int, dim: int, arch: str = "skipgram", loss: str = "nce",
                 init_scale: float = 1.0, **kwargs) -> None:
        super().__init__(**kwargs)
        self.vocab_size, self.dim, self.arch, self.loss, self.init_scale = vocab_size, dim, arch, loss, init_scale
        self.embeddings = self.add_weight(
            shape=(vocab_size, dim), name="embeddings",
            initializer=keras.initializers.RandomUniform(-init_scale, init_scale))
        out_init = "zeros" if loss == "sgns" else keras.initializers.TruncatedNormal(stddev=1.0 / math.sqrt(dim))
        self.out_weights = self.add_weight(shape=(vocab_size, dim), initializer=out_init, name="out_weights")
        self.out_biases = self.add_weight(shape=(vocab_size,), initializer="zeros", name="out_biases")
        # float64, so a long epoch's sum does not stall as float32 (and gensim's tally at 2^27) does.
        self.tally = self.add_weight(shape=(2,), initializer="zeros", dtype="float64", trainable=False,
                                     aggregation="only_first_replica", name="epoch_tally")
        self.built = True

    def call(self, inputs):
        ids = tf.cast(inputs, tf.int32)
        if self.arch == "skipgram":
            return tf.gather(self.embeddings, ids)
        present = tf.cast(ids >= 0, self.embeddings.dtype)[..., None]
        vectors = tf.gather(self.embeddings, tf.maximum(ids, 0)) * present
        return tf.reduce_sum(vectors, -2) / tf.maximum(tf.reduce_sum(present, -2), 1.0)

    def get_config(self):
        return {**super().get_config(), "vocab_size": self.vocab_size, "dim": self.dim, "arch": self.arch,
                "loss": self.loss, "init_scale": self.init_scale}


def build_model(config, vocab_size: int) -> Word2VecModel:
    """The model of `config` over `vocab_size` entries."""
    return Word2VecModel(vocab_size=vocab_size, dim=config.dim, arch=config.arch, loss=config.loss,
                         init_scale=config.init_scale or 0.5 / config.dim, name="word2vec")


def candidates(config, counts: list[int], labels: tf.Tensor):
    """`sampled_values` for nce / sampled_softmax from the configured sampler (unique, as the book)."""
    vocab, k = len(counts), config.negatives
    if config.sampler == "fixed_unigram":
        return tf.random.fixed_unigram_candidate_sampler(
            labels, 1, k, unique=True, range_max=vocab, distortion=config.distortion,
            unigrams=[float(max(c, 0)) for c in counts])
    if config.sampler == "learned_unigram":
        return tf.random.learned_unigram_candidate_sampler(labels, 1, k, unique=True, range_max=vocab)
    return tf.random.log_uniform_candidate_sampler(labels, 1, k, unique=True, range_max=vocab)


def unigram_table(counts, *, power: float = 0.75, size: int = 1_000_000) -> np.ndarray:
    """word2vec.c's negative-sampling table: ids in proportion to count^power."""
    p = np.asarray(counts, np.float64) ** power
    if p.sum() <= 0:
        p = np.ones_like(p)
    cumulative = np.cumsum(p / p.sum())
    return np.minimum(np.searchsorted(cumulative, (np.arange(size) + 0.5) / size), len(p) - 1).astype(np.int32)


def draw_negatives(table: tf.Tensor, positives: tf.Tensor, k: int, seed: tf.Tensor, vocab_size: int) -> tf.Tensor:
    """[B, k] ids from `table` none of which equals its row's positive (the TF tutorial's negatives could,
    tensorflow/text#1228): collisions are redrawn, and any left after 8 rounds move to the next id."""
    positives = tf.cast(positives, tf.int32)[:, None]
    shape = tf.stack([tf.shape(positives)[0], k])
    size = tf.shape(table)[0]

    def draw(round_):
        index = tf.random.stateless_uniform(shape, seed=tf.cast(seed, tf.int64) + tf.constant([0, round_], tf.int64), maxval=size, dtype=tf.int32)
        return tf.gather(table, index)

    negatives = draw(0)
    for round_ in range(1, 9):
        negatives = tf.where(tf.equal(negatives, positives), draw(round_), negatives)
    return tf.where(tf.equal(negatives, positives), (negatives + 1) % vocab_size, negatives)


def sgns_loss(model: Word2VecModel, vectors: tf.Tensor, positives: tf.Tensor, negatives: tf.Tensor) -> tf.Tensor:
    """Per-example negative sampling loss: -log σ(v·u+) - Σ log σ(-v·u-)."""
    pos = tf.gather(model.out_weights, tf.cast(positives, tf.int32))
    neg = tf.gather(model.out_weights, negatives)
    pos_logit = tf.reduce_sum(vectors * pos, -1)
    neg_logit = tf.einsum("bd,bkd->bk", vectors, neg)
    return tf.nn.softplus(-pos_logit) + tf.reduce_sum(tf.nn.softplus(neg_logit), -1)


def pair_losses(config, model: Word2VecModel, counts, table, centre: tf.Tensor, contexts: tf.Tensor,
                seed) -> tuple[tf.Tensor, tf.Tensor]:
    """The configured loss of every (input, target) pair of a batch and the pairs' mask, both [B, P]:
    skip-gram trains the centre -> each of its 2w context slots (P = 2w), CBOW the mean of the
    contexts -> the centre (P = 1). Slots holding -1 are masked out (CBOW: rows without a context)."""
    present = contexts >= 0
    if config.arch == "cbow":
        vectors = model(contexts)[:, None, :]
        targets, mask = tf.cast(centre, tf.int32)[:, None], tf.reduce_any(present, -1, keepdims=True)
    else:
        vectors = model(centre)[:, None, :]
        targets, mask = tf.maximum(tf.cast(contexts, tf.int32), 0), present
    shape = tf.shape(targets)
    # Only the pairs present are scored (most slots of a shrunk, subsampled window are empty), then
    # scattered back into [B, P] with zeros elsewhere.
    where = tf.where(tf.reshape(mask, [-1]))
    inputs = tf.gather_nd(tf.reshape(tf.broadcast_to(vectors, tf.concat([shape, [model.dim]], 0)), [-1, model.dim]),
                          where)
    flat = tf.gather_nd(tf.reshape(targets, [-1]), where)
    if config.loss == "sgns":
        per_pair = sgns_loss(model, inputs, flat, draw_negatives(table, flat, config.negatives, seed, model.vocab_size))
    else:
        labels = tf.cast(flat, tf.int64)[:, None]
        # remove_accidental_hits: a sampled negative equal to the true word is masked out of the loss.
        fn = tf.nn.nce_loss if config.loss == "nce" else tf.nn.sampled_softmax_loss
        per_pair = fn(weights=model.out_weights, biases=model.out_biases, labels=labels, inputs=inputs,
                      num_sampled=config.negatives, num_classes=model.vocab_size,
                      sampled_values=candidates(config, counts, labels), remove_accidental_hits=True)
    per_pair = tf.scatter_nd(where, per_pair, tf.cast(tf.reshape(tf.reduce_prod(shape), [1]), tf.int64))
    return tf.reshape(per_pair, shape), tf.cast(mask, tf.float32)
