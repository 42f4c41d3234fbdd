"""espeak-ng through ctypes, loaded from the espeakng-loader wheel (no apt package needed).

espeak-ng is GPL-3.0-or-later; it is loaded at run time from the installed wheel, never vendored.

The library keeps global state (one voice, one callback, one output mode) and carries state from one
utterance into the next: the same text, voice and seed give different samples depending on what was
spoken before. So an `Engine` is initialised once per process and every utterance is synthesised in
a forked copy of that freshly initialised process: its output then depends only on its own text,
voice, prosody and seed, whatever else the process or its siblings speak, which is what makes a
generated corpus byte-identical however its work is scheduled. A fork costs a few milliseconds.

This module imports neither TensorFlow nor librosa, so corpus worker processes start fast.
"""

from __future__ import annotations

import ctypes
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tfzoo.common.errors import DataError, DataNotFound

__all__ = ["Engine", "Prosody", "accent_files", "engine", "loader_version", "split_voice", "variant_names"]

# speak_lib.h
_AUDIO_OUTPUT_SYNCHRONOUS = 2
_INITIALIZE_DONT_EXIT = 0x8000  # report a bad data path instead of exiting the process
_POS_CHARACTER = 1
_CHARS_UTF8 = 1
_RATE, _PITCH, _RANGE, _WORDGAP = 1, 3, 4, 7
_WORDGAP_MS = 10  # espeakWORDGAP counts pauses of 10 ms (at the default speed)

_Callback = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p)


@dataclass(frozen=True)
class Prosody:
    """espeak-ng's speech parameters: `rate` in words per minute (80-450), `pitch` and `range` 0-100,
    `word_gap_ms` a pause added between words, in steps of 10 ms."""

    rate: int = 175
    pitch: int = 50
    range: int = 50
    word_gap_ms: int = 0

    def __post_init__(self) -> None:
        checks = (("rate", self.rate, 80, 450), ("pitch", self.pitch, 0, 100), ("range", self.range, 0, 100),
                  ("word_gap_ms", self.word_gap_ms, 0, 1000))
        for name, value, low, high in checks:
            if not low <= value <= high:
                raise DataError(f"espeak prosody {name}={value}; expected {low}..{high}")
        if self.word_gap_ms % _WORDGAP_MS:
            raise DataError(f"espeak prosody word_gap_ms={self.word_gap_ms}; expected a multiple of {_WORDGAP_MS}")


