"""The embedded default corpus `espeak-zh-en`: HSK sentences spoken by espeak-ng in Mandarin and English.

The recipe (shared/specs/speech.md §3.2):

- text: the 4,354 graded sentences of `hsk-sentences-audio` (CC-BY-SA-4.0): the hanzi spoken by
  `cmn-latn-pinyin` (or their numbered pinyin with `zh_input="pinyin"`), the English translations
  by eight English accents; a Mandarin sentence whose phonemes switch to English rules (`(en)`,
  erhua words such as 玩儿) is left out, as are the English "placeholder" stand-ins;
- voices: each accent with a curated list of 40 of espeak's 104 variants (no whisper, croak, robot,
  Klatt or echo-chamber voices); per utterance a seeded generator draws the rate (130-210 wpm),
  pitch (25-75), range (30-70) and word gap (0-20 ms), all recorded in `meta.jsonl`;
- splits: `train` = training voices x training sentences; `val` (the spec's dev) = held-out voices x
  200 training sentences (the voice effect alone); `test` = held-out voices x the 5% held-out sentences.
  A held-out voice has one of 8 held-out variants or the held-out accent `en-gb-x-gbclan`;
- audio: silence trimmed at 40 dB, 100 ms padded, 16-bit PCM at 22,050 Hz; silent clips and clips
  whose seconds per syllable (Mandarin) or per letter (English) are out of range are rejected and counted;
- layout: LJSpeech (`wavs/<id>.wav`, `metadata.csv` `id|text|label`) plus `meta.jsonl`, `recipe.json`
  and a `README` with the licences; read back by `tfzoo.speech.corpora.read_ljspeech`.

Generation is deterministic (every file byte-identical for the same recipe), runs once into
`cache_dir("speech", "espeak-<hash>")` (the hash covers the recipe and the espeakng-loader and
hsk-sentences-audio versions) on a pool of worker processes, each with its own engine.
"""

from __future__ import annotations

import functools
import hashlib
import json
import multiprocessing
import os
import re
import shutil
import sys
import time
import unicodedata
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from tfzoo.common.errors import DataError

from .espeak import Prosody, loader_version

__all__ = ["Recipe", "Utterance", "cache_folder", "english_switches", "ensure", "generate", "held_out_sentences",
           "make", "plan", "read_espeak_zh_en", "render", "sentences", "trim_span"]

RECIPE_VERSION = 1  # bump when the recipe changes in a way its config does not show
SAMPLE_RATE = 22_050
SPLITS = ("train", "val", "test")
EN_ACCENTS = ("en-us", "en-gb", "en-gb-x-rp", "en-gb-scotland", "en-029", "en-us-nyc", "en-gb-x-gbclan",
              "en-gb-x-gbcwmd")
ZH_ACCENTS = ("cmn-latn-pinyin",)  # never plain `cmn`: some builds read the tone digits in English
HELD_OUT_ACCENT = "en-gb-x-gbclan"
# Curated from espeak-ng-data/voices/!v: the standard f/m variants and named voices that still sound
# like a plain speaker. Left out: whisper(f), croak, grandma/grandpa (flutter 20), the robosoft and
# *Robot voices, Demonic, RicishayMax* (long echo), Klatt-synthesiser voices (klatt*, adam, benjamin,
# caleb, david, edward*, mike2, Reed, announcer), zac (child pitch), "Mr serious" (space in the name).
TRAIN_VARIANTS = ("f1", "f2", "f3", "f5", "m1", "m2", "m3", "m4", "m5", "m7", "m8",
                  "Alex", "Alicia", "Andrea", "Andy", "Denis", "Diogo", "Gene", "Henrique", "Lee", "Mario",
                  "Mike", "Nguyen", "antonio", "belinda", "gustave", "ian", "john", "linda", "miguel", "paul",
                  "pedro")
HELD_OUT_VARIANTS = ("f4", "m6", "Annie", "steph", "Jacky", "michel", "quincy", "travis")
SIZES = {"default": 3000, "tiny": 4}  # training utterances per language; tiny = 16 clips in all
ATTRIBUTION = ("Sentences: hsk-sentences-audio {hsk} (https://github.com/no7z/hsk-sentences-audio), "
               "CC-BY-SA-4.0, by the hsk-sentences-audio contributors.")
