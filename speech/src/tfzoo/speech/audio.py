"""Audio files in and out: decoding with soundfile, mono mix-down, soxr resampling, silence.

    from tfzoo.speech import audio
    x = audio.load("clip.flac", rate=16000)     # float32 [T], mono, in [-1, 1]
    audio.save("out.wav", audio.trim(x, 16000), 16000)

Every file problem is a one-line `DataError` that names the file and what was expected:
an empty file, a file that is not audio, a truncated WAV, audio with no samples.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from tfzoo.common.errors import DataError, DataNotFound

__all__ = ["EXPECTED", "Info", "is_silent", "load", "probe", "resample", "save", "trim"]

EXPECTED = "a WAV, FLAC or OGG audio file"

# libsndfile logs "data : 32000 (should be 19956)" when a WAV's data chunk claims more bytes than
# the file holds; it then reads what is there, so this log line is the only sign of truncation.
_SHORT_CHUNK = re.compile(r"^data\s*:\s*(\d+)\s*\(should be (\d+)\)", re.MULTILINE)
# Streaming writers leave these sizes in the header on purpose: not truncation.
_STREAMING_SIZES = (0, 0xFFFFFFFF, 0x7FFFFFFF)


@dataclass(frozen=True)
class Info:
    """What an audio file's header says: frames, sample rate, channels, container format."""

    path: Path
    frames: int
    rate: int
    channels: int
    format: str

    @property
    def seconds(self) -> float:
        """Duration in seconds."""
        return self.frames / self.rate


def probe(path) -> Info:
    """Read an audio file's header without decoding the samples (cheap: one small read per file).

    Raises `DataNotFound` for a missing file and a one-line `DataError` for an empty file, a file
    that is not audio, a WAV whose data chunk is cut short, or audio with no samples.
    """
    path = Path(path)
    if not path.is_file():
        raise DataNotFound(f"{path}: no such file; expected {EXPECTED}")
    if path.stat().st_size == 0:
        raise DataError(f"{path}: empty file (0 bytes); expected {EXPECTED}")
    try:
        info = sf.info(str(path))
    except (sf.LibsndfileError, RuntimeError, TypeError) as e:
        raise DataError(f"{path}: not decodable audio ({_reason(e)}); expected {EXPECTED}") from None
    short = _SHORT_CHUNK.search(info.extra_info or "")
    if short and int(short.group(1)) not in _STREAMING_SIZES and int(short.group(1)) > int(short.group(2)):
        raise DataError(f"{path}: truncated {info.format}: its header declares {short.group(1)} data bytes, "
                        f"the file holds {short.group(2)}; expected a complete file")
    if info.frames <= 0:
        raise DataError(f"{path}: zero-length audio (0 samples); expected at least one sample")
    return Info(path, int(info.frames), int(info.samplerate), int(info.channels), str(info.format))


def load(path, *, rate: int | None = 16000, warn: bool = True) -> np.ndarray:
    """Decode an audio file to float32 [T] mono in [-1, 1], resampled to `rate` (None keeps the file's).

    WAV and FLAC always work, OGG where the installed libsndfile reads it. Several channels are
    averaged into one, with one warning per file (`warn=False` leaves reporting to the caller, as
    the corpus readers do: they count such files once). Resampling is soxr's high-quality mode.
    """
    info = probe(path)
    try:
        data, file_rate = sf.read(str(info.path), dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, ValueError) as e:
        raise DataError(f"{info.path}: not decodable audio ({_reason(e)}); expected {EXPECTED}") from None
    if data.shape[0] == 0:
        raise DataError(f"{info.path}: zero-length audio (0 samples); expected at least one sample")
    if not np.isfinite(data).all():
        raise DataError(f"{info.path}: found NaN or infinite samples; expected finite audio")
    if data.shape[1] > 1:
        if warn:
            warnings.warn(f"{info.path}: {data.shape[1]} channels mixed down to mono", stacklevel=2)
        mono = data.mean(axis=1)
    else:
        mono = data[:, 0]
    if rate is not None and int(rate) != file_rate:
        mono = resample(mono, file_rate, int(rate))
    # Float files may hold values past full scale and soxr overshoots a little on transients.
    return np.ascontiguousarray(np.clip(mono, -1.0, 1.0), np.float32)


def resample(audio: np.ndarray, rate: int, target: int) -> np.ndarray:
    """`audio` at `rate` Hz resampled to `target` Hz with soxr (high quality), float32."""
    if int(rate) == int(target):
        return np.asarray(audio, np.float32)
    import librosa  # slow to import; only resampling needs it

    return librosa.resample(np.asarray(audio, np.float32), orig_sr=int(rate), target_sr=int(target),
                            res_type="soxr_hq").astype(np.float32)


def save(path, audio: np.ndarray, rate: int) -> Path:
    """Write mono float audio as 16-bit PCM (WAV or FLAC, by the file's extension); returns the path."""
    path = Path(path)
    samples = np.clip(np.asarray(audio, np.float32), -1.0, 1.0)
    if samples.ndim != 1:
        raise DataError(f"{path}: audio of shape {samples.shape}; expected mono samples [T]")
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), samples, int(rate), subtype="PCM_16")
    return path


def is_silent(audio: np.ndarray, *, threshold_db: float = -60.0, block: int = 256) -> bool:
    """True when no block of `block` samples reaches `threshold_db` dBFS RMS (an empty clip is silent).

    Block-wise rather than whole-clip RMS, so that a short word in a long pause is not silence
    and a lone click is not speech either (one block must be loud, not one sample).
    """
    samples = np.asarray(audio, np.float64).ravel()
    if samples.size == 0:
        return True
    pad = (-samples.size) % block
    blocks = np.pad(samples, (0, pad)).reshape(-1, block)
    loudest = np.sqrt(np.max(np.mean(blocks ** 2, axis=1)))
    return bool(loudest <= 10.0 ** (threshold_db / 20.0))


def trim(audio: np.ndarray, rate: int, *, top_db: float = 40.0, pad_ms: float = 100.0) -> np.ndarray:
    """Cut leading and trailing silence (`top_db` below the peak), then pad `pad_ms` of zeros each side."""
    import librosa

    samples = np.asarray(audio, np.float32)
    if samples.size and np.any(samples):
        samples, _ = librosa.effects.trim(samples, top_db=top_db)
    pad = int(round(rate * pad_ms / 1000.0))
    return np.pad(samples, (pad, pad)).astype(np.float32)


def _reason(error: Exception) -> str:
    """libsndfile's own words, without the "Error opening 'PATH':" prefix that repeats the path."""
    text = str(error).splitlines()[0] if str(error) else type(error).__name__
    return re.sub(r"^Error opening .*?: ", "", text).rstrip(".")
