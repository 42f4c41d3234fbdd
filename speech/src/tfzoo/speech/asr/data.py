"""speech.asr's input pipeline, all in TensorFlow so that training, evaluation and the exported
SavedModel compute features the same way:

    waveform [T] -> (resample) -> MFCC (tf.signal twin of python_speech_features) -> every 2nd frame
    -> ±9 frames stacked -> normalised: features [T', 494];   transcript -> character ids [L]

Elements of the corpus readers are `{"audio", "text", "id"}`; the mapped examples are
`({"features", "lengths"}, {"labels", "label_lengths", "text", "language"})`, batched by length.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np
import tensorflow as tf

from tfzoo.common import batching
from tfzoo.common.data import resolve
from tfzoo.common.errors import ConfigError
from tfzoo.speech import features as feats
from tfzoo.speech.asr.lm import CharNgram
from tfzoo.speech.text import Vocabulary, is_hanzi

# Language ids carried with every example, so evaluation can report per-language metrics.
LANGUAGES = ("en", "zh")
EN, ZH = 0, 1
_PINYIN = r"[a-zü:v]+[1-5]( [a-zü:v]+[1-5])*"


def language_id_tf(text: tf.Tensor) -> tf.Tensor:
    """0 (en) or 1 (zh) for a transcript, in the graph: `tfzoo.speech.text.detect_language`'s rule
    (zh when hanzi are at least half the words, a run of Latin letters being one word), and
    numbered pinyin ("ni3 hao3") counts as zh."""
    codes = tf.strings.unicode_decode(text, "UTF-8", errors="replace")
    hanzi = tf.reduce_sum(tf.cast(((codes >= 0x4E00) & (codes <= 0x9FFF)) | ((codes >= 0x3400) & (codes <= 0x4DBF))
                                  | ((codes >= 0xF900) & (codes <= 0xFAFF)), tf.int32))
    runs = tf.strings.regex_replace(tf.strings.regex_replace(text, "[A-Za-z]+", "\x01"), "[^\x01]", "")
    latin = tf.strings.length(runs)
    pinyin = tf.strings.regex_full_match(tf.strings.lower(text), _PINYIN)
    return tf.where(((hanzi > 0) & (hanzi >= latin)) | pinyin, ZH, EN)


def resample_tf(waveform: tf.Tensor, rate: tf.Tensor, target: int) -> tf.Tensor:
    """`waveform` [N] at `rate` Hz (a scalar tensor) resampled to `target` Hz, band-limited, in the graph.

    The whole clip's spectrum (one real FFT) is cut at the lower Nyquist frequency, or zero-padded,
    and transformed back at the new length round(N * target / rate): ideal low-pass resampling
    (scipy.signal.resample's method), exact for band-limited periodic signals. A clip is short, so
    one FFT is cheap; its edges may ring slightly, which the MFCC front-end does not notice.
    Returns `waveform` unchanged when `rate` equals `target`.
    """
    waveform = tf.convert_to_tensor(waveform, tf.float32)
    rate = tf.cast(rate, tf.int64)

    def convert() -> tf.Tensor:
        n = tf.shape(waveform, out_type=tf.int64)[0]
        m = tf.maximum((n * target + rate // 2) // rate, 1)
        spectrum = tf.signal.rfft(waveform)  # n // 2 + 1 bins
        bins = m // 2 + 1
        spectrum = spectrum[:bins]
        spectrum = tf.pad(spectrum, [[0, bins - tf.shape(spectrum, out_type=tf.int64)[0]]])
        scale = tf.cast(m, tf.float32) / tf.cast(n, tf.float32)
        return tf.signal.irfft(spectrum, fft_length=tf.cast(m, tf.int32)[None]) * scale

    return tf.cond(tf.equal(rate, target), lambda: waveform, convert)


def check_languages(config) -> None:
    """Refuse a `languages` entry other than en or zh, in one line."""
    unknown = sorted(set(config.languages) - set(LANGUAGES))
    if unknown:
        raise ConfigError(f"config key 'languages': found {', '.join(unknown)}, expected a tuple of en and zh")


def load_split(config, split: str):
    """The corpus split of `config.data`, restricted to `config.languages` when they are given.

    The size of a restricted split comes from the reader's per-language counts
    (`meta["languages"]`), so nothing is decoded to count it.
    """
    check_languages(config)
    data = resolve(config.data, split)
    if not config.languages:
        return data
    wanted = tf.constant([LANGUAGES.index(code) for code in config.languages], tf.int32)
    dataset = data.dataset.filter(lambda e: tf.reduce_any(tf.equal(language_id_tf(e["text"]), wanted)))
    counts = dict(data.meta.get("languages", {}))
    size = sum(n for code, n in counts.items() if code in config.languages) if counts else data.size
    transcripts = {t: code for t, code in data.meta.get("transcripts", {}).items() if _language(code) in config.languages}
    return data.replace(dataset=dataset, size=size, languages={c: n for c, n in counts.items()
                                                               if c in config.languages}, transcripts=transcripts)


def _language(code: str) -> str:
    return "zh" if code == "pinyin" else code  # numbered pinyin labels are Mandarin


def characters(config, train) -> list[str]:
    """The output alphabet: every character of the training transcripts (the reader's
    `meta["characters"]`); with `languages=("en",)` the hanzi of the other language are left out."""
    chars = sorted(set(train.meta.get("characters", "")))
    if config.languages and "zh" not in config.languages:
        chars = [c for c in chars if not is_hanzi(c)]
    if not chars:
        raise ConfigError(f"{config.data}: the training transcripts have no characters to learn")
    return chars


def dataset_cmvn(config, train, rate: int) -> dict[str, list[float]]:
    """Per-feature mean and std of the stacked (494-wide) features over the first `cmvn_clips`
    training clips, for `normalisation="dataset_cmvn"` (saved in info.json with the run)."""
    mfcc = feats.MFCC(rate)

    def stacked(example):
        return feats.stack_context_tf(feats.decimate_tf(mfcc(example["audio"]), config.frame_stride), config.context)

    arrays = [x.numpy() for x in train.dataset.take(config.cmvn_clips).map(stacked)]
    mean, std = feats.dataset_stats(arrays)
    return {"mean": mean.tolist(), "std": std.tolist(), "clips": len(arrays)}


def data_info(config, train) -> dict[str, Any]:
    """What the models and the pipeline need, saved as info.json: the alphabet (CTC blank = its
    length, the last class), the sample rate, the feature width, the training languages, and the
    dataset statistics under dataset_cmvn."""
    rate = int(train.meta.get("sample_rate", 16000))
    info: dict[str, Any] = {
        "characters": characters(config, train), "sample_rate": rate, "feature_dim": config.feature_dim,
        "languages": dict(Counter(train.meta.get("languages", {}))),
        "train_clips": int(train.size),
    }
    if config.normalisation == "dataset_cmvn":
        info["cmvn"] = dataset_cmvn(config, train, rate)
    info["lm_text"] = lm_text(train.meta.get("transcripts", {}), info["characters"])
    return info


# The language model's training text is kept with the run (info.json), capped so that a large
# corpus does not make the record large; the n-gram is rebuilt from it in about a second.
LM_MAX_CHARACTERS = 2_000_000


def lm_text(transcripts, characters) -> list[str]:
    """The distinct training transcripts a `beam_lm` decoder's character n-gram learns from: within
    the alphabet, sorted (so the record is deterministic), at most LM_MAX_CHARACTERS in all."""
    alphabet, kept, total = set(characters), [], 0
    for text in sorted(transcripts):
        if total + len(text) > LM_MAX_CHARACTERS:
            break
        if set(text) <= alphabet:
            kept.append(text)
            total += len(text)
    return kept


_LMS: dict[tuple, CharNgram] = {}


def language_model(config, info: dict[str, Any]) -> CharNgram:
    """The run's character n-gram (order `lm_order`) over info["lm_text"], built once per process."""
    texts = tuple(info.get("lm_text") or ())
    if not texts:
        raise ConfigError("decoder 'beam_lm' needs the training transcripts in the run's info.json (lm_text); "
                          "this run has none: retrain, or use decoder=beam")
    key = (config.lm_order, hash(texts))
    if key not in _LMS:
        _LMS[key] = CharNgram(texts=texts, order=config.lm_order)
    return _LMS[key]


def vocabulary(info: dict[str, Any]) -> Vocabulary:
    """The run's character vocabulary (ids 0..n-1, blank n)."""
    return Vocabulary(tuple(info["characters"]))


def features_tf(audio: tf.Tensor, config, info: dict[str, Any], *, seed: tf.Tensor | None = None) -> tf.Tensor:
    """Features [T', feature_dim] of one waveform at info["sample_rate"], in the graph; with a
    stateless `seed` [2], the training augmentation of the config (speed, then masks) too."""
    rate = int(info["sample_rate"])
    augment = seed is not None and augments(config)
    if augment:
        speed_seed, mask_seed = tf.unstack(tf.random.experimental.stateless_split(tf.cast(seed, tf.int64), 2))
        audio = perturb_speed(audio, rate, config, speed_seed)
    mfcc = _mfcc(rate)(audio)
    if augment:
        mfcc = mask(mfcc, config, mask_seed)
    cmvn = info.get("cmvn") or {}
    stacked = feats.stack_context_tf(feats.decimate_tf(mfcc, config.frame_stride), config.context)
    return feats.normalise_tf(stacked, config.normalisation, mean=cmvn.get("mean"), std=cmvn.get("std"))


def augments(config) -> bool:
    """Whether the config asks for any training augmentation."""
    return bool(config.time_masks or config.cepstral_masks or (config.speed_min, config.speed_max) != (1.0, 1.0))


def perturb_speed(audio: tf.Tensor, rate: int, config, seed: tf.Tensor) -> tf.Tensor:
    """The clip played `factor` times faster (tempo and pitch, as Kaldi's speed perturbation), `factor`
    drawn uniformly from [speed_min, speed_max]: resampled from rate * factor to rate."""
    low, high = sorted((config.speed_min, config.speed_max))
    if low == high == 1.0:
        return audio
    factor = tf.random.stateless_uniform([], seed, low, high)
    return resample_tf(audio, tf.cast(tf.round(rate * factor), tf.int64), rate)


def mask(mfcc: tf.Tensor, config, seed: tf.Tensor) -> tf.Tensor:
    """SpecAugment-style masks on MFCC frames [T, 26]: `time_masks` runs of up to `time_mask_frames`
    frames and `cepstral_masks` runs of up to `cepstral_mask_width` coefficients, each set to the
    utterance's mean of that coefficient (what normalisation turns into 0, as SpecAugment's masks)."""
    frames, width = tf.shape(mfcc)[0], tf.shape(mfcc)[1]
    masked = tf.zeros_like(mfcc, tf.bool)
    seeds = tf.random.experimental.stateless_split(seed, config.time_masks + config.cepstral_masks + 1)
    for i in range(config.time_masks + config.cepstral_masks):
        along_time = i < config.time_masks
        size, most = (frames, config.time_mask_frames) if along_time else (width, config.cepstral_mask_width)
        most = tf.minimum(most, size)
        length = tf.random.stateless_uniform([], seeds[i], 0, most + 1, tf.int32)
        start = tf.random.stateless_uniform([], seeds[i][::-1], 0, tf.maximum(size - length, 0) + 1, tf.int32)
        positions = tf.range(size)
        run = (positions >= start) & (positions < start + length)
        masked |= run[:, None] if along_time else run[None, :]
    return tf.where(masked, tf.reduce_mean(mfcc, axis=0, keepdims=True), mfcc)


_MFCCS: dict[int, feats.MFCC] = {}


def _mfcc(rate: int) -> feats.MFCC:
    if rate not in _MFCCS:
        _MFCCS[rate] = feats.MFCC(rate)
    return _MFCCS[rate]


def encode_tf(text: tf.Tensor, info: dict[str, Any]) -> tf.Tensor:
    """Character ids [L] int32 of a transcript; characters outside the alphabet are dropped (an
    evaluation transcript may hold characters training never saw: its text still counts in CER)."""
    table = _code_table(tuple(info["characters"]))
    codes = tf.strings.unicode_decode(text, "UTF-8", errors="replace")
    inside = (codes >= 0) & (codes < table.shape[0])
    ids = tf.gather(tf.constant(table), tf.where(inside, codes, 0))
    ids = tf.where(inside, ids, -1)
    return tf.boolean_mask(ids, ids >= 0)


_TABLES: dict[tuple[str, ...], np.ndarray] = {}


def _code_table(chars: tuple[str, ...]) -> np.ndarray:
    # A dense code point -> id array (-1 elsewhere): plain constants, no table resource, so the map
    # functions trace anywhere (parameter-server workers included). Hanzi keep it under 41k entries.
    if chars not in _TABLES:
        table = np.full(max(map(ord, chars)) + 1, -1, np.int32)
        table[[ord(c) for c in chars]] = np.arange(len(chars), dtype=np.int32)
        _TABLES[chars] = table
    return _TABLES[chars]


def targets_tf(info: dict[str, Any], text: tf.Tensor, *, with_text: bool) -> dict[str, tf.Tensor]:
    """What a transcript is scored against: label ids, their count, the language id (and the text)."""
    labels = encode_tf(text, info)
    targets = {"labels": labels, "label_lengths": tf.shape(labels)[0], "language": language_id_tf(text)}
    if with_text:
        targets["text"] = text
    return targets


def example(config, info: dict[str, Any], element: dict[str, tf.Tensor], *, with_text: bool,
            seed: tf.Tensor | None = None) -> tuple:
    """One corpus element mapped to (inputs, targets); augmented when a training `seed` is given."""
    x = features_tf(element["audio"], config, info, seed=seed)
    return {"features": x, "lengths": tf.shape(x)[0]}, targets_tf(info, element["text"], with_text=with_text)


# Batch shapes are rounded up (frames to the bucket's boundary, or to whole seconds past the last one;
# labels to a multiple of 16), so the compiled steps meet a few shapes instead of a new one per batch:
# tf.function traces once per input shape, and a trace of the BiLSTM and CTC graph takes seconds.
FRAME_QUANTUM = 50
LABEL_QUANTUM = 16


def batch(config, dataset: tf.data.Dataset, split: str) -> tf.data.Dataset:
    """Padded batches (features with 0, labels with -1, lengths carried), bucketed by feature frames."""
    _, targets = dataset.element_spec
    padding = ({"features": 0.0, "lengths": 0},
               {k: {"labels": -1, "text": ""}.get(k, 0) for k in targets})
    padding = tf.nest.map_structure(lambda v, s: tf.constant(v, s.dtype), padding, dataset.element_spec)
    size = config.train.batch_size
    if config.bucketing:
        batches = batching.bucketed(dataset, batch_size=size, split=split, boundaries=config.buckets,
                                    length=lambda inputs, targets: tf.shape(inputs["features"])[0],
                                    padding_values=padding)
    else:
        batches = batching.padded(dataset, batch_size=size, split=split, padding_values=padding)
    bounds = tf.constant(sorted(config.buckets) if config.bucketing else [], tf.int32)
    return batches.map(lambda inputs, targets: _round_shapes(inputs, targets, bounds))


def _round_up(n: tf.Tensor, quantum: int) -> tf.Tensor:
    return (n + quantum - 1) // quantum * quantum


def _round_shapes(inputs: dict, targets: dict, bounds: tf.Tensor) -> tuple[dict, dict]:
    frames = tf.shape(inputs["features"])[1]
    index = tf.searchsorted(bounds, frames[None], side="left")[0]
    target = tf.cond(index < tf.size(bounds), lambda: tf.gather(bounds, tf.minimum(index, tf.size(bounds) - 1)),
                     lambda: _round_up(frames, FRAME_QUANTUM))
    features = tf.pad(inputs["features"], [[0, 0], [0, tf.maximum(target - frames, 0)], [0, 0]])
    labels = targets["labels"]
    width = tf.shape(labels)[1]
    labels = tf.pad(labels, [[0, 0], [0, _round_up(tf.maximum(width, 1), LABEL_QUANTUM) - width]], constant_values=-1)
    return {**inputs, "features": features}, {**targets, "labels": labels}