_PLACEHOLDER = re.compile(r"placeholder(-\w+)?|PH", re.IGNORECASE)
_SPLIT_CODE = {"train": 0, "val": 1, "test": 2}
_LANGUAGE_CODE = {"en": 0, "zh": 1}


@dataclass(frozen=True)
class Recipe:
    """Everything the corpus depends on; its `key()` names the cache folder.

    `n_train`, `n_val`, `n_test` count utterances per language. `seed` draws sentences, voices and
    prosody (the held-out sentences are fixed by the split seed and never change).
    """

    n_train: int = 3000
    n_val: int = 300
    n_test: int = 300
    seed: int = 0
    languages: tuple[str, ...] = ("en", "zh")
    zh_input: Literal["hanzi", "pinyin"] = "hanzi"
    rate_wpm: tuple[int, int] = (130, 210)
    pitch: tuple[int, int] = (25, 75)
    range: tuple[int, int] = (30, 70)
    word_gap_ms: tuple[int, int] = (0, 20)
    held_out_sentences: float = 0.05
    val_sentences: int = 200
    top_db: float = 40.0
    pad_ms: float = 100.0
    # Plausible seconds per spoken unit (English letter, Mandarin syllable) of the trimmed speech;
    # outside them a clip is garbled, truncated or mostly pause. Measured on 600 clips of the
    # recipe: English 0.045-0.108 s/letter, Mandarin 0.13-0.47 s/syllable.
    seconds_per_unit: dict[str, tuple[float, float]] = field(
        default_factory=lambda: {"en": (0.03, 0.2), "zh": (0.1, 0.7)})

    def __post_init__(self) -> None:
        for name in ("n_train", "n_val", "n_test"):
            if getattr(self, name) < 1:
                raise DataError(f"espeak recipe {name}={getattr(self, name)}; expected a positive integer")
        if unknown := set(self.languages) - set(_LANGUAGE_CODE):
            raise DataError(f"espeak recipe languages {sorted(unknown)}; expected en and/or zh")
        if self.zh_input not in ("hanzi", "pinyin"):
            raise DataError(f"espeak recipe zh_input={self.zh_input!r}; expected hanzi or pinyin")

    @classmethod
    def scaled(cls, n: int, **overrides: Any) -> Recipe:
        """`n` training utterances per language, and a tenth of that (at least 2) for val and test each."""
        small = max(2, round(n / 10))
        return cls(n_train=int(n), n_val=small, n_test=small, **overrides)

    @classmethod
    def named(cls, size: str, **overrides: Any) -> Recipe:
        """`size` = "default" (3,000 / 300 / 300 per language), "tiny" (16 clips) or an integer scale."""
        text = str(size).strip()
        if text in SIZES:
            return cls.scaled(SIZES[text], **overrides)
        if text.isdigit() and int(text) > 0:
            return cls.scaled(int(text), **overrides)
        raise DataError(f"espeak-zh-en?size={size}; expected default, tiny or a positive integer "
                        "(training utterances per language)")

    def config(self) -> dict[str, Any]:
        """The recipe as JSON-ready data, with the voices and the tool versions it depends on."""
        from importlib.metadata import version

        return {"recipe_version": RECIPE_VERSION, **_plain(asdict(self)), "sample_rate": SAMPLE_RATE,
                "en_accents": list(EN_ACCENTS), "zh_accents": list(ZH_ACCENTS), "held_out_accent": HELD_OUT_ACCENT,
                "train_variants": list(TRAIN_VARIANTS), "held_out_variants": list(HELD_OUT_VARIANTS),
                "versions": {"espeakng-loader": loader_version(),
                             "hsk-sentences-audio": version("hsk-sentences-audio")}}

    def key(self) -> str:
        """12 hex digits of the SHA-256 of `config()`."""
        text = json.dumps(self.config(), sort_keys=True, ensure_ascii=True)
        return hashlib.sha256(text.encode()).hexdigest()[:12]


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (tuple, list)):
        return [_plain(v) for v in value]
    return value