def loader_version() -> str:
    """The installed espeakng-loader version (part of every generated corpus's cache key)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("espeakng-loader")
    except PackageNotFoundError as e:
        raise DataNotFound("espeakng-loader is not installed; expected `pip install espeakng-loader` "
                           "(it ships libespeak-ng and espeak-ng-data)") from e


def _paths() -> tuple[Path, Path]:
    try:
        import espeakng_loader
    except ImportError as e:
        raise DataNotFound("espeakng-loader is not installed; expected `pip install espeakng-loader` "
                           "(it ships libespeak-ng and espeak-ng-data)") from e
    library, data = Path(espeakng_loader.get_library_path()), Path(espeakng_loader.get_data_path())
    if not library.is_file():
        raise DataNotFound(f"{library}: not found; expected libespeak-ng from the espeakng-loader wheel")
    return library, data


def variant_names(data_path: str | Path | None = None) -> tuple[str, ...]:
    """The voice variants bundled with espeak-ng-data (`f1`..`f5`, `m1`..`m8`, named voices)."""
    folder = Path(data_path or _paths()[1]) / "voices" / "!v"
    return tuple(sorted(p.name for p in folder.iterdir() if p.is_file()))


def accent_files(data_path: str | Path | None = None) -> dict[str, str]:
    """Accent name -> espeak voice file ("en-gb" -> "gmw/en"), from espeak-ng-data/lang.

    espeak_SetVoiceByName knows file names ("en", "en-US") but not every language code the files
    declare ("en-gb"); a code maps to the file that declares it with the best (lowest) priority.
    """
    root = Path(data_path or _paths()[1]) / "lang"
    best: dict[str, tuple[int, str]] = {}
    for path in sorted(root.rglob("*")):
        if not path.is_file():
            continue
        identifier = path.relative_to(root).as_posix()
        best[path.name.lower()] = (-1, identifier)  # a file's own name beats any declared code
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            words = line.split()
            if len(words) >= 2 and words[0] == "language":
                priority = int(words[2]) if len(words) > 2 and words[2].isdigit() else 5  # espeak's default
                code = words[1].lower()
                if code not in best or priority < best[code][0]:
                    best[code] = (priority, identifier)
    return {code: identifier for code, (_, identifier) in best.items()}


def split_voice(voice: str) -> tuple[str, str]:
    """`"en-us+f3"` -> `("en-us", "f3")`; no variant gives `""`."""
    accent, _, variant = voice.partition("+")
    return accent, variant


class Engine:
    """One process's espeak-ng, initialised in synchronous mode at 22,050 Hz.

    `synthesize` and `phonemes` run in a forked child of this process (see the module docstring),
    so calls never influence each other. Use `engine()` rather than constructing one per call.
    """

    def __init__(self) -> None:
        library_path, data_path = _paths()
        self.data_path = data_path
        self._lib = lib = ctypes.CDLL(str(library_path))
        lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
        lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
        lib.espeak_Synth.argtypes = [ctypes.c_char_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int, ctypes.c_uint,
                                     ctypes.c_uint, ctypes.c_void_p, ctypes.c_void_p]
        lib.espeak_TextToPhonemes.argtypes = [ctypes.POINTER(ctypes.c_char_p), ctypes.c_int, ctypes.c_int]
        lib.espeak_TextToPhonemes.restype = ctypes.c_char_p
        lib.espeak_ng_SetRandSeed.argtypes = [ctypes.c_long]
        rate = lib.espeak_Initialize(_AUDIO_OUTPUT_SYNCHRONOUS, 0, str(data_path).encode(), _INITIALIZE_DONT_EXIT)
        if rate <= 0:
            raise DataNotFound(f"{data_path}: espeak-ng could not initialise; expected espeak-ng-data "
                               "from the espeakng-loader wheel")
        self.sample_rate = int(rate)
        self._chunks: list[bytes] = []
        self._callback = _Callback(self._collect)  # kept on self: the library holds only a raw pointer
        lib.espeak_SetSynthCallback(self._callback)
        self._variants = frozenset(variant_names(data_path))
        self._accents = accent_files(data_path)

    def _collect(self, samples, count: int, events) -> int:
        if count > 0:
            self._chunks.append(ctypes.string_at(samples, 2 * count))
        return 0  # 0: go on synthesising

    def _select(self, voice: str) -> None:
        accent, variant = split_voice(voice)
        # espeak-ng silently ignores an unknown variant, so look it up ourselves.
        if variant and variant not in self._variants:
            raise DataError(f"espeak voice {voice!r}: no variant {variant!r} in "
                            f"{self.data_path / 'voices' / '!v'}; expected one of f1..f5, m1..m8, ...")
        identifier = self._accents.get(accent.lower())
        name = identifier + (f"+{variant}" if variant else "") if identifier else voice
        if self._lib.espeak_SetVoiceByName(name.encode()) != 0:
            raise DataError(f"espeak voice {voice!r}: accent {accent!r} not found in {self.data_path}; "
                            "expected a name such as en-us or cmn-latn-pinyin")

    def _speak(self, text: str, voice: str, prosody: Prosody, seed: int) -> bytes:
        self._select(voice)
        for parameter, value in ((_RATE, prosody.rate), (_PITCH, prosody.pitch), (_RANGE, prosody.range),
                                 (_WORDGAP, prosody.word_gap_ms // _WORDGAP_MS)):
            self._lib.espeak_SetParameter(parameter, value, 0)
        # Voices with breath or roughness draw noise from espeak's own generator.
        self._lib.espeak_ng_SetRandSeed(seed & 0x7FFFFFFF)
        self._chunks.clear()
        data = text.encode("utf-8")
        status = self._lib.espeak_Synth(data, len(data) + 1, 0, _POS_CHARACTER, 0, _CHARS_UTF8, None, None)
        if status != 0 or self._lib.espeak_Synchronize() != 0:
            raise DataError(f"espeak could not synthesise {text[:40]!r} with voice {voice!r} (status {status})")
        return b"".join(self._chunks)

    def _phonemes(self, text: str, voice: str) -> bytes:
        self._select(voice)
        pointer = ctypes.c_char_p(text.encode("utf-8"))
        clauses = []
        while pointer.value:  # espeak advances the pointer by one clause per call
            clauses.append(self._lib.espeak_TextToPhonemes(ctypes.byref(pointer), _CHARS_UTF8, 0) or b"")
        return b" ".join(c.strip() for c in clauses)

    def synthesize(self, text: str, *, voice: str, prosody: Prosody = Prosody(), seed: int = 0) -> np.ndarray:
        """int16 samples at `sample_rate` of `text` (UTF-8) spoken by `voice` ("en-us+f3")."""
        return np.frombuffer(_isolated(lambda: self._speak(text, voice, prosody, seed)), np.int16).copy()

    def phonemes(self, text: str, *, voice: str) -> str:
        """espeak's phoneme mnemonics of `text`, one clause after another.

        A switch to another language's rules shows as `(en)` ... `(cmn)`.
        """
        return self.phonemes_batch([text], voice=voice)[0]

    def phonemes_batch(self, texts: list[str], *, voice: str) -> list[str]:
        """`phonemes` of many texts, translated one after another in a single child process."""
        if not texts:
            return []
        joined = _isolated(lambda: b"\0".join(self._phonemes(text, voice) for text in texts))
        return joined.decode("utf-8", "replace").split("\0")


def _isolated(work: Callable[[], bytes]) -> bytes:
    """Run `work` in a forked child and return its bytes; where fork is missing (Windows), run it here."""
    if not hasattr(os, "fork"):
        return work()  # outputs then depend on earlier calls: corpora are not byte-reproducible there
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: do the work, send it, and leave without running any Python cleanup
        os.close(read_end)
        code = 0
        try:
            payload = work()
        except BaseException as e:  # noqa: BLE001 - the parent re-raises it as one line
            payload, code = str(e).encode("utf-8", "replace"), 1
        try:
            view = memoryview(payload)
            while view:
                view = view[os.write(write_end, view):]
        finally:
            os._exit(code)
    os.close(write_end)
    parts = []
    with os.fdopen(read_end, "rb") as pipe:
        while block := pipe.read(1 << 20):
            parts.append(block)
    _, status = os.waitpid(pid, 0)
    payload = b"".join(parts)
    if os.waitstatus_to_exitcode(status) != 0:
        raise DataError(payload.decode("utf-8", "replace") or f"espeak child process failed (status {status})")
    return payload


_engine: tuple[int, Engine] | None = None


def engine() -> Engine:
    """This process's Engine, initialised on first use (a forked or spawned worker gets its own)."""
    global _engine
    if _engine is None or _engine[0] != os.getpid():
        _engine = (os.getpid(), Engine())
    return _engine[1]
