"""Decoding shared by every generator of the domain: greedy, beam search and sampling, in `tf.function`.

A generator supplies one step, `step(tokens [N] int32, state) -> (logits [N, V], state)`, where
`state` is any nest of `[N, ...]` tensors (RNN states). A `Decoder` runs it up to `max_len` tokens
from a first token per sequence:

    decoder = Decoder(step, max_len=32, eos=2)
    tokens, lengths = decoder.greedy(first, state)                       # [B, T], [B]
    tokens, lengths = decoder.sample(first, state, temperature=0.8, top_k=10, seed=1)
    tokens, scores, lengths = decoder.beam(first, state, width=4, alpha=0.6, n_best=2)  # [B, n, T]

After a sequence's end token every later position holds `pad`; `lengths` count the tokens up to and
including the end token (`max_len` when none came: truncated). Beam search ranks hypotheses by
log-probability over the GNMT length penalty ((5 + |y|) / 6)^alpha, ends each beam on its own end
token, and with width 1 picks exactly what greedy picks.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import tensorflow as tf

Step = Callable[[tf.Tensor, Any], tuple[tf.Tensor, Any]]
NEG_INF = -1e9


def length_penalty(length: tf.Tensor, alpha: float | tf.Tensor) -> tf.Tensor:
    """GNMT's ((5 + |y|) / 6)^alpha."""
    return tf.pow((5.0 + tf.cast(length, tf.float32)) / 6.0, alpha)


def _mask_after_eos(tokens: tf.Tensor, eos: int, pad: int) -> tuple[tf.Tensor, tf.Tensor]:
    """Tokens with `pad` after the first `eos`, and lengths up to and including it."""
    is_eos = tf.cast(tf.equal(tokens, eos), tf.int32) if eos >= 0 else tf.zeros_like(tokens)
    seen = tf.cumsum(is_eos, axis=-1, exclusive=True) > 0
    tokens = tf.where(seen, tf.cast(pad, tokens.dtype), tokens)
    lengths = tf.reduce_sum(tf.cast(~seen, tf.int32), axis=-1)
    return tokens, lengths


