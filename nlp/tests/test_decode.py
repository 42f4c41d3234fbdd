"""tfzoo.nlp.decode: greedy, beam search and sampling over a fixed toy step function."""

import numpy as np
import tensorflow as tf

from tfzoo.nlp.decode import Decoder, length_penalty

V, EOS = 6, 2


def _table(seed):
    # A random Markov chain over V tokens whose state counts steps (so state reordering is exercised).
    return tf.constant(np.random.default_rng(seed).normal(size=(V, V)) * 2.0, tf.float32)


def _step(table):
    def step(tokens, state):
        logits = tf.gather(table, tokens) + 0.01 * tf.cast(state, tf.float32)[:, None]
        return logits, state + 1

    return step


def test_beam_width_one_equals_greedy():
    for seed in range(5):
        decoder = Decoder(_step(_table(seed)), max_len=12, eos=EOS)
        first = tf.constant([0, 1, 3, 4, 5])
        state = tf.zeros([5], tf.int32)
        tokens, lengths = decoder.greedy(first, state)
        beam, scores, beam_lengths = decoder.beam(first, state, width=1, alpha=0.6)
        np.testing.assert_array_equal(beam[:, 0].numpy(), tokens.numpy())
        np.testing.assert_array_equal(beam_lengths[:, 0].numpy(), lengths.numpy())


def test_greedy_stops_at_eos_and_pads():
    table = np.full((V, V), -5.0, np.float32)
    table[0, 3] = table[3, 4] = table[4, EOS] = table[EOS, 1] = 5.0
    decoder = Decoder(_step(tf.constant(table)), max_len=6, eos=EOS)
    tokens, lengths = decoder.greedy([0], tf.zeros([1], tf.int32))
    assert tokens.numpy().tolist() == [[3, 4, EOS, 0, 0, 0]] and lengths.numpy().tolist() == [3]
    never = Decoder(_step(tf.constant(table)), max_len=2, eos=EOS)
    _, lengths = never.greedy([0], tf.zeros([1], tf.int32))
    assert lengths.numpy().tolist() == [2]  # truncated


def test_beam_beats_greedy_and_ranks_n_best():
    # Greedy takes 1 (p=0.55) and then a flat distribution; beam finds 3 -> EOS, which is likelier overall.
    logp = np.log(np.full((V, V), 1.0 / V, np.float32))
    logp[0] = np.log([1e-3, 0.55, 1e-3, 0.44, 1e-3, 1e-3 + 0.007])
    logp[3] = np.log([1e-3, 1e-3, 0.995, 1e-3, 1e-3, 1e-3])
    decoder = Decoder(_step(tf.constant(logp)), max_len=3, eos=EOS)
    greedy, _ = decoder.greedy([0], tf.zeros([1], tf.int32))
    assert greedy.numpy()[0, 0] == 1
    tokens, scores, lengths = decoder.beam([0], tf.zeros([1], tf.int32), width=3, alpha=0.0, n_best=3)
    assert tokens.numpy()[0, 0].tolist() == [3, EOS, 0] and lengths.numpy()[0, 0] == 2
    assert (np.diff(scores.numpy()[0]) <= 1e-6).all()  # best first
    norm = logp - np.log(np.exp(logp).sum(-1, keepdims=True))  # the decoder's log-softmax of each row
    np.testing.assert_allclose(scores.numpy()[0, 0], norm[0, 3] + norm[3, EOS], rtol=1e-5)


def test_length_penalty_formula():
    np.testing.assert_allclose(length_penalty(tf.constant(7), 0.6).numpy(), ((5 + 7) / 6) ** 0.6, rtol=1e-6)


def test_sampling_temperature_top_k_and_seed():
    decoder = Decoder(_step(_table(1)), max_len=20, eos=-1)
    first, state = tf.zeros([64], tf.int32), tf.zeros([64], tf.int32)
    a, _ = decoder.sample(first, state, temperature=1.0, seed=3)
    b, _ = decoder.sample(first, state, temperature=1.0, seed=3)
    c, _ = decoder.sample(first, state, temperature=1.0, seed=4)
    assert (a.numpy() == b.numpy()).all() and (a.numpy() != c.numpy()).any()
    one, _ = decoder.sample(first, state, temperature=1.0, top_k=1, seed=5)
    greedy, _ = decoder.greedy(first, state)
    assert (one.numpy() == greedy.numpy()).all()
    cold, _ = decoder.sample(first, state, temperature=1e-4, seed=6)
    assert (cold.numpy() == greedy.numpy()).all()
    hot, _ = decoder.sample(first, state, temperature=5.0, seed=7)
    assert len(np.unique(hot.numpy())) == V
