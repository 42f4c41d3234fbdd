"""tfzoo.speech.features: shapes, the python_speech_features / tf.signal parity, numpy == tf, padding."""

import numpy as np
import pytest
import tensorflow as tf

from tfzoo.speech import features as F


def tone(seconds=1.0, rate=16000, freq=440.0):
    t = np.arange(int(seconds * rate)) / rate
    return (0.5 * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def noise(seconds=1.0, rate=16000, seed=0):
    return np.random.default_rng(seed).uniform(-0.5, 0.5, int(seconds * rate)).astype(np.float32)


def test_one_second_gives_99_then_50_then_50_by_494():
    mfcc = F.mfcc_reference(tone(), 16000)
    assert mfcc.shape == (99, 26)
    assert F.decimate(mfcc).shape == (50, 26)
    assert F.stack_context(F.decimate(mfcc)).shape == (50, 494)
    assert F.asr_features(tone(), 16000).shape == (50, 494)
    assert F.MFCC(16000).frames(16000) == 99


def test_decimation_keeps_frames_not_coefficients():
    x = np.arange(99 * 26, dtype=np.float32).reshape(99, 26)
    kept = F.decimate(x)
    np.testing.assert_array_equal(kept, x[0::2])  # the book's x[:, :2] would give (99, 2)
    np.testing.assert_array_equal(F.decimate_tf(x).numpy(), kept)


def test_context_is_past_now_future_zero_padded_at_the_edges():
    x = np.arange(1, 5 * 2 + 1, dtype=np.float32).reshape(5, 2)  # 5 frames of 2 features
    stacked = F.stack_context(x, context=3)
    assert stacked.shape == (5, 14)
    np.testing.assert_array_equal(stacked[0], [0, 0, 0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8])
    np.testing.assert_array_equal(stacked[2], [0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 0, 0])
    np.testing.assert_array_equal(stacked[4][6:8], x[4])
    assert not stacked[4][8:].any()
    np.testing.assert_array_equal(F.stack_context_tf(x, context=3).numpy(), stacked)


def test_tf_signal_mfcc_matches_python_speech_features():
    for rate in (16000, 8000, 44100):
        for signal in (tone, noise):
            x = signal(rate=rate)
            reference = F.mfcc_reference(x, rate)
            ours = F.MFCC(rate)(x).numpy()
            assert ours.shape == reference.shape == (99, 26)
            difference = F.max_relative_difference(ours, reference)
            assert difference <= 1e-3, (rate, signal.__name__, difference)


def test_frames_shorter_than_a_window_and_the_fft_size():
    assert F.frame_sizes(16000) == (400, 160, 512)
    assert F.frame_sizes(44100) == (1103, 441, 2048)  # a frame longer than 512 raises the FFT size
    short = tone(0.01)
    reference = F.mfcc_reference(short, 16000)
    assert reference.shape == (1, 26)
    assert F.max_relative_difference(F.MFCC(16000)(short).numpy(), reference) <= 1e-3


def test_mfcc_batches_and_traces_into_a_savedmodel(tmp_path):
    mfcc = F.MFCC(16000)

    class Frontend(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None], tf.float32)])
        def __call__(self, audio):
            return F.asr_features_tf(audio, mfcc=mfcc)

    x = noise(0.7)
    tf.saved_model.save(Frontend(), str(tmp_path / "frontend"))
    loaded = tf.saved_model.load(str(tmp_path / "frontend"))
    got = loaded(tf.constant(x)).numpy()
    np.testing.assert_allclose(got, F.asr_features_tf(x, mfcc=mfcc).numpy(), atol=1e-5)
    assert got.shape == (35, 494)
    batch = mfcc(np.stack([x, x[::-1].copy()]))
    assert batch.shape == (2, 69, 26)
    np.testing.assert_allclose(batch[1].numpy(), mfcc(x[::-1].copy()).numpy(), atol=1e-5)


def test_whole_pipeline_numpy_equals_tf():
    x = noise(1.3)
    np.testing.assert_allclose(F.asr_features_tf(x).numpy(), F.asr_features(x, 16000), atol=2e-3)


def test_normalisation_numpy_equals_tf():
    x = np.random.default_rng(1).normal(3, 2, (40, 6)).astype(np.float32)
    for mode in ("utterance_global", "utterance_cmvn", "dataset_cmvn"):
        stats = {"mean": x.mean(0) + 1, "std": x.std(0) * 2} if mode == "dataset_cmvn" else {}
        ours = F.normalise(x, mode, **stats)
        np.testing.assert_allclose(F.normalise_tf(x, mode, **stats).numpy(), ours, atol=1e-5)
        if mode == "utterance_global":
            assert abs(ours.mean()) < 1e-5 and abs(ours.std() - 1) < 1e-4
        elif mode == "utterance_cmvn":
            np.testing.assert_allclose(ours.mean(0), 0, atol=1e-5)
            np.testing.assert_allclose(ours.std(0), 1, atol=1e-4)
        else:
            np.testing.assert_allclose(ours, (x - stats["mean"]) / stats["std"], rtol=1e-5)


def test_normalisation_guards():
    constant = np.ones((10, 3), np.float32)
    assert np.isfinite(F.normalise(constant)).all()
    with pytest.raises(ValueError, match="dataset_cmvn needs"):
        F.normalise(constant, "dataset_cmvn")
    with pytest.raises(ValueError, match="expected one of"):
        F.normalise(constant, "global")
    mean, std = F.dataset_stats([np.zeros((2, 3)), np.full((2, 3), 2.0)])
    np.testing.assert_allclose(mean, 1) and np.testing.assert_allclose(std, 1)


def test_librosa_backend_is_slaney_and_not_bit_compatible():
    x = noise()
    librosa_mfcc = F.mfcc_reference(x, 16000, backend="librosa")
    assert librosa_mfcc.shape == (99, 26)
    assert F.max_relative_difference(librosa_mfcc, F.mfcc_reference(x, 16000)) > 1e-2
    np.testing.assert_allclose(librosa_mfcc[:, 0], F.mfcc_reference(x, 16000)[:, 0], rtol=1e-5)  # both log energy
    assert F.max_relative_difference(F.MFCC(16000, backend="librosa")(x).numpy(), librosa_mfcc) <= 1e-3


def test_max_relative_difference_is_relative_above_one_absolute_below():
    assert F.max_relative_difference([100.0, 0.001], [100.1, 0.0]) == pytest.approx(1e-3)
    with pytest.raises(ValueError, match="shapes differ"):
        F.max_relative_difference(np.zeros(2), np.zeros(3))


def test_pad_sequences():
    seqs = [np.ones((3, 2)), np.full((5, 2), 2.0), np.zeros((0, 2))]
    padded, lengths = F.pad_sequences(seqs)
    assert padded.shape == (3, 5, 2) and padded.dtype == np.float32 and lengths.tolist() == [3, 5, 0]
    assert padded[0, 3:].sum() == 0 and padded[0, :3].min() == 1
    pre, _ = F.pad_sequences(seqs, padding="pre", value=-1)
    assert (pre[0, :2] == -1).all() and (pre[0, 2:] == 1).all()
    cut, lengths = F.pad_sequences([np.arange(6)], maxlen=4, truncating="pre", dtype="int64")
    assert cut.tolist() == [[2, 3, 4, 5]] and lengths.tolist() == [4]
    cut, _ = F.pad_sequences([np.arange(6)], maxlen=4, dtype="int64")
    assert cut.tolist() == [[0, 1, 2, 3]]
    with pytest.raises(ValueError, match="padding='middle'"):
        F.pad_sequences(seqs, padding="middle")