class Decoder:
    """Greedy, beam and sampled decoding of one `step` function, each compiled once (per beam width)."""

    def __init__(self, step: Step, *, max_len: int, eos: int = -1, pad: int = 0) -> None:
        if max_len < 1:
            raise ValueError(f"max_len={max_len}; expected >= 1")
        self.step, self.max_len, self.eos, self.pad = step, int(max_len), int(eos), int(pad)
        self._greedy = tf.function(self._run_greedy, reduce_retracing=True)
        self._sample = tf.function(self._run_sample, reduce_retracing=True)
        self._beams: dict[tuple, Any] = {}

    # ----- greedy and sampling share one loop ---------------------------------------------------------------
    def _loop(self, first, state, pick):
        first = tf.cast(first, tf.int32)
        out = tf.TensorArray(tf.int32, size=self.max_len)
        token = first
        done = tf.zeros_like(first, tf.bool)
        for t in tf.range(self.max_len):
            logits, state = self.step(token, state)
            token = tf.cast(pick(tf.cast(logits, tf.float32), t), tf.int32)
            token = tf.where(done, self.pad, token)
            out = out.write(t, token)
            if self.eos >= 0:
                done = done | tf.equal(token, self.eos)
        return _mask_after_eos(tf.transpose(out.stack()), self.eos, self.pad)

    def _run_greedy(self, first, state):
        return self._loop(first, state, lambda logits, t: tf.argmax(logits, -1, output_type=tf.int32))

    def _run_sample(self, first, state, temperature, top_k, seed):
        def pick(logits, t):
            logits = logits / tf.maximum(temperature, 1e-6)
            k = tf.where(top_k > 0, tf.minimum(top_k, tf.shape(logits)[-1]), tf.shape(logits)[-1])
            kth = tf.math.top_k(logits, k=k).values[:, -1:]
            logits = tf.where(logits < kth, NEG_INF, logits)  # keep the k best (ties kept)
            draw = tf.random.stateless_categorical(logits, 1, seed=tf.stack([seed, tf.cast(t, tf.int64)]))
            return draw[:, 0]

        return self._loop(first, state, pick)

    def greedy(self, first, state) -> tuple[tf.Tensor, tf.Tensor]:
        """The most probable next token at every step: (tokens [B, max_len], lengths [B])."""
        return self._greedy(tf.convert_to_tensor(first, tf.int32), state)

    def sample(self, first, state, *, temperature: float = 1.0, top_k: int = 0,
               seed: int = 0) -> tuple[tf.Tensor, tf.Tensor]:
        """Multinomial sampling from softmax(logits / temperature), among the `top_k` best (0: all)."""
        if temperature <= 0:
            return self.greedy(first, state)
        return self._sample(tf.convert_to_tensor(first, tf.int32), state, tf.constant(float(temperature)),
                            tf.constant(int(top_k)), tf.constant(int(seed), tf.int64))

    # ----- beam search ---------------------------------------------------------------------------------
    def beam(self, first, state, *, width: int = 4, alpha: float = 0.6,
             n_best: int = 1) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
        """Beam search: (tokens [B, n_best, max_len], scores [B, n_best], lengths [B, n_best]), best first.

        A score is the hypothesis' log-probability over the length penalty.
        """
        if width < 1 or not 1 <= n_best <= width:
            raise ValueError(f"width={width}, n_best={n_best}; expected 1 <= n_best <= width")
        first = tf.convert_to_tensor(first, tf.int32)
        state = tf.nest.map_structure(tf.convert_to_tensor, state)
        # Batch dimensions are left open in the signature: beams reorder and reshape them in the loop.
        specs = (tf.TensorSpec([None], tf.int32),
                 tf.nest.map_structure(lambda s: tf.TensorSpec([None, *s.shape[1:]], s.dtype), state),
                 tf.TensorSpec([], tf.float32))
        key = (int(width), int(n_best), repr(specs))
        if key not in self._beams:
            self._beams[key] = tf.function(
                lambda f, s, a: self._run_beam(f, s, a, width=int(width), n_best=int(n_best)), input_signature=specs)
        return self._beams[key](first, state, tf.constant(float(alpha)))

    def _run_beam(self, first, state, alpha, *, width: int, n_best: int):
        batch = tf.shape(first)[0]

        def tile(x):  # [B, ...] -> [B * W, ...], each sequence's beams next to each other
            return tf.repeat(x, width, axis=0)

        token = tile(first)
        state = tf.nest.map_structure(tile, state)
        # Only the first beam is live at the start, so the W beams do not all pick the same token.
        logp = tf.tile(tf.concat([[0.0], tf.fill([width - 1], NEG_INF)], 0)[None], [batch, 1])
        finished = tf.zeros([batch, width], tf.bool)
        lengths = tf.zeros([batch, width], tf.int32)
        history = tf.zeros([batch, width, 0], tf.int32)
        for _ in tf.range(self.max_len):
            tf.autograph.experimental.set_loop_options(
                shape_invariants=[(history, tf.TensorShape([None, width, None])), (logp, tf.TensorShape([None, width])),
                                  (finished, tf.TensorShape([None, width])), (lengths, tf.TensorShape([None, width]))])
            logits, state = self.step(token, state)
            vocab = tf.shape(logits)[-1]
            step_logp = tf.reshape(tf.nn.log_softmax(tf.cast(logits, tf.float32)), [batch, width, -1])
            # A finished beam continues only with padding, at no cost, so its score stays as it was.
            pad_only = tf.where(tf.range(vocab) == self.pad, 0.0, NEG_INF)
            step_logp = tf.where(finished[..., None], pad_only[None, None], step_logp)
            total = logp[..., None] + step_logp  # [B, W, V]
            new_len = tf.where(finished, lengths, lengths + 1)
            score = total / length_penalty(new_len, alpha)[..., None]
            best = tf.math.top_k(tf.reshape(score, [batch, -1]), k=width)
            beam_of = best.indices // vocab
            token_of = best.indices % vocab
            logp = tf.gather(tf.reshape(total, [batch, -1]), best.indices, batch_dims=1)
            was_finished = tf.gather(finished, beam_of, batch_dims=1)
            lengths = tf.gather(new_len, beam_of, batch_dims=1)
            history = tf.concat([tf.gather(history, beam_of, batch_dims=1), token_of[..., None]], axis=-1)
            finished = was_finished | (tf.equal(token_of, self.eos) if self.eos >= 0 else False)
            flat = tf.reshape(beam_of + tf.range(batch)[:, None] * width, [-1])
            state = tf.nest.map_structure(lambda s, flat=flat: tf.gather(s, flat), state)
            token = tf.reshape(token_of, [-1])
        scores = logp / length_penalty(lengths, alpha)
        order = tf.argsort(scores, axis=-1, direction="DESCENDING", stable=True)[:, :n_best]
        tokens = tf.gather(history, order, batch_dims=1)
        tokens, lengths = _mask_after_eos(tokens, self.eos, self.pad)
        return tokens, tf.gather(scores, order, batch_dims=1), lengths
