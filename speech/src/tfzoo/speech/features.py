"""DeepSpeech-style MFCC features: a python_speech_features reference and a `tf.signal` twin.

    from tfzoo.speech import features
    ref = features.mfcc_reference(audio, 16000)            # numpy [frames, 26]
    mfcc = features.MFCC(16000)                            # tf.signal, usable in tf.function / SavedModel
    x = features.asr_features_tf(audio, mfcc=mfcc)         # [ceil(frames / 2), 494], all in-graph

The recogniser's input, after the book (S0 L13830-L13912): 26 MFCC per 10 ms frame, every second
frame kept, each frame stacked with 9 past and 9 future frames (zero-padded at the edges), then
normalised: 26 + 2*9*26 = 494 features per step. Every numpy step has a TensorFlow twin with the
same name plus `_tf`, so the whole pipeline can live inside an exported graph.

Parity of `MFCC` with `mfcc_reference` is measured by `max_relative_difference`: the largest
|tf - ref| / max(|ref|, 1) over all frames and coefficients, i.e. relative for coefficients of
magnitude >= 1 and absolute below, because a cepstral coefficient near 0 has no meaningful
relative error.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Literal

import numpy as np
import tensorflow as tf

__all__ = [
    "CONTEXT", "NUMCEP", "MFCC", "Normalisation", "asr_features", "asr_features_tf", "dataset_stats", "decimate",
    "decimate_tf", "filterbank", "frame_sizes", "max_relative_difference", "mfcc_reference", "normalise",
    "normalise_tf", "pad_sequences", "stack_context", "stack_context_tf",
]

NUMCEP = 26
CONTEXT = 9
Normalisation = Literal["utterance_global", "utterance_cmvn", "dataset_cmvn"]
NORMALISATIONS = ("utterance_global", "utterance_cmvn", "dataset_cmvn")
# What python_speech_features puts in place of an exact 0 before taking the log (float64 eps).
_EPS = float(np.finfo(np.float64).eps)


def frame_sizes(rate: int, *, winlen: float = 0.025, winstep: float = 0.01, nfft: int = 512) -> tuple[int, int, int]:
    """(frame length, frame step, FFT size) in samples, rounded as python_speech_features rounds.

    The FFT size is raised to the next power of two when a frame is longer than `nfft`
    (44.1 kHz: 1103-sample frames, 2048-point FFT), so no frame is truncated.
    """
    from python_speech_features.sigproc import round_half_up

    length, step = int(round_half_up(winlen * rate)), int(round_half_up(winstep * rate))
    size = int(nfft)
    while size < length:
        size *= 2
    return length, step, size


@functools.lru_cache(maxsize=32)
def _filterbank(rate: int, nfilt: int, nfft: int, backend: str) -> np.ndarray:
    if backend == "librosa":
        import librosa

        bank = librosa.filters.mel(sr=rate, n_fft=nfft, n_mels=nfilt, htk=False, norm="slaney")
    else:
        from python_speech_features import get_filterbanks

        bank = get_filterbanks(nfilt, nfft, rate, 0, rate / 2)
    bank = np.ascontiguousarray(bank.T, np.float32)  # [nfft // 2 + 1, nfilt]: power @ bank
    bank.setflags(write=False)
    return bank


def filterbank(rate: int, *, nfilt: int = 26, nfft: int = 512, backend: str = "python_speech_features") -> np.ndarray:
    """The mel filterbank as a [nfft // 2 + 1, nfilt] matrix, built once per setting in numpy.

    `backend="python_speech_features"` is DeepSpeech's triangular bank (HTK mel scale, peak 1);
    `"librosa"` is librosa's Slaney bank (area-normalised), which is not bit-compatible.
    """
    if backend not in ("python_speech_features", "librosa"):
        raise ValueError(f"backend={backend!r}; expected 'python_speech_features' or 'librosa'")
    return _filterbank(int(rate), int(nfilt), int(nfft), backend)


def _lifter(numcep: int, ceplifter: float) -> np.ndarray:
    n = np.arange(numcep)
    return (1 + (ceplifter / 2.0) * np.sin(np.pi * n / ceplifter)) if ceplifter > 0 else np.ones(numcep)


def mfcc_reference(audio: np.ndarray, rate: int, *, numcep: int = NUMCEP, nfilt: int = 26, winlen: float = 0.025,
                   winstep: float = 0.01, nfft: int = 512, preemph: float = 0.97, ceplifter: float = 22,
                   append_energy: bool = True, backend: str = "python_speech_features") -> np.ndarray:
    """MFCC [frames, numcep] float32 computed by python_speech_features (the parity reference).

    DeepSpeech's settings: 26 cepstra from 26 filters, 25 ms frames every 10 ms, no window,
    pre-emphasis 0.97, lifter 22, c0 replaced by the log frame energy. 1 s at any rate gives 99
    frames. `backend="librosa"` runs the same framing, pre-emphasis, log, DCT and lifter on
    librosa's Slaney mel bank instead (a comparison point, not bit-compatible).
    """
    length, step, size = frame_sizes(rate, winlen=winlen, winstep=winstep, nfft=nfft)
    signal = np.asarray(audio, np.float64)
    if backend == "python_speech_features":
        from python_speech_features import mfcc

        return mfcc(signal, samplerate=rate, winlen=winlen, winstep=winstep, numcep=numcep, nfilt=nfilt, nfft=size,
                    preemph=preemph, ceplifter=ceplifter, appendEnergy=append_energy).astype(np.float32)
    from python_speech_features import sigproc
    from scipy.fftpack import dct

    bank = filterbank(rate, nfilt=nfilt, nfft=size, backend=backend).astype(np.float64)
    frames = sigproc.framesig(sigproc.preemphasis(signal, preemph), length, step)
    power = sigproc.powspec(frames, size)
    energy = np.where(power.sum(1) == 0, _EPS, power.sum(1))
    mel = power @ bank
    cepstra = dct(np.log(np.where(mel == 0, _EPS, mel)), type=2, axis=1, norm="ortho")[:, :numcep]
    cepstra *= _lifter(numcep, ceplifter)
    if append_energy:
        cepstra[:, 0] = np.log(energy)
    return cepstra.astype(np.float32)


class MFCC:
    """The `tf.signal` twin of `mfcc_reference`: audio [..., T] float32 -> MFCC [..., frames, numcep].

    Framing as python_speech_features frames (1 + ceil((T - frame) / step) frames, the last one
    zero-padded), power spectrum |rfft|^2 / nfft, the same filterbank matrix (a constant built
    once in numpy), log, orthonormal DCT-II, lifter, and c0 replaced by the log frame energy.
    Plain TensorFlow ops on a fixed rate: it traces into tf.function and SavedModel graphs.
    Leading batch dimensions share one length T.
    """

    def __init__(self, rate: int = 16000, *, numcep: int = NUMCEP, nfilt: int = 26, winlen: float = 0.025,
                 winstep: float = 0.01, nfft: int = 512, preemph: float = 0.97, ceplifter: float = 22,
                 append_energy: bool = True, backend: str = "python_speech_features") -> None:
        if numcep > nfilt:
            raise ValueError(f"numcep={numcep} > nfilt={nfilt}; a DCT of {nfilt} bands has at most {nfilt} cepstra")
        self.rate, self.numcep, self.preemph, self.append_energy = int(rate), int(numcep), float(preemph), append_energy
        self.frame_length, self.frame_step, self.nfft = frame_sizes(rate, winlen=winlen, winstep=winstep, nfft=nfft)
        self.filterbank = filterbank(rate, nfilt=nfilt, nfft=self.nfft, backend=backend)
        self.lifter = _lifter(numcep, ceplifter).astype(np.float32)

    def frames(self, samples: int) -> int:
        """How many frames `samples` samples give (python_speech_features' count)."""
        extra = max(int(samples) - self.frame_length, 0)
        return 1 + -(-extra // self.frame_step)

    def __call__(self, audio) -> tf.Tensor:
        x = tf.convert_to_tensor(audio, tf.float32)
        x = tf.concat([x[..., :1], x[..., 1:] - self.preemph * x[..., :-1]], axis=-1)
        n = tf.shape(x)[-1]
        count = 1 + (tf.maximum(n - self.frame_length, 0) + self.frame_step - 1) // self.frame_step
        pad = (count - 1) * self.frame_step + self.frame_length - n
        paddings = tf.concat([tf.zeros([tf.rank(x) - 1, 2], tf.int32), [[0, pad]]], axis=0)
        frames = tf.signal.frame(tf.pad(x, paddings), self.frame_length, self.frame_step, pad_end=False)
        spectrum = tf.signal.rfft(frames, fft_length=[self.nfft])
        # re^2 + im^2 rather than |z|^2: no square root, so no rounding before the sum.
        power = (tf.math.square(tf.math.real(spectrum)) + tf.math.square(tf.math.imag(spectrum))) / self.nfft
        energy = tf.reduce_sum(power, axis=-1)
        mel = tf.tensordot(power, tf.constant(self.filterbank), axes=1)
        mel = tf.where(mel == 0, tf.constant(_EPS, tf.float32), mel)
        cepstra = tf.signal.dct(tf.math.log(mel), type=2, norm="ortho")[..., :self.numcep]
        cepstra = cepstra * tf.constant(self.lifter)
        if self.append_energy:
            log_energy = tf.math.log(tf.where(energy == 0, tf.constant(_EPS, tf.float32), energy))
            cepstra = tf.concat([log_energy[..., None], cepstra[..., 1:]], axis=-1)
        return cepstra


def max_relative_difference(values, reference) -> float:
    """max |values - reference| / max(|reference|, 1): the parity measure of this module (see above)."""
    values, reference = np.asarray(values, np.float64), np.asarray(reference, np.float64)
    if values.shape != reference.shape:
        raise ValueError(f"shapes differ: {values.shape} vs {reference.shape}")
    return float(np.max(np.abs(values - reference) / np.maximum(np.abs(reference), 1.0), initial=0.0))


def decimate(features: np.ndarray, stride: int = 2) -> np.ndarray:
    """Every `stride`-th frame, starting with the first (99 frames -> 50 at stride 2).

    The book meant this (its comment's (139, 26) shape) but its slice `[:, :2]` kept the first
    two coefficients of every frame instead (S0 L13848); this keeps frames.
    """
    return np.asarray(features)[::int(stride)]


def decimate_tf(features, stride: int = 2) -> tf.Tensor:
    """`decimate` in TensorFlow: every `stride`-th frame of [..., T, D]."""
    return tf.convert_to_tensor(features)[..., ::int(stride), :]


def stack_context(features: np.ndarray, context: int = CONTEXT) -> np.ndarray:
    """[T, D] -> [T, (2 * context + 1) * D]: each frame with `context` past and future frames.

    Order per row: the past frames (oldest first), the frame itself, the future frames; frames
    before the start or after the end are zeros, as in the book. 26 MFCC, context 9 -> 494.
    """
    features = np.asarray(features)
    steps, dims = features.shape
    padded = np.pad(features, ((context, context), (0, 0)))
    windows = np.lib.stride_tricks.sliding_window_view(padded, (2 * context + 1, dims))[:, 0]
    return np.ascontiguousarray(windows.reshape(steps, (2 * context + 1) * dims))


def stack_context_tf(features, context: int = CONTEXT) -> tf.Tensor:
    """`stack_context` in TensorFlow for [..., T, D]."""
    x = tf.convert_to_tensor(features)
    rank = x.shape.rank
    paddings = [[0, 0]] * (rank - 2) + [[context, context], [0, 0]]
    windows = tf.signal.frame(tf.pad(x, paddings), 2 * context + 1, 1, axis=-2)  # [..., T, 2c+1, D]
    shape = tf.concat([tf.shape(windows)[:-2], [(2 * context + 1) * tf.shape(x)[-1]]], axis=0)
    return tf.reshape(windows, shape)


def _check_mode(mode: str, mean, std) -> None:
    if mode not in NORMALISATIONS:
        raise ValueError(f"normalisation {mode!r}; expected one of {', '.join(NORMALISATIONS)}")
    if mode == "dataset_cmvn" and (mean is None or std is None):
        raise ValueError("dataset_cmvn needs the training set's mean and std (dataset_stats computes them)")


def normalise(features: np.ndarray, mode: Normalisation = "utterance_cmvn", *, mean=None, std=None,
              eps: float = 1e-8) -> np.ndarray:
    """Zero mean, unit variance for [T, D] features.

    `utterance_global`: one mean and std over the whole matrix (the book, S0 L13912);
    `utterance_cmvn` (default): per feature over the utterance's frames;
    `dataset_cmvn`: the given per-feature `mean` and `std` (from the training set, saved with the run).
    A std below `eps` (a constant feature) divides by `eps` instead of by zero.
    """
    _check_mode(mode, mean, std)
    x = np.asarray(features, np.float32)
    if mode == "utterance_global":
        mean, std = x.mean(), x.std()
    elif mode == "utterance_cmvn":
        mean, std = x.mean(axis=0), x.std(axis=0)
    return ((x - np.asarray(mean, np.float32)) / np.maximum(np.asarray(std, np.float32), eps)).astype(np.float32)


def normalise_tf(features, mode: Normalisation = "utterance_cmvn", *, mean=None, std=None,
                 eps: float = 1e-8) -> tf.Tensor:
    """`normalise` in TensorFlow, for one utterance [T, D]."""
    _check_mode(mode, mean, std)
    x = tf.convert_to_tensor(features, tf.float32)
    if mode == "utterance_global":
        mean, std = tf.reduce_mean(x), tf.math.reduce_std(x)
    elif mode == "utterance_cmvn":
        mean, std = tf.reduce_mean(x, axis=0), tf.math.reduce_std(x, axis=0)
    else:
        mean, std = tf.constant(mean, tf.float32), tf.constant(std, tf.float32)
    return (x - mean) / tf.maximum(std, eps)


def dataset_stats(features: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Per-feature mean and std over every frame of several [T, D] matrices (for `dataset_cmvn`)."""
    total = count = square = 0.0
    for x in features:
        x = np.asarray(x, np.float64)
        total, square, count = total + x.sum(0), square + (x ** 2).sum(0), count + len(x)
    if not count:
        raise ValueError("dataset_stats needs at least one frame")
    mean = total / count
    return mean.astype(np.float32), np.sqrt(np.maximum(square / count - mean ** 2, 0.0)).astype(np.float32)


def asr_features(audio: np.ndarray, rate: int, *, stride: int = 2, context: int = CONTEXT,
                 normalisation: Normalisation = "utterance_cmvn", mean=None, std=None) -> np.ndarray:
    """The recogniser's input in numpy: MFCC -> `decimate` -> `stack_context` -> `normalise`.

    1 s of audio -> 99 frames -> 50 -> (50, 494). Normalisation comes last, after the stacking,
    in the book's order; `dataset_cmvn` statistics are therefore 494-wide.
    """
    stacked = stack_context(decimate(mfcc_reference(audio, rate), stride), context)
    return normalise(stacked, normalisation, mean=mean, std=std)


def asr_features_tf(audio, *, mfcc: MFCC | None = None, stride: int = 2, context: int = CONTEXT,
                    normalisation: Normalisation = "utterance_cmvn", mean=None, std=None) -> tf.Tensor:
    """`asr_features` in TensorFlow for one utterance [T] at `mfcc.rate` (default MFCC(16000))."""
    mfcc = mfcc or MFCC(16000)
    stacked = stack_context_tf(decimate_tf(mfcc(audio), stride), context)
    return normalise_tf(stacked, normalisation, mean=mean, std=std)


def pad_sequences(sequences: Sequence, *, padding: str = "post", truncating: str = "post",
                  maxlen: int | None = None, value: float = 0, dtype="float32") -> tuple[np.ndarray, np.ndarray]:
    """Pad (and truncate) sequences of [T_i, ...] to one [N, maxlen, ...] array; returns (array, lengths).

    `padding`/`truncating` "post" act at the end, "pre" at the start (the book's pad_sequences).
    `maxlen` defaults to the longest sequence; `lengths` are the kept lengths, after truncation.
    """
    for name, where in (("padding", padding), ("truncating", truncating)):
        if where not in ("pre", "post"):
            raise ValueError(f"{name}={where!r}; expected 'pre' or 'post'")
    arrays = [np.asarray(s) for s in sequences]
    longest = max((len(a) for a in arrays), default=0)
    maxlen = longest if maxlen is None else int(maxlen)
    tails = {a.shape[1:] for a in arrays if len(a)}
    if len(tails) > 1:
        raise ValueError(f"sequences have different feature shapes {sorted(tails)}; expected one")
    tail = tails.pop() if tails else (arrays[0].shape[1:] if arrays else ())
    out = np.full((len(arrays), maxlen, *tail), value, dtype=dtype)
    lengths = np.zeros(len(arrays), np.int64)
    for i, a in enumerate(arrays):
        kept = a[:maxlen] if truncating == "post" else a[max(len(a) - maxlen, 0):]
        lengths[i] = len(kept)
        if len(kept):
            if padding == "post":
                out[i, :len(kept)] = kept
            else:
                out[i, maxlen - len(kept):] = kept
    return out, lengths
