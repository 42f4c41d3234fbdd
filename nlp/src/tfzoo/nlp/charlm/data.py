"""nlp.char-lm's data: any text spec as one character stream, cut into windows of code points."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from tfzoo.common.data import DataSplit, resolve
from tfzoo.nlp.readers import records
from tfzoo.nlp.text import Vocabulary


def stream(spec: str, split: str) -> str:
    """The records of one split joined by newlines (a newline ends every record)."""
    return "".join(r + "\n" for r in records(resolve(spec, split)))


def load_split(config, split: str) -> DataSplit:
    """Windows of `seq_len + 1` code points (int32) every `stride` characters.

    Code points rather than ids: the run's vocabulary maps them in `eval_map`, so evaluating another
    text (`--data`) uses the vocabulary the model was trained with.
    """
    text = stream(config.data, split)
    codes = np.frombuffer(text.encode("utf-32-le"), np.int32) if text else np.zeros(0, np.int32)
    width, stride = config.seq_len + 1, config.stride or config.seq_len
    starts = np.arange(0, max(0, len(codes) - width + 1), stride)
    windows = codes[starts[:, None] + np.arange(width)] if len(starts) else np.zeros((0, width), np.int32)
    return DataSplit(tf.data.Dataset.from_tensor_slices(windows), len(windows),
                     {"characters": int(len(codes)), "windows": int(len(windows)), "seq_len": config.seq_len})


def vocabulary(config) -> Vocabulary:
    """The characters of the training split, the most frequent first, after the special tokens."""
    return Vocabulary.build([stream(config.data, "train")], max_size=config.max_vocab, min_count=config.min_count)
