"""What the character language models (nlp.char-lm, nlp.names) share: the model, its loss, generation.

The model is Embedding -> RNN layers (LSTM or GRU, returning sequences) -> Dense(vocabulary). The same
layers run a whole sequence in training and one token at a time in generation (their cells step
through `tfzoo.nlp.decode`), so a trained model generates without a second copy of its weights.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from tfzoo.nlp.decode import Decoder

LN2 = math.log(2.0)


def build_model(*, vocab_size: int, embedding: int, units: Sequence[int], cell: str = "lstm",
                dropout: float = 0.0, name: str = "char_rnn") -> keras.Model:
    """tokens [B, T] int32 -> logits [B, T, vocab]. RNN layers are named rnn_0, rnn_1, ... and return
    their states too (unused in training, read when a prompt primes generation)."""
    tokens = keras.Input(shape=(None,), dtype="int32", name="tokens")
    x = keras.layers.Embedding(vocab_size, embedding, name="embedding")(tokens)
    layer = {"lstm": keras.layers.LSTM, "gru": keras.layers.GRU}[cell]
    for i, n in enumerate(units):
        x = layer(n, return_sequences=True, return_state=True, name=f"rnn_{i}")(x)[0]
        if dropout:
            x = keras.layers.Dropout(dropout, name=f"dropout_{i}")(x)
    logits = keras.layers.Dense(vocab_size, name="logits")(x)
    return keras.Model(tokens, logits, name=name)


def _rnns(model: keras.Model) -> list[keras.layers.Layer]:
    return [layer for layer in model.layers if layer.name.startswith("rnn_")]


def token_losses(logits: tf.Tensor, targets: tf.Tensor, weights: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """(per-token cross-entropy in nats [B, T], per-example mean over its weighted tokens [B])."""
    ce = keras.losses.sparse_categorical_crossentropy(targets, logits, from_logits=True)
    weights = tf.cast(weights, ce.dtype)
    per_example = tf.reduce_sum(ce * weights, -1) / tf.maximum(tf.reduce_sum(weights, -1), 1.0)
    return ce, per_example


def zero_state(model: keras.Model, batch: int) -> tuple:
    """The initial (zero) state of every RNN layer: LSTM [h, c], GRU [h]."""
    states = []
    for layer in _rnns(model):
        n = 2 if isinstance(layer, keras.layers.LSTM) else 1
        states.append([tf.zeros([batch, layer.units]) for _ in range(n)])
    return tuple(states)


def prime(model: keras.Model, tokens: np.ndarray) -> tuple:
    """The RNN states after reading `tokens` [B, T] (T may be 0)."""
    tokens = np.asarray(tokens, np.int32)
    if tokens.shape[1] == 0:
        return zero_state(model, tokens.shape[0])
    x = model.get_layer("embedding")(tokens)
    states = []
    for layer in _rnns(model):
        out = layer(x, training=False)
        x, state = out[0], list(out[1:])
        states.append(state)
    return tuple(states)


def step_function(model: keras.Model):
    """`step(tokens [N], state) -> (logits [N, V], state)` over the model's own layers (for `Decoder`)."""
    embedding, dense, rnns = model.get_layer("embedding"), model.get_layer("logits"), _rnns(model)

    def step(tokens, state):
        x = embedding(tokens)
        new = []
        for layer, s in zip(rnns, state):
            x, s = layer.cell(x, list(s), training=False)
            new.append(list(s) if isinstance(s, (list, tuple)) else [s])
        return dense(x), tuple(new)

    return step


def decoder(model: keras.Model, *, max_len: int, eos: int = -1, pad: int = 0) -> Decoder:
    """A `Decoder` over the model, cached on it per (max_len, eos) so tf.functions are traced once."""
    cache = model.__dict__.setdefault("_tfzoo_decoders", {})
    key = (int(max_len), int(eos), int(pad))
    if key not in cache:
        cache[key] = Decoder(step_function(model), max_len=max_len, eos=eos, pad=pad)
    return cache[key]


def generate(model: keras.Model, prompts: Sequence[Sequence[int]], *, max_len: int, eos: int = -1, pad: int = 0,
             method: str = "greedy", temperature: float = 1.0, top_k: int = 0, beam: int = 4,
             alpha: float = 0.6, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Continue each prompt (equal lengths, >= 1 token): (tokens [B, max_len], lengths [B])."""
    prompts = np.asarray(prompts, np.int32)
    state = prime(model, prompts[:, :-1])
    first = prompts[:, -1]
    dec = decoder(model, max_len=max_len, eos=eos, pad=pad)
    if method == "beam" and beam > 1:
        tokens, _, lengths = dec.beam(first, state, width=beam, alpha=alpha, n_best=1)
        return tokens.numpy()[:, 0], lengths.numpy()[:, 0]
    if method == "sample":
        tokens, lengths = dec.sample(first, state, temperature=temperature, top_k=top_k, seed=seed)
    else:
        tokens, lengths = dec.greedy(first, state)
    return tokens.numpy(), lengths.numpy()


def codepoint_lookup(vocabulary: Sequence[str], unk: int):
    """A graph function mapping Unicode code points to vocabulary ids (unknown: `unk`).

    Pure tensor ops over constants (sorted code points and a binary search), so it runs inside any
    tf.data pipeline under any strategy, where a lookup-table resource would not travel.
    """
    pairs = sorted((ord(t), i) for i, t in enumerate(vocabulary) if len(t) == 1)
    codes = tf.constant([c for c, _ in pairs] or [-1], tf.int32)
    ids = tf.constant([i for _, i in pairs] or [unk], tf.int32)

    def lookup(cps: tf.Tensor) -> tf.Tensor:
        cps = tf.cast(cps, tf.int32)
        pos = tf.minimum(tf.searchsorted(codes, cps), tf.size(codes) - 1)
        found = tf.equal(tf.gather(codes, pos), cps)
        return tf.where(found, tf.gather(ids, pos), unk)

    return lookup


def cross_entropy_metrics() -> dict[str, keras.metrics.Metric]:
    """Token-weighted streaming loss (nats), bits per token and accuracy."""
    return {name: keras.metrics.Mean(name=name) for name in ("loss", "bits_per_char", "accuracy")}


def update_metrics(metrics: dict[str, keras.metrics.Metric], logits, targets, weights) -> tf.Tensor:
    """Update the `cross_entropy_metrics` on one batch; returns the per-token cross-entropy."""
    ce, _ = token_losses(logits, targets, weights)
    weights = tf.cast(weights, tf.float32)
    correct = tf.cast(tf.equal(tf.argmax(logits, -1, output_type=tf.int32), tf.cast(targets, tf.int32)), tf.float32)
    metrics["loss"].update_state(ce, sample_weight=weights)
    metrics["bits_per_char"].update_state(ce / LN2, sample_weight=weights)
    metrics["accuracy"].update_state(correct, sample_weight=weights)
    return ce


def as_python(values: Any) -> Any:
    """NumPy scalars and arrays as plain Python values for JSON."""
    return np.asarray(values).tolist()
