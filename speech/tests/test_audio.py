"""tfzoo.speech.audio on files the tests write: formats, mix-down, resampling, bad files, silence."""

import warnings

import numpy as np
import pytest
import soundfile as sf

from tfzoo.common.errors import DataError, DataNotFound
from tfzoo.speech import audio


def tone(seconds=1.0, rate=16000, freq=440.0, amplitude=0.5):
    t = np.arange(int(seconds * rate)) / rate
    return (amplitude * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def peak_hz(x, rate):
    spectrum = np.abs(np.fft.rfft(x))
    return np.argmax(spectrum) * rate / len(x)


def test_wav_round_trip_is_16_bit_pcm(tmp_path):
    x = tone()
    path = audio.save(tmp_path / "a.wav", x, 16000)
    assert sf.info(str(path)).subtype == "PCM_16"
    y = audio.load(path)
    assert y.dtype == np.float32 and y.shape == x.shape
    np.testing.assert_allclose(y, x, atol=1 / 32768)


def test_flac_and_native_rate(tmp_path):
    path = audio.save(tmp_path / "a.flac", tone(rate=22050), 22050)
    assert sf.info(str(path)).format == "FLAC"
    assert audio.load(path, rate=None).shape == (22050,)
    assert audio.load(path).shape == (16000,)


@pytest.mark.skipif("OGG" not in sf.available_formats(), reason="this libsndfile has no OGG")
def test_ogg_when_libsndfile_reads_it(tmp_path):
    path = tmp_path / "a.ogg"
    sf.write(str(path), tone(), 16000, format="OGG", subtype="VORBIS")
    y = audio.load(path)
    assert abs(len(y) - 16000) < 400 and abs(peak_hz(y, 16000) - 440) < 5


def test_resampled_to_the_task_rate_keeps_the_pitch(tmp_path):
    for rate in (8000, 44100):
        path = tmp_path / f"{rate}.wav"
        sf.write(str(path), tone(rate=rate), rate, subtype="PCM_16")
        y = audio.load(path, rate=16000)
        assert y.shape == (16000,) and np.abs(y).max() <= 1.0
        assert abs(peak_hz(y, 16000) - 440) < 2, rate


def test_stereo_is_mixed_down_with_one_warning(tmp_path):
    left, right = tone(freq=440), tone(freq=660)
    path = tmp_path / "stereo.wav"
    sf.write(str(path), np.stack([left, right], axis=1), 16000, subtype="PCM_16")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        y = audio.load(path)
    assert len(caught) == 1 and "stereo.wav" in str(caught[0].message) and "2 channels" in str(caught[0].message)
    np.testing.assert_allclose(y, (left + right) / 2, atol=2 / 32768)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        audio.load(path, warn=False)
    assert not caught


def _bad_files(tmp_path):
    good = tmp_path / "good.wav"
    audio.save(good, tone(), 16000)
    data = good.read_bytes()
    files = {"empty": b"", "not audio": b"hello, this is text, not a RIFF file\n" * 20,
             "truncated": data[:20000], "zero-length": b"", "header cut": data[:30]}
    paths = {}
    for name, content in files.items():
        paths[name] = tmp_path / f"{name.replace(' ', '_')}.wav"
        paths[name].write_bytes(content)
    sf.write(str(paths["zero-length"]), np.zeros(0, np.float32), 16000, subtype="PCM_16")  # a valid, empty WAV
    return paths


def test_bad_files_are_one_line_errors_naming_the_file(tmp_path):
    expected = {"empty": "empty file", "not audio": "not decodable audio", "truncated": "truncated WAV",
                "zero-length": "zero-length audio", "header cut": "not decodable audio"}
    for kind, path in _bad_files(tmp_path).items():
        for call in (audio.load, audio.probe):
            with pytest.raises(DataError) as info:
                call(path)
            message = str(info.value)
            assert "\n" not in message and str(path) in message and "expected" in message, message
            assert expected[kind] in message, (kind, message)


def test_missing_file_is_data_not_found(tmp_path):
    with pytest.raises(DataNotFound, match="nope.wav: no such file; expected a WAV, FLAC or OGG"):
        audio.load(tmp_path / "nope.wav")


def test_probe_reads_the_header_only(tmp_path):
    path = tmp_path / "a.wav"
    sf.write(str(path), np.zeros((8000, 2), np.float32), 8000, subtype="PCM_16")
    info = audio.probe(path)
    assert (info.frames, info.rate, info.channels, info.format, info.seconds) == (8000, 8000, 2, "WAV", 1.0)


def test_silence():
    rng = np.random.default_rng(0)
    assert audio.is_silent(np.zeros(16000)) and audio.is_silent(np.zeros(0))
    assert audio.is_silent(rng.normal(0, 10 ** (-75 / 20), 16000))  # -75 dBFS hiss
    assert not audio.is_silent(tone())
    word = np.zeros(160000, np.float32)
    word[80000:80800] = tone(0.05)  # 50 ms of sound in 10 s of silence is not silence
    assert not audio.is_silent(word)
    assert audio.is_silent(tone(amplitude=1e-4), threshold_db=-60)


def test_trim_cuts_silence_and_pads():
    x = np.concatenate([np.zeros(16000, np.float32), tone(0.5), np.zeros(16000, np.float32)])
    y = audio.trim(x, 16000, top_db=40, pad_ms=100)
    assert abs(len(y) - (8000 + 2 * 1600)) <= 2048  # librosa trims on 512-sample hops
    assert not y[:1600].any() and not y[-1600:].any()
    assert len(audio.trim(np.zeros(100, np.float32), 16000, pad_ms=10)) == 100 + 2 * 160
