"""nlp.names' model: Embedding(256) -> GRU(1024) returning sequences -> Dense(vocabulary)."""

from __future__ import annotations

import keras

from tfzoo.nlp.charrnn import build_model as build_char_rnn


def build_model(config, vocab_size: int) -> keras.Model:
    """tokens [B, T] -> next-character logits [B, T, vocab]."""
    return build_char_rnn(vocab_size=vocab_size, embedding=config.embedding, units=(config.units,),
                          cell=config.cell, name="names")
