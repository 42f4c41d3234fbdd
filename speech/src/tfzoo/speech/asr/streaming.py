"""Chunked (streaming) inference for a forward-only speech.asr run, equal to whole-clip inference.

    from tfzoo.common.run import Run
    from tfzoo.speech.asr.streaming import Streamer

    streamer = Streamer.from_run(Run.open("runs/speech.asr/RUN"))   # trained with --preset streaming
    for chunk in chunks:                  # float32 mono samples at info["sample_rate"], any sizes
        print(streamer.push(chunk), end="")   # the characters this chunk decided (greedy CTC)
    text = streamer.finish()              # the tail, and the whole transcript; ready for the next clip

A `Streamer` computes what `data.features_tf` and the model compute on the whole clip, step by step
as the audio arrives:

- MFCC frames as soon as their 25 ms window is complete, pre-emphasis carried across chunk
  boundaries (one sample of history); at `finish`, python_speech_features' last, zero-padded frame;
- every `frame_stride`-th frame (by its index in the clip), stacked with `context` frames on each
  side: the `context` zero frames before the clip, a step's output waits for `context` decimated
  frames of look-ahead, and `finish` appends the `context` zero frames after the clip;
- `dataset_cmvn` normalisation with the run's statistics (`info["cmvn"]`), which need no whole clip;
- fc1-fc3 per step, the forward LSTM with its state carried from chunk to chunk, fc5, fc6;
- greedy CTC decoding (repeats collapsed across chunk boundaries, blanks dropped, the blank last).

The look-ahead is `context * frame_stride` MFCC frames of 10 ms: 180 ms with the defaults (a step's
output needs the window that ends 205 ms after its own window starts). Greedy decoding is causal, so
a character once returned by `push` is final. A bidirectional run, or one normalised with statistics
of the whole utterance, cannot stream and is refused.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from tfzoo.common.errors import ConfigError
from tfzoo.speech import features as feats

__all__ = ["Streamer", "check_streamable"]


def check_streamable(config, info: dict[str, Any]) -> None:
    """Refuse, in one line, a run whose whole-clip result cannot be computed chunk by chunk."""
    if config.bidirectional:
        raise ConfigError("streaming needs a forward-only LSTM, and this run has bidirectional=true (its backward "
                          "pass reads the whole clip); train with --preset streaming or --set bidirectional=false")
    if config.normalisation != "dataset_cmvn":
        raise ConfigError(f"streaming needs normalisation=dataset_cmvn, and this run has {config.normalisation} "
                          "(statistics of the whole clip); train with --preset streaming")
    cmvn = info.get("cmvn") or {}
    if not cmvn.get("mean") or not cmvn.get("std"):
        raise ConfigError("streaming needs the run's dataset_cmvn statistics, and its info has no cmvn mean and std")


class Streamer:
    """Greedy transcription of one clip at a time, fed in chunks, with the whole-clip result.

    `config`, `model` and `info` are a trained run's (`Run.open(path)`: `run.config`,
    `run.models["model"]`, `run.info`). The LSTM used here is a copy of the model's, made when the
    streamer is built: train further, build a new streamer.
    """

    def __init__(self, *, config, model: keras.Model, info: dict[str, Any]) -> None:
        check_streamable(config, info)
        self.config, self.info = config, info
        self.sample_rate = int(info["sample_rate"])
        self.characters = list(info["characters"])
        self.blank = len(self.characters)
        # The same MFCC settings as the training pipeline (data._mfcc): frame sizes and the frame count
        # come from it; the twin without pre-emphasis computes the frames, because the pre-emphasis
        # here must reach across chunk boundaries.
        reference = feats.MFCC(self.sample_rate)
        self._reference = reference
        mfcc = feats.MFCC(self.sample_rate, preemph=0.0)
        self._length, self._step = reference.frame_length, reference.frame_step
        preemph, numcep = reference.preemph, reference.numcep
        stride, context = int(config.frame_stride), int(config.context)
        self._stride, self._context, self._numcep = stride, context, numcep
        mean, std = info["cmvn"]["mean"], info["cmvn"]["std"]
        width = (2 * context + 1) * numcep
        try:
            dense = [(model.get_layer(n), model.get_layer(f"{n}_relu")) for n in ("fc1", "fc2", "fc3", "fc5")]
            lstm, output = model.get_layer("rnn"), model.get_layer("fc6")
        except ValueError as err:
            raise ConfigError(f"streaming needs speech.asr's forward-only model (layers fc1-fc6, rnn): {err}") from None
        self.units = int(lstm.units)
        # A return_state twin of the trained LSTM with a copy of its weights: Keras's LSTM returns its
        # final state only when built to, and the state is what carries from one chunk to the next.
        twin = keras.layers.LSTM.from_config({**lstm.get_config(), "name": f"{lstm.name}_streaming",
                                              "return_sequences": True, "return_state": True, "stateful": False})
        twin.build((1, None, int(lstm.cell.kernel.shape[0])))
        twin.set_weights(lstm.get_weights())
        self._lstm = twin

        # Input signatures with unknown lengths: one trace each, whatever the chunk sizes.
        @tf.function(input_signature=[tf.TensorSpec([None], tf.float32), tf.TensorSpec([], tf.int32),
                                      tf.TensorSpec([], tf.int32), tf.TensorSpec([], tf.int32),
                                      tf.TensorSpec([None, numcep], tf.float32)])
        def frontend(audio, count, phase, right, history):
            """Raw samples led by the sample before them -> (normalised steps [n, width], next history).

            `count` frames of the audio are new (0 or all of them), `phase` is the first of them that
            decimation keeps, `right` zero frames are appended (the context after the clip).
            """
            # MFCC.__call__'s own expression, one sample of history earlier (0 before the clip: x - 0.97 * 0 = x).
            emphasised = audio[1:] - preemph * audio[:-1]
            kept = mfcc(emphasised)[:count][phase::stride]
            frames = tf.concat([history, kept, tf.zeros([right, numcep], tf.float32)], axis=0)
            total = tf.shape(frames)[0]
            steps = tf.maximum(total - 2 * context, 0)
            # The window of step t is frames t .. t + 2 * context of (history + new): stack_context_tf's order.
            windows = tf.gather(frames, tf.range(steps)[:, None] + tf.range(2 * context + 1)[None, :])
            x = feats.normalise_tf(tf.reshape(windows, [steps, width]), "dataset_cmvn", mean=mean, std=std)
            return x, frames[total - tf.minimum(total, 2 * context):]

        @tf.function(input_signature=[tf.TensorSpec([None, width], tf.float32),
                                      tf.TensorSpec([1, self.units], tf.float32),
                                      tf.TensorSpec([1, self.units], tf.float32)])
        def network(x, h, c):
            """Normalised steps [n, width] and the LSTM state -> (logits [n, classes], the next state)."""
            x = x[None]
            for layer, relu in dense[:3]:
                x = relu(layer(x))
            x, h, c = twin(x, initial_state=[h, c])
            layer, relu = dense[3]
            return output(relu(layer(x)))[0], h, c

        self._frontend, self._network = frontend, network
        self.reset()

    @classmethod
    def from_run(cls, run) -> Streamer:
        """The streamer of a `tfzoo.common.run.Run` with models loaded (`Run.open`), or of a run directory."""
        if isinstance(run, str | Path):
            from tfzoo.common.run import Run

            run = Run.open(run)
        return cls(config=run.config, model=run.models["model"], info=run.info)

    def reset(self) -> None:
        """Forget the current clip: the next `push` starts a new one."""
        self._pending = np.zeros(1, np.float32)  # raw samples from the one before the next frame's start
        self._received = 0  # samples of the clip so far
        self._frames = 0  # MFCC frames computed so far
        self._history = tf.zeros([self._context, self._numcep], tf.float32)  # the context before the clip
        self._h = self._c = tf.zeros([1, self.units], tf.float32)
        self._previous = -1  # the last step's best class, so repeats collapse across chunks
        self._text: list[str] = []
        self.logits = np.zeros((0, self.blank + 1), np.float32)

    @property
    def transcript(self) -> str:
        """The text decided so far in the current clip."""
        return "".join(self._text)

    def push(self, chunk: np.ndarray) -> str:
        """Feed the next samples of the clip (float32 mono at `info["sample_rate"]`, any length, 0 too).

        Returns the characters newly decided by this chunk, which are final (`transcript` has all of
        them so far). `logits` holds the logits [n, classes] of the steps this chunk completed.
        """
        chunk = np.asarray(chunk, np.float32)
        if chunk.ndim != 1:
            raise ValueError(f"push expects mono samples [N], got shape {chunk.shape}")
        self._pending = np.concatenate([self._pending, chunk])
        self._received += len(chunk)
        complete = (self._received - self._length) // self._step + 1 if self._received >= self._length else 0
        new = complete - self._frames
        if new <= 0:
            self.logits = np.zeros((0, self.blank + 1), np.float32)
            return ""
        # The new frames and the sample before the first of them.
        audio = self._pending[:(new - 1) * self._step + self._length + 1]
        x, self._history = self._frontend(audio, new, self._phase(), 0, self._history)
        self._pending = self._pending[new * self._step:]
        self._frames += new
        return self._decode(x)

    def finish(self) -> str:
        """End the clip: its last, zero-padded MFCC frame (when it has one), the `context` zero frames after
        it, and the steps they complete. Returns the whole transcript and resets for the next clip."""
        # python_speech_features' frame count: one more than the complete frames when samples are left over
        # (a clip shorter than a frame, even an empty one, still gives one).
        new = self._reference.frames(self._received) - self._frames
        x, self._history = self._frontend(self._pending, new, self._phase(), self._context, self._history)
        self._decode(x)
        text, logits = self.transcript, self.logits
        self.reset()
        self.logits = logits
        return text

    def _phase(self) -> int:
        # Decimation keeps the frames whose index in the clip is a multiple of the stride.
        return -self._frames % self._stride

    def _decode(self, x: tf.Tensor) -> str:
        if x.shape[0] == 0:  # frames that complete no step yet: the LSTM is not run on an empty sequence
            self.logits = np.zeros((0, self.blank + 1), np.float32)
            return ""
        logits, self._h, self._c = self._network(x, self._h, self._c)
        self.logits = logits.numpy()
        new = []
        for best in np.argmax(self.logits, axis=-1):
            if best != self._previous and best != self.blank:
                new.append(self.characters[best])
            self._previous = int(best)
        self._text.extend(new)
        return "".join(new)