@dataclass(frozen=True)
class Utterance:
    """One planned clip: what to say, in which voice and prosody, and where it belongs."""

    index: int
    id: str
    split: str
    language: str
    sentence_id: str
    text: str  # what espeak reads (punctuation kept for the intonation)
    label: str  # the normalised transcript
    accent: str
    variant: str
    prosody: Prosody
    seed: int

    @property
    def voice(self) -> str:
        return f"{self.accent}+{self.variant}"

    @property
    def units(self) -> int:
        """Spoken units the duration check divides by: English letters, Mandarin syllables
        (a hanzi, or a numbered-pinyin word)."""
        if self.language == "en":
            return sum(c.isalpha() for c in self.label)
        return len(self.label.split()) if self.label.isascii() else sum(not c.isspace() for c in self.label)

    def record(self, seconds: float) -> dict[str, Any]:
        """The line of meta.jsonl."""
        return {"id": self.id, "split": self.split, "language": self.language, "sentence_id": self.sentence_id,
                "voice": self.voice, "accent": self.accent, "variant": self.variant, **asdict(self.prosody),
                "seed": self.seed, "seconds": round(seconds, 4), "text": self.text, "label": self.label}


# ----------------------------------------------------------------------------------------------- text

def _english(sentence: str) -> tuple[str, str] | None:
    """(what espeak reads, the label) of an English translation; None if it is unusable.

    Unusable: the corpus's "placeholder"/"PH" stand-ins and text with hanzi. A sentence with
    digits is read as its spelled-out label ("1.8m" -> "one point eight m"), so that the audio says
    exactly what the label holds; other sentences keep their punctuation for the intonation.
    """
    from . import text

    spoken = " ".join(unicodedata.normalize("NFC", sentence).split())
    if _PLACEHOLDER.fullmatch(spoken) or any(map(text.is_hanzi, spoken)):
        return None
    label = text.normalise(spoken, "en")
    if any(c.isdigit() for c in spoken):
        spoken = label + (spoken[-1] if spoken[-1] in ".?!" else ".")
    return (spoken, label) if label else None


def _mandarin(record: dict, zh_input: str) -> tuple[str, str] | None:
    """(what espeak reads, the label) of a Mandarin sentence: its hanzi, or its numbered pinyin."""
    from . import text

    spoken = " ".join(record["pinyin_numbered"].split()) if zh_input == "pinyin" else record["chinese"]
    spoken = unicodedata.normalize("NFC", spoken)
    # Latin letters or digits in hanzi text would be read with English rules.
    if zh_input == "hanzi" and not all(text.is_hanzi(c) or not c.isalnum() for c in spoken):
        return None
    label = text.normalise(spoken, "zh")
    return (spoken, label) if label else None


def sentences(recipe: Recipe) -> tuple[dict[str, list[tuple[str, int, str, str]]], dict[str, int]]:
    """Per language, the usable sentences as (sentence id, HSK level, spoken text, label) in corpus
    order, and how many were unusable.

    Mandarin sentences that espeak would read partly with English rules are unusable: about 100
    with erhua (玩儿, 一点儿), whose dictionary pinyin "wan2r5" comes out as "want-two-r-five".
    """
    from hsk_sentences_audio import load_sentences

    usable: dict[str, list] = {language: [] for language in recipe.languages}
    unusable = dict.fromkeys(recipe.languages, 0)
    for record in load_sentences():
        for language in recipe.languages:
            pair = (_english(record["translation"]["en"]) if language == "en"
                    else _mandarin(record, recipe.zh_input))
            if pair is None:
                unusable[language] += 1
            else:
                usable[language].append((record["id"], int(record["hsk_level"]), *pair))
    if "zh" in usable:
        switching = english_switches([s[2] for s in usable["zh"]], voice=ZH_ACCENTS[0])
        unusable["zh"] += sum(switching)
        usable["zh"] = [s for s, bad in zip(usable["zh"], switching, strict=True) if not bad]
    return usable, unusable


def english_switches(texts: list[str], *, voice: str = ZH_ACCENTS[0]) -> list[bool]:
    """For each text, whether espeak's phonemes for it switch to English rules (the `(en)` marker).

    Runs in a spawned process with its own engine, so the caller (which may run TensorFlow) is never forked.
    """
    return list(_switches(tuple(texts), voice))


@functools.lru_cache(maxsize=4)  # a plan screens all 4,354 sentences (about 3 s); screen once per process
def _switches(texts: tuple[str, ...], voice: str) -> tuple[bool, ...]:
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        phonemes = pool.apply(_phonemes_batch, (list(texts), voice))
    return tuple("(en)" in p for p in phonemes)


def _phonemes_batch(texts: list[str], voice: str) -> list[str]:
    from .espeak import engine

    return engine().phonemes_batch(texts, voice=voice)


