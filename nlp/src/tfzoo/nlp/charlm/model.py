"""nlp.char-lm's model: Embedding(256) -> LSTM 256 -> 512 -> 512 with dropout -> Dense(vocabulary)."""

from __future__ import annotations

import keras

from tfzoo.nlp.charrnn import build_model as build_char_rnn


def build_model(config, vocab_size: int) -> keras.Model:
    """tokens [B, T] -> next-character logits [B, T, vocab]."""
    return build_char_rnn(vocab_size=vocab_size, embedding=config.embedding, units=config.units, cell="lstm",
                          dropout=config.dropout, name="char_lm")
