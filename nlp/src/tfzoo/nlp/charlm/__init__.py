"""nlp.char-lm: an LSTM next-character model (实例69)."""