def held_out_sentences(fraction: float = 0.05) -> frozenset[str]:
    """The sentence ids kept out of training: `fraction` of each HSK level, fixed by the split seed."""
    from hsk_sentences_audio import load_sentences

    from tfzoo.common.data.splits import carve

    records = load_sentences()
    chosen = carve([r["hsk_level"] for r in records], val=0.0, test=fraction)["test"]
    return frozenset(records[i]["id"] for i in chosen)


# ----------------------------------------------------------------------------------------------- plan

def plan(recipe: Recipe) -> list[Utterance]:
    """Every utterance of the corpus, in a fixed order; depends only on the recipe."""
    held_out = held_out_sentences(recipe.held_out_sentences)
    counts = {"train": recipe.n_train, "val": recipe.n_val, "test": recipe.n_test}
    utterances: list[Utterance] = []
    for language, usable in sentences(recipe)[0].items():
        def rng(split: str, language: str = language) -> np.random.Generator:
            return np.random.default_rng([recipe.seed, _LANGUAGE_CODE[language], _SPLIT_CODE[split]])

        train = [s for s in usable if s[0] not in held_out]
        test = [s for s in usable if s[0] in held_out]
        order = _cycle(train, recipe.n_train, rng("train"))
        # val reuses sentences that train speaks, so val - train is the effect of the voice alone
        val_pool = list(dict.fromkeys(order))[:min(recipe.val_sentences, recipe.n_train)]
        pools = {"train": order, "val": _cycle(val_pool, recipe.n_val, rng("val")),
                 "test": _cycle(test, recipe.n_test, rng("test"))}
        for split in SPLITS:
            for i, sentence in enumerate(pools[split][:counts[split]]):
                utterances.append(_utterance(recipe, len(utterances), language, split, i, sentence))
    return utterances


def _cycle(items: list, n: int, rng: np.random.Generator) -> list:
    """`n` items: shuffled passes over `items`, so every item is used before any repeats."""
    if not items:
        raise DataError("espeak recipe: no usable sentences for a split; expected hsk-sentences-audio's 4,354")
    out: list = []
    while len(out) < n:
        out.extend(items[j] for j in rng.permutation(len(items)))
    return out[:n]


def _utterance(recipe: Recipe, index: int, language: str, split: str, i: int, sentence: tuple) -> Utterance:
    sentence_id, _, spoken, label = sentence
    # Each utterance draws from its own generator, seeded by its place in the corpus.
    rng = np.random.default_rng([recipe.seed, _LANGUAGE_CODE[language], _SPLIT_CODE[split], i])
    accents = EN_ACCENTS if language == "en" else ZH_ACCENTS
    if split == "train":
        accent = str(rng.choice([a for a in accents if a != HELD_OUT_ACCENT]))
        variant = str(rng.choice(TRAIN_VARIANTS))
    else:  # an unseen variant, or any variant with the unseen accent
        accent = str(rng.choice(accents))
        variant = str(rng.choice(TRAIN_VARIANTS + HELD_OUT_VARIANTS if accent == HELD_OUT_ACCENT
                                 else HELD_OUT_VARIANTS))
    gap_low, gap_high = (g // 10 for g in recipe.word_gap_ms)
    prosody = Prosody(rate=int(rng.integers(recipe.rate_wpm[0], recipe.rate_wpm[1] + 1)),
                      pitch=int(rng.integers(recipe.pitch[0], recipe.pitch[1] + 1)),
                      range=int(rng.integers(recipe.range[0], recipe.range[1] + 1)),
                      word_gap_ms=10 * int(rng.integers(gap_low, gap_high + 1)))
    return Utterance(index=index, id=f"{language}-{split}-{i:05d}", split=split, language=language,
                     sentence_id=sentence_id, text=spoken, label=label, accent=accent, variant=variant,
                     prosody=prosody, seed=int(rng.integers(0, 2**31 - 1)))


# ------------------------------------------------------------------------------------------ rendering

def trim_span(audio: np.ndarray, *, top_db: float, frame: int = 2048, hop: int = 512) -> tuple[int, int]:
    """[start, end) of `audio` without leading and trailing silence: librosa.effects.trim's rule.

    Frames (centred, zero-padded) whose RMS is more than `top_db` below the loudest frame's are silence.
    Written out in NumPy because a worker that imports librosa forks 3-4 times slower (every
    utterance is synthesised in a fork, see espeak.py); a test checks it against audio.trim.
    """
    samples = np.asarray(audio, np.float32)
    padded = np.pad(samples, frame // 2)
    frames = np.lib.stride_tricks.sliding_window_view(padded, frame)[::hop]
    power = np.mean(frames.astype(np.float32) ** 2, axis=1)
    power = np.maximum(power, 1e-10)
    loud = np.flatnonzero(10.0 * np.log10(power) - 10.0 * np.log10(power.max()) > -top_db)
    if loud.size == 0:
        return 0, 0
    return int(loud[0] * hop), min(len(samples), int((loud[-1] + 1) * hop))


def render(utterance: Utterance, recipe: Recipe) -> tuple[np.ndarray | None, str]:
    """Synthesise, check and trim one utterance: (int16 samples, "") or (None, the rejection reason)."""
    from .audio import is_silent
    from .espeak import engine

    # Mandarin sentences that switch to English rules were left out when planning (`sentences`).
    samples = engine().synthesize(utterance.text, voice=utterance.voice, prosody=utterance.prosody,
                                 seed=utterance.seed)
    audio = samples.astype(np.float32) / 32768.0  # exact: every int16 is a float32
    if is_silent(audio):
        return None, "silent"
    start, end = trim_span(audio, top_db=recipe.top_db)
    low, high = recipe.seconds_per_unit[utterance.language]
    if not low <= (end - start) / SAMPLE_RATE / max(utterance.units, 1) <= high:
        return None, "duration"
    pad = round(SAMPLE_RATE * recipe.pad_ms / 1000)
    return np.pad(samples[start:end], pad), ""


def _render_to(job: tuple[Utterance, Recipe, str]) -> tuple[int, str, float]:
    """Worker task: render one utterance into wavs/<id>.wav; returns (index, rejection reason, seconds)."""
    import soundfile

    utterance, recipe, folder = job
    samples, reason = render(utterance, recipe)
    if samples is None:
        return utterance.index, reason, 0.0
    soundfile.write(os.path.join(folder, "wavs", f"{utterance.id}.wav"), samples, SAMPLE_RATE,
                    subtype="PCM_16", format="WAV")
    return utterance.index, "", len(samples) / SAMPLE_RATE


def _init_worker() -> None:
    from .espeak import engine

    engine()  # each worker initialises its own copy of the library's global state


# --------------------------------------------------------------------------------------- generation

def generate(folder: str | Path, recipe: Recipe, *, workers: int = 2, progress: bool = True,
             destination: str | Path | None = None) -> list[Path]:
    """Write the corpus of `recipe` into `folder` (created); returns the files written, `recipe.json` last.

    Utterances render on `workers` processes (spawned: each loads its own espeak-ng); which worker
    renders what never changes a byte, because each utterance is synthesised in isolation from its
    own seed and written under its own id. As with any spawned pool, a script that calls this (or
    resolves `espeak-zh-en`) at import time needs the usual `if __name__ == "__main__":` guard.
    `destination` is the folder the last progress line names (where `ensure` moves the result).
    """
    start = time.perf_counter()
    folder = Path(folder)
    if (folder / "recipe.json").is_file():  # an earlier corpus: none of its clips may linger
        shutil.rmtree(folder / "wavs", ignore_errors=True)
    (folder / "wavs").mkdir(parents=True, exist_ok=True)
    utterances = plan(recipe)
    jobs = [(u, recipe, str(folder)) for u in utterances]
    line = _Progress(len(jobs), enabled=progress)
    results: dict[int, tuple[str, float]] = {}
    if workers <= 1:
        for job in jobs:
            index, reason, seconds = _render_to(job)
            results[index] = (reason, seconds)
            line.update(len(results))
    else:
        context = multiprocessing.get_context("spawn")  # no fork of a process that may run TensorFlow
        with context.Pool(workers, initializer=_init_worker) as pool:
            for index, reason, seconds in pool.imap_unordered(_render_to, jobs, chunksize=8):
                results[index] = (reason, seconds)
                line.update(len(results))
    elapsed = time.perf_counter() - start
    kept = [(u, results[u.index][1]) for u in utterances if not results[u.index][0]]
    rejected = Counter(f"{u.language}/{u.split}/{results[u.index][0]}" for u in utterances
                       if results[u.index][0])
    paths = [folder / "wavs" / f"{u.id}.wav" for u, _ in kept]
    paths += _write_tables(folder, kept)
    summary = _summary(recipe, kept, rejected)
    (folder / "README").write_text(_readme(recipe, summary), encoding="utf-8")
    (folder / "recipe.json").write_text(json.dumps(summary, indent=1, sort_keys=True, ensure_ascii=False) + "\n",
                                        encoding="utf-8")
    audio_hours = sum(s for _, s in kept) / 3600
    line.done(f"tfzoo: espeak-zh-en: {len(kept)} clips ({audio_hours:.2f} h of audio, {sum(rejected.values())} "
              f"rejected) in {elapsed:.1f} s on {max(workers, 1)} process(es) -> {destination or folder}")
    return [*paths, folder / "README", folder / "recipe.json"]


def _write_tables(folder: Path, kept: list[tuple[Utterance, float]]) -> list[Path]:
    for u, _ in kept:
        if "|" in u.text or "|" in u.label or "\n" in u.text:
            raise DataError(f"espeak recipe: sentence {u.sentence_id} holds '|' or a newline; "
                            "expected text that fits LJSpeech's metadata.csv")
    metadata, meta = folder / "metadata.csv", folder / "meta.jsonl"
    metadata.write_text("".join(f"{u.id}|{u.text}|{u.label}\n" for u, _ in kept), encoding="utf-8")
    meta.write_text("".join(json.dumps(u.record(s), sort_keys=True, ensure_ascii=False) + "\n" for u, s in kept),
                    encoding="utf-8")
    return [metadata, meta]


def _summary(recipe: Recipe, kept: list[tuple[Utterance, float]], rejected: Counter) -> dict[str, Any]:
    counts: Counter = Counter(f"{u.language}/{u.split}" for u, _ in kept)
    seconds: Counter = Counter()
    for u, s in kept:
        seconds[f"{u.language}/{u.split}"] += s
    voices = {split: len({u.voice for u, _ in kept if u.split == split}) for split in SPLITS}
    return {"name": "espeak-zh-en", "key": recipe.key(), "config": recipe.config(),
            "counts": dict(sorted(counts.items())),
            "hours": {k: round(v / 3600, 4) for k, v in sorted(seconds.items())},
            "rejected": dict(sorted(rejected.items())), "unusable_sentences": sentences(recipe)[1],
            "voices": voices}


def _readme(recipe: Recipe, summary: dict[str, Any]) -> str:
    versions = summary["config"]["versions"]
    counts = ", ".join(f"{k} {v}" for k, v in summary["counts"].items())
    return "\n".join([
        "espeak-zh-en: a generated bilingual speech corpus (tfzoo-speech)",
        "",
        f"Recipe {summary['key']} (recipe.json holds it in full); clips: {counts}.",
        "Layout: wavs/<id>.wav (16-bit PCM, 22,050 Hz, mono), metadata.csv (id|text|label, LJSpeech),",
        "meta.jsonl (language, split, voice, accent, variant, rate, pitch, range, word gap and seed of each clip).",
        "",
        "Licences and attribution",
        "- " + ATTRIBUTION.format(hsk=versions["hsk-sentences-audio"]),
        "  The transcripts and this corpus, a derivative of them, are shared under CC-BY-SA-4.0:",
        "  https://creativecommons.org/licenses/by-sa/4.0/",
        f"- Audio synthesised by espeak-ng (libespeak-ng and espeak-ng-data from espeakng-loader "
        f"{versions['espeakng-loader']}),",
        "  which is GPL-3.0-or-later (https://github.com/espeak-ng/espeak-ng). espeak-ng was run, not copied;",
        "  no part of it is in these files.",
        "",
    ])


class _Progress:
    """One line on stderr: redrawn on a terminal, every 10% otherwise (common's Progress imports TensorFlow)."""

    def __init__(self, total: int, *, enabled: bool) -> None:
        self.total, self.enabled = total, enabled
        self.tty = enabled and sys.stderr.isatty()
        self.start, self.shown = time.perf_counter(), -1
        if enabled:
            sys.stderr.write(f"tfzoo: generating espeak-zh-en: {total} clips (once; cached afterwards)\n")

    def update(self, done: int) -> None:
        if not self.enabled:
            return
        tenth = 10 * done // max(self.total, 1)
        if self.tty or tenth > self.shown:
            self.shown = tenth
            text = f"espeak-zh-en {done}/{self.total}  {time.perf_counter() - self.start:.0f} s"
            sys.stderr.write(f"\r{text}\033[K" if self.tty else text + "\n")
            sys.stderr.flush()

    def done(self, text: str) -> None:
        if self.enabled:
            sys.stderr.write(("\r\033[K" if self.tty else "") + text + "\n")
            sys.stderr.flush()


# ---------------------------------------------------------------------------------------- the cache

def cache_folder(recipe: Recipe) -> Path:
    """Where the corpus of `recipe` lives: `<cache>/speech/espeak-<key>`."""
    from tfzoo.common.cache import cache_dir

    return cache_dir("speech") / f"espeak-{recipe.key()}"


def ensure(recipe: Recipe, *, workers: int = 2, progress: bool = True) -> Path:
    """The corpus folder of `recipe`, generated first if it is not in the cache.

    It is generated next to its final place and renamed when complete, so an interrupted run
    leaves no half corpus behind and two processes racing each keep a whole one.
    """
    folder = cache_folder(recipe)
    if (folder / "recipe.json").is_file():
        return folder
    if folder.is_dir() and any(folder.iterdir()):
        raise DataError(f"{folder}: exists without recipe.json (not a corpus this recipe wrote); expected "
                        "a generated corpus there: delete the folder to regenerate it")
    partial = folder.with_name(f"{folder.name}.partial-{os.getpid()}")
    shutil.rmtree(partial, ignore_errors=True)
    try:
        generate(partial, recipe, workers=workers, progress=progress, destination=folder)
        try:
            partial.rename(folder)
        except OSError:  # another process finished first: keep its copy
            if not (folder / "recipe.json").is_file():
                raise
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    return folder


# ------------------------------------------------------------------------------- the reader, the maker

def read_espeak_zh_en(arg: str, split: str, *, seed: int = 0, channels: int | None = None, on_error: str = "raise",
                      rate: str = "16000", size: str = "default", zh_input: str = "hanzi",
                      zh_word_spaces: str = "0"):
    """The `espeak-zh-en[?size=default|tiny|N&rate=16000&zh_input=hanzi|pinyin&zh_word_spaces=0|1]` spec.

    The corpus is generated into the cache on first use (minutes at the default size; see the
    module docstring), then read by the LJSpeech reader: elements `{"audio", "text", "id"}` at `rate` Hz.
    `size`: "default" (3,000 train / 300 val / 300 test utterances per language), "tiny" (16 clips,
    for tests) or N training utterances per language (N/10, at least 2, for val and test).
    `zh_input=pinyin` speaks and labels Mandarin as numbered pinyin; `zh_word_spaces=1` puts jieba
    word boundaries into the hanzi labels. The training `seed` never changes the corpus.
    """
    from tfzoo.common.data.base import check_args, no_argument

    from .corpora import read_ljspeech

    del seed  # the data never depends on the training seed
    no_argument("espeak-zh-en", arg)
    check_args(split=split, channels=channels, on_error=on_error)
    if zh_input not in ("hanzi", "pinyin"):
        raise DataError(f"espeak-zh-en?zh_input={zh_input}; expected hanzi or pinyin")
    folder = ensure(Recipe.named(size, zh_input=zh_input))
    data = read_ljspeech(str(folder), split, on_error=on_error, rate=rate, zh_word_spaces=zh_word_spaces)
    summary = json.loads((folder / "recipe.json").read_text(encoding="utf-8"))
    rejected: Counter = Counter()
    for key, count in summary["rejected"].items():  # "zh/train/silent": clips the recipe left out
        _, where, reason = key.split("/")
        if where == split:
            rejected[reason] += count
    return data.replace(recipe=summary["key"], rejected=dict(sorted(rejected.items())))


def make(out: Path, *, n: int, size: int = 128, seed: int = 0) -> list[Path]:
    """`tfzoo data make espeak-zh-en --out DIR [--n N] [--seed S]`: the corpus written into DIR.

    `n` training utterances per language (n/10, at least 2, for val and test each); `seed` draws
    sentences, voices and prosody. `size` (image size for other makers) is ignored.
    """
    del size  # the maker signature is shared with image generators
    return generate(Path(out), Recipe.scaled(n, seed=seed))

