"""Readers for real speech corpora: `thchs30:DIR`, `ljspeech:DIR`, `asr-csv:FILE`.

    from tfzoo.common.data import resolve
    train = resolve("ljspeech:/data/LJSpeech-1.1?rate=16000", "train")
    for clip in train.dataset:          # {"audio": float32 [T] in [-1, 1], "text": tf.string, "id": tf.string}
        ...

Each reader lists the corpus's transcripts and checks every clip's header when it is called
(cheap: no samples are decoded), then decodes and resamples lazily, one clip at a time, while
the dataset is iterated, so a large corpus never sits in memory. Transcripts are normalised by
`tfzoo.speech.text`. `meta` holds `sample_rate`, `language` (a code, or a sorted list for a
mixed corpus), `languages` (clips per language; per clip, `text.detect_language` tells them
apart), `count`, `skipped` ({reason: clips}), `problems` ({reason: first messages}),
`characters` (every character of the split's transcripts), `transcripts` (the distinct normalised
transcripts with their language, for language models), `seconds`, and `speakers` or `voices`
when known.

Bad data is a one-line DataError naming the file (and line) and what was expected; with
`on_error="skip"` the clip is skipped and counted under its reason: `bad_text` (undecodable or
malformed transcript line), `missing_audio` (a transcript without its clip), `missing_text`,
`empty` (0 bytes or 0 samples), `unreadable` (not audio, truncated, corrupt), `empty_text`,
`silent`, and `too_short` (below `min_seconds`; a filter, not an error). Header problems are
found when the reader is called; a clip whose samples turn out corrupt or silent is found when
it is read, and counted then.
"""

from __future__ import annotations

import contextvars
import csv
import json
import math
import re
import warnings
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import tensorflow as tf

from tfzoo.common.data.base import DataSplit, need_path
from tfzoo.common.data.problems import handle
from tfzoo.common.data.splits import carve
from tfzoo.common.errors import DataError, DataNotFound

from . import audio, text

__all__ = ["SIGNATURE", "read_asr_csv", "read_ljspeech", "read_thchs30", "speech_report"]

SIGNATURE = {"audio": tf.TensorSpec([None], tf.float32), "text": tf.TensorSpec([], tf.string),
             "id": tf.TensorSpec([], tf.string)}
# Clips carved for val and test where a corpus has no split of its own (the rest is train).
CARVE = {"val": 0.05, "test": 0.05}
SPLIT_NAMES = {"train": "train", "val": "dev", "test": "test"}  # tfzoo's names -> the corpora's
MAX_MESSAGES = 20  # per reason in meta["problems"]: enough to see a pattern

THCHS_LAYOUT = ("thchs30:DIR expects THCHS-30: DIR (or DIR/data_thchs30) with train/ dev/ test/ folders of "
                "<id>.wav plus <id>.wav.trn (the transcript, or one line pointing to data/<id>.wav.trn with "
                "three lines: words, pinyin, phones); or the book's layout: wavs anywhere under DIR plus "
                "DIR/doc/trans/train.word.txt with '<utt_id> <words>' lines")
LJ_LAYOUT = ("ljspeech:DIR expects the LJSpeech layout: DIR/metadata.csv with 'id|text|normalized text' lines "
             "(pipe-separated, no header, no quoting, UTF-8) and DIR/wavs/<id>.wav; optionally DIR/meta.jsonl "
             "with one {\"id\", \"split\": train|val|test} record per clip")
CSV_LAYOUT = ("asr-csv:FILE expects a CSV with the header wav_filename,transcript or DeepSpeech's "
              "wav_filename,wav_filesize,transcript; relative paths resolve against the CSV's folder")
CSV_HEADERS = (("wav_filename", "transcript"), ("wav_filename", "wav_filesize", "transcript"))
_SPLIT_WORDS = {"train": ("train",), "val": ("dev", "val", "valid", "validation"), "test": ("test",)}


@dataclass(frozen=True)
class Entry:
    """One transcript line: the clip's id and path, its raw text, and where the line is (for messages)."""

    id: str
    path: Path
    text: str
    where: str
    language: str | None = None
    speaker: str | None = None


@dataclass(frozen=True)
class Bad:
    """A transcript line that could not be read: its skip reason and one-line message."""

    reason: str
    message: str


# ---------------------------------------------------------------- options and small helpers


def _rate(value) -> int:
    try:
        rate = int(str(value))
    except ValueError:
        rate = 0
    if rate <= 0:
        raise DataError(f"rate={value!r}; expected a sample rate in Hz, e.g. rate=16000")
    return rate


def _seconds(name: str, value) -> float:
    try:
        seconds = float(str(value))
    except ValueError:
        seconds = -1.0
    if not (seconds >= 0 and math.isfinite(seconds)):
        raise DataError(f"{name}={value!r}; expected a number of seconds >= 0, e.g. {name}=7.5")
    return seconds


def _flag(name: str, value) -> bool:
    lowered = str(value).strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off", ""):
        return False
    raise DataError(f"{name}={value!r}; expected 1 or 0")


def _lines(path: Path) -> Iterable[tuple[int, str | Bad]]:
    """(line number, text) for each non-blank line; a line that is not UTF-8 comes as a `Bad`."""
    for number, raw in enumerate(path.read_bytes().split(b"\n"), start=1):
        raw = raw.rstrip(b"\r")
        if number == 1:
            raw = raw.removeprefix(b"\xef\xbb\xbf")  # a byte-order mark
        if not raw.strip():
            continue
        try:
            yield number, raw.decode("utf-8")
        except UnicodeDecodeError as e:
            yield number, Bad("bad_text", f"{path}: line {number}: found bytes that are not UTF-8 "
                                          f"(byte {e.start}: {raw[e.start:e.start + 2]!r}); expected UTF-8 text")


def _carved(n: int, split: str, *, val: float = CARVE["val"], test: float = CARVE["test"]) -> np.ndarray:
    """Indices of `split` among n records, carved with common's fixed split seed (never the training seed)."""
    return carve(np.zeros(n, np.int64), val=val, test=test)[split]


def _share(slots: list, split: str, present: set[str]) -> list:
    """`split`'s records among the train source's `slots`.

    `present` names the splits that have a source of their own (folder or file); val and test
    without one are carved from train, 5% each, and train keeps the rest (never an overlap).
    """
    chosen = _carved(len(slots), split, val=0 if "val" in present else CARVE["val"],
                     test=0 if "test" in present else CARVE["test"])
    return [slots[i] for i in chosen]


# ---------------------------------------------------------------- the shared second half of every reader


def _build(scheme: str, arg: str, split: str, slots: list[Entry | Bad], *, rate: int, on_error: str,
           language: str | None = None, rules: str | None = None, zh_word_spaces: bool = False,
           min_seconds: float = 0.0, extra: dict | None = None) -> DataSplit:
    """Normalise transcripts, check clip headers, handle problems, and wrap the lazy decoder.

    `language` is the corpus's (else each entry's, else detected per transcript); `rules` the
    normalisation when it differs from the language (THCHS pinyin and phones labels).
    """
    where = f"{scheme}:{arg} [{split}]"
    skipped: dict[str, int] = {}
    problems: dict[str, list[str]] = {}
    messages: list[str] = []

    def record(reason: str, message: str) -> None:  # also called later, by the decoder
        skipped[reason] = skipped.get(reason, 0) + 1
        problems.setdefault(reason, [])
        if len(problems[reason]) < MAX_MESSAGES:
            problems[reason].append(message)

    def bad(reason: str, message: str) -> None:
        record(reason, message)
        messages.append(message)

    dropped: Counter = Counter()
    kept: list[tuple[str, str, Path]] = []
    transcripts: dict[str, str] = {}  # distinct label -> its language
    languages: Counter = Counter()
    speakers: set[str] = set()
    stereo, seconds = [], 0.0
    for slot in slots:
        if isinstance(slot, Bad):
            bad(slot.reason, slot.message)
            continue
        lang = slot.language or language or text.detect_language(slot.text)
        label = text.normalise(slot.text, rules or lang, zh_word_spaces=zh_word_spaces, dropped=dropped)
        if not label:
            bad("empty_text", f"{slot.where}: transcript {slot.text[:40]!r} is empty after normalisation; "
                              f"expected words")
            continue
        try:
            info = audio.probe(slot.path)
        except DataNotFound:
            bad("missing_audio", f"{slot.where}: audio {slot.path} not found; expected {audio.EXPECTED} there")
            continue
        except DataError as e:
            bad("empty" if ("empty file" in str(e) or "zero-length" in str(e)) else "unreadable", str(e))
            continue
        if info.seconds < min_seconds:
            skipped["too_short"] = skipped.get("too_short", 0) + 1
            continue
        if info.channels > 1:
            stereo.append(slot.path)
        seconds += info.seconds
        languages[lang] += 1
        if slot.speaker:
            speakers.add(slot.speaker)
        kept.append((slot.id, label, slot.path))
        transcripts.setdefault(label, lang)
    handle(messages, on_error=on_error, where=where)
    if stereo:  # one warning for the corpus, not one per clip
        warnings.warn(f"{where}: {len(stereo)} clip(s) have several channels and are mixed down to mono; "
                      f"first: {stereo[0]}", stacklevel=3)
    langs = sorted(languages)
    meta = {"sample_rate": rate, "language": langs[0] if len(langs) == 1 else (langs or language),
            "languages": dict(sorted(languages.items())), "count": len(kept), "skipped": skipped,
            "problems": problems, "characters": "".join(sorted({c for _, label, _ in kept for c in label})),
            "transcripts": transcripts, "seconds": round(seconds, 3)}
    if speakers:
        meta["speakers"] = len(speakers)
    if dropped:
        meta["dropped_characters"] = dict(dropped.most_common(50))
    meta.update(extra or {})
    dataset = tf.data.Dataset.from_generator(_decoder(kept, rate=rate, on_error=on_error, where=where, record=record),
                                             output_signature=SIGNATURE)
    return DataSplit(dataset, len(kept), meta)


def _decoder(kept: list[tuple[str, str, Path]], *, rate: int, on_error: str, where: str, record):
    """The generator function: decode, resample and check each clip as it is read.

    `tfzoo data check` collects problems through a context variable; tf.data runs generators on
    its own threads, so the caller's context is captured here and problems are handled inside it.
    """
    context = contextvars.copy_context()
    failed: set[str] = set()  # found once, counted once, however many epochs read the dataset

    def generate():
        for clip_id, label, path in kept:
            if clip_id in failed:
                continue
            try:
                samples = audio.load(path, rate=rate, warn=False)
            except DataError as e:
                reason, message = "unreadable", str(e)
            else:
                if not audio.is_silent(samples):
                    yield {"audio": samples, "text": label, "id": clip_id}
                    continue
                reason, message = "silent", f"{path}: silent clip (no block above -60 dBFS); expected speech"
            failed.add(clip_id)
            record(reason, message)
            context.run(handle, [message], on_error=on_error, where=where)

    return generate


# ---------------------------------------------------------------- thchs30:DIR


def _read_trn(path: Path, root: Path) -> list[str] | Bad:
    """The transcript lines of a .trn: its own, or those of the data/<id>.wav.trn it points to."""
    lines = [line for _, line in _lines(path)]
    if any(isinstance(line, Bad) for line in lines):
        return next(line for line in lines if isinstance(line, Bad))
    lines = [line.strip() for line in lines]
    if len(lines) == 1 and lines[0].endswith(".trn"):
        target = (path.parent / lines[0]).resolve()
        if not target.is_file():
            target = root / "data" / Path(lines[0]).name
        if not target.is_file():
            return Bad("missing_text", f"{path}: points to {lines[0]}, which is not there (nor {target}); "
                                       f"expected data/<id>.wav.trn with words, pinyin and phones lines")
        return _read_trn(target, root)
    return lines


def _thchs_standard(root: Path, split: str, unit: str) -> list[Entry | Bad]:
    line = {"chars": 0, "pinyin": 1, "phones": 2}[unit]
    present = {s for s in SPLIT_NAMES if (root / SPLIT_NAMES[s]).is_dir()}
    from_train = split == "train" or split not in present
    folder = root / ("train" if from_train else SPLIT_NAMES[split])
    if not folder.is_dir():
        raise DataNotFound(f"{root}: no {SPLIT_NAMES[split]}/ or train/ folder to give the {split} split; "
                           f"{THCHS_LAYOUT}")
    stems = sorted({p.name[:-len(".trn")] if p.name.endswith(".trn") else p.name for p in folder.iterdir()
                    if p.name.lower().endswith((".wav", ".wav.trn"))})
    if not stems:
        raise DataNotFound(f"{folder}: found no .wav or .wav.trn files; {THCHS_LAYOUT}")
    slots: list[Entry | Bad] = []
    for stem in stems:
        wav, trn = folder / stem, folder / (stem + ".trn")
        utt = stem.rsplit(".", 1)[0]
        if not trn.is_file():
            slots.append(Bad("missing_text", f"{wav}: no transcript {trn.name}; expected <id>.wav.trn beside it"))
            continue
        lines = _read_trn(trn, root)
        if isinstance(lines, Bad):
            slots.append(lines)
        elif len(lines) <= line:
            slots.append(Bad("bad_text", f"{trn}: found {len(lines)} transcript line(s), expected 3 "
                                         f"(words, pinyin, phones) for unit={unit}"))
        else:
            slots.append(Entry(utt, wav, lines[line], str(trn), speaker=utt.split("_")[0]))
    return _share(slots, split, present) if from_train else slots


def _thchs_book(root: Path, split: str, unit: str) -> list[Entry | Bad]:
    kind = {"chars": "word", "pinyin": "syllable", "phones": "phone"}[unit]
    trans = root / "doc" / "trans"
    present = {s for s in SPLIT_NAMES if (trans / f"{SPLIT_NAMES[s]}.{kind}.txt").is_file()}
    from_train = split == "train" or split not in present
    source = trans / f"{'train' if from_train else SPLIT_NAMES[split]}.{kind}.txt"
    if not source.is_file():
        raise DataNotFound(f"{source}: no such file; {THCHS_LAYOUT}")
    wavs: dict[str, Path] = {}
    for path in sorted(root.rglob("*")):
        if path.suffix.lower() == ".wav" and trans not in path.parents and path.is_file():
            wavs.setdefault(path.name.split(".")[0], path)
    slots: list[Entry | Bad] = []
    for number, line in _lines(source):
        if isinstance(line, Bad):
            slots.append(line)
            continue
        utt, _, words = line.strip().partition(" ")
        if not words.strip():
            slots.append(Bad("bad_text", f"{source}: line {number}: found {line.strip()[:40]!r}, "
                                         f"expected '<utt_id> <words>'"))
            continue
        path = wavs.get(utt, root / f"{utt}.wav")
        slots.append(Entry(utt, path, words.strip(), f"{source}: line {number}", speaker=utt.split("_")[0]))
    if not slots:
        raise DataError(f"{source}: found no transcript lines; expected '<utt_id> <words>' lines")
    return _share(slots, split, present) if from_train else slots


def read_thchs30(arg: str, split: str, *, seed: int = 0, channels: int | None = None, on_error: str = "raise",
                 unit: str = "chars", min_seconds: str = "0", rate: str = "16000",
                 zh_word_spaces: str = "0") -> DataSplit:
    """Reader for `thchs30:DIR?unit=chars|pinyin|phones&min_seconds=0&rate=16000&zh_word_spaces=0`.

    THCHS-30's own layout (train/ dev/ test/ with .wav.trn transcripts) or the book's (wavs plus
    doc/trans/train.word.txt; S0 L11080-L11146), see THCHS_LAYOUT. `unit` picks the label line:
    hanzi, numbered pinyin or phones. `min_seconds` drops shorter clips (the book dropped files
    under 240,000 bytes, about 7.5 s: `min_seconds=7.5`). `zh_word_spaces=1` keeps THCHS's word
    spaces in hanzi labels, as the book did. A split without its own folder or file is carved
    from train (5% each) with the fixed split seed; `seed` is not used.
    """
    del seed, channels  # splits never depend on the training seed; audio has no image channels
    if unit not in ("chars", "pinyin", "phones"):
        raise DataError(f"unit={unit!r}; expected chars, pinyin or phones")
    root = need_path("thchs30", arg, "directory")
    if not root.is_dir():
        raise DataNotFound(f"{root}: no such directory; {THCHS_LAYOUT}")
    if (root / "data_thchs30").is_dir():
        root = root / "data_thchs30"
    if any((root / name).is_dir() for name in SPLIT_NAMES.values()):
        slots, layout = _thchs_standard(root, split, unit), "standard"
    elif (root / "doc" / "trans").is_dir():
        slots, layout = _thchs_book(root, split, unit), "book"
    else:
        raise DataNotFound(f"{root}: found neither train/ dev/ test/ folders nor doc/trans/; {THCHS_LAYOUT}")
    return _build("thchs30", arg, split, slots, rate=_rate(rate), on_error=on_error,
                  language="zh", rules="zh" if unit == "chars" else "pinyin",
                  zh_word_spaces=_flag("zh_word_spaces", zh_word_spaces),
                  min_seconds=_seconds("min_seconds", min_seconds), extra={"unit": unit, "layout": layout})


# ---------------------------------------------------------------- ljspeech:DIR


def _meta_records(path: Path) -> dict[str, dict]:
    records = {}
    for number, line in _lines(path):
        if isinstance(line, Bad):
            raise DataError(line.message)
        try:
            record = json.loads(line)
        except json.JSONDecodeError as e:
            raise DataError(f"{path}: line {number}: found invalid JSON ({e.msg}); expected one JSON object "
                            f"per line") from None
        if not isinstance(record, dict) or "id" not in record:
            raise DataError(f"{path}: line {number}: found {line[:60]!r}, expected a JSON object with an \"id\"")
        records[str(record["id"])] = record
    return records


def _record_split(path: Path, record: dict) -> str:
    value = str(record["split"]).lower()
    value = "val" if value == "dev" else value
    if value not in SPLIT_NAMES:
        raise DataError(f"{path}: record {record['id']!r}: split {record['split']!r}; "
                        f"expected train, val (dev) or test")
    return value


def _voice(record: dict) -> str | None:
    """A meta.jsonl record's voice ("en-us+f3"), or its speaker; None when it names neither."""
    voice = record.get("voice") or record.get("speaker")
    if voice and record.get("variant") and "+" not in str(voice):
        voice = f"{voice}+{record['variant']}"
    return str(voice) if voice else None


def read_ljspeech(arg: str, split: str, *, seed: int = 0, channels: int | None = None, on_error: str = "raise",
                  rate: str = "16000", zh_word_spaces: str = "0") -> DataSplit:
    """Reader for `ljspeech:DIR?rate=16000`: metadata.csv plus wavs/<id>.wav (see LJ_LAYOUT).

    The label is the normalised-text column (the raw text when that column is empty). With a
    DIR/meta.jsonl whose records carry "id" and "split" (the espeak recipe writes one, with
    "language" and "voice"), its splits and languages are used; otherwise val and test are
    carved 5% each with the fixed split seed and the language is detected per transcript.
    """
    del seed, channels
    root = need_path("ljspeech", arg, "directory")
    metadata = root / "metadata.csv"
    if not metadata.is_file():
        raise DataNotFound(f"{metadata}: no such file; {LJ_LAYOUT}")
    records = _meta_records(root / "meta.jsonl") if (root / "meta.jsonl").is_file() else {}
    by_meta = bool(records) and all("split" in r for r in records.values())
    slots: list[Entry | Bad] = []
    for number, line in _lines(metadata):
        if isinstance(line, Bad):
            slots.append(line)
            continue
        fields = line.split("|")
        if len(fields) < 2 or not fields[0].strip():
            slots.append(Bad("bad_text", f"{metadata}: line {number}: found {len(fields)} field(s), "
                                         f"expected 'id|text|normalized text'"))
            continue
        clip_id = fields[0].strip()
        words = fields[2] if len(fields) > 2 and fields[2].strip() else fields[1]
        record = records.get(clip_id, {})
        slots.append(Entry(clip_id, root / "wavs" / f"{clip_id}.wav", words, f"{metadata}: line {number}",
                           language=record.get("language"), speaker=_voice(record)))
    if not slots:
        raise DataError(f"{metadata}: found no transcript lines; {LJ_LAYOUT}")
    if by_meta:
        meta_path, chosen = root / "meta.jsonl", []
        for slot in slots:
            if isinstance(slot, Bad) or slot.id not in records:
                if split == "train":  # no split of its own: reported once, by train
                    chosen.append(slot if isinstance(slot, Bad) else Bad(
                        "missing_meta", f"{slot.where}: clip {slot.id!r} has no record in {meta_path}; "
                                        f"expected one with its split"))
            elif _record_split(meta_path, records[slot.id]) == split:
                chosen.append(slot)
        slots = chosen
    else:
        slots = [slots[i] for i in _carved(len(slots), split)]
    extra = {}
    voices = sorted({s.speaker for s in slots if isinstance(s, Entry) and s.speaker})
    if voices:
        extra["voices"] = voices
    elif not records:
        extra["speakers"] = 1  # LJSpeech's format is one speaker's
    return _build("ljspeech", arg, split, slots, rate=_rate(rate), on_error=on_error,
                  zh_word_spaces=_flag("zh_word_spaces", zh_word_spaces), extra=extra)


# ---------------------------------------------------------------- asr-csv:FILE


def _split_word(path: Path) -> tuple[str, int] | None:
    """(split, token index) when a token of the file name names a split (train.csv, cv-dev.csv)."""
    tokens = re.split(r"[-_.]", path.stem.lower())
    for i, token in enumerate(tokens):
        for split, words in _SPLIT_WORDS.items():
            if token in words:
                return split, i
    return None


def _sibling(path: Path, index: int, split: str) -> Path | None:
    parts = re.split(r"([-_.])", path.stem)
    for word in _SPLIT_WORDS[split]:
        candidate = parts.copy()
        candidate[2 * index] = word
        sibling = path.with_name("".join(candidate) + path.suffix)
        if sibling.is_file():
            return sibling
    return None


def _csv_slots(path: Path) -> list[Entry | Bad]:
    lines = list(_lines(path))
    if not lines or isinstance(lines[0][1], Bad):
        raise DataError(f"{path}: line 1: found {'nothing' if not lines else 'bytes that are not UTF-8'}; "
                        f"expected a header; {CSV_LAYOUT}")
    header = tuple(h.strip().lower() for h in next(csv.reader([lines[0][1]])))
    if header not in CSV_HEADERS:
        raise DataError(f"{path}: line {lines[0][0]}: found header {','.join(header)!r}; {CSV_LAYOUT}")
    slots: list[Entry | Bad] = []
    for number, line in lines[1:]:
        if isinstance(line, Bad):
            slots.append(line)
            continue
        fields = next(csv.reader([line]))
        if len(fields) != len(header):
            slots.append(Bad("bad_text", f"{path}: line {number}: found {len(fields)} field(s), "
                                         f"expected {len(header)} ({','.join(header)})"))
            continue
        wav = Path(fields[0].strip()).expanduser()
        wav = wav if wav.is_absolute() else path.parent / wav
        clip_id = wav.relative_to(path.parent).with_suffix("").as_posix() if wav.is_relative_to(path.parent) \
            else wav.with_suffix("").as_posix()
        slots.append(Entry(clip_id, wav, fields[-1], f"{path}: line {number}"))
    if not slots:
        raise DataError(f"{path}: found a header and no rows; {CSV_LAYOUT}")
    return slots


def read_asr_csv(arg: str, split: str, *, seed: int = 0, channels: int | None = None, on_error: str = "raise",
                 rate: str = "16000", zh_word_spaces: str = "0") -> DataSplit:
    """Reader for `asr-csv:FILE?rate=16000`: DeepSpeech's CSV (see CSV_LAYOUT).

    When the file name names a split (train.csv, cv-dev.csv, test_clean.csv), the file is that
    split and the other splits are its siblings (dev/val/valid for val); a split without a sibling
    is carved 5% from the train file. Otherwise all three are carved from FILE (90/5/5) with the
    fixed split seed. The language is detected per transcript.
    """
    del seed, channels
    path = need_path("asr-csv", arg, "file")
    if not path.is_file():
        raise DataNotFound(f"{path}: no such file; {CSV_LAYOUT}")
    named = _split_word(path)
    if named is None:
        slots = _csv_slots(path)
        slots = [slots[i] for i in _carved(len(slots), split)]
    else:
        own, index = named
        files = {s: path if s == own else _sibling(path, index, s) for s in SPLIT_NAMES}
        present = {s for s, f in files.items() if f is not None}
        if split != "train" and split in present:
            slots = _csv_slots(files[split])
        elif "train" in present:
            slots = _share(_csv_slots(files["train"]), split, present)
        else:
            raise DataNotFound(f"{path}: names the {own} split, and there is no {SPLIT_NAMES[split]} or train file "
                               f"beside it to give the {split} split; {CSV_LAYOUT}")
    return _build("asr-csv", arg, split, slots, rate=_rate(rate), on_error=on_error,
                  zh_word_spaces=_flag("zh_word_spaces", zh_word_spaces))


# ---------------------------------------------------------------- data check extras


def speech_report(split: DataSplit, *, vocabulary=None, min_seconds: float = 0.5,
                  max_seconds: float = 30.0) -> dict:
    """What `tfzoo data check` should add for a speech split: reads every clip once.

    Returns {"count", "seconds", "shortest", "longest", "too_short": [ids], "too_long": [ids],
    "out_of_vocabulary": {char: n} (against `vocabulary`: a `text.Vocabulary`, characters, or
    None to skip), "skipped": meta's counts, "problems": [one line each]}. "problems" lists the
    unreadable, empty and silent clips the reader met (meta["problems"]), the clips outside
    [min_seconds, max_seconds] and the out-of-vocabulary characters.
    """
    rate = int(split.meta["sample_rate"])
    durations: dict[str, float] = {}
    texts: list[str] = []
    for clip in split.dataset.as_numpy_iterator():
        durations[clip["id"].decode()] = len(clip["audio"]) / rate
        texts.append(clip["text"].decode())
    too_short = sorted(i for i, s in durations.items() if s < min_seconds)
    too_long = sorted(i for i, s in durations.items() if s > max_seconds)
    oov = text.out_of_vocabulary(texts, vocabulary) if vocabulary is not None else {}
    problems = [m for messages in split.meta.get("problems", {}).values() for m in messages]
    problems += [f"clip {i}: {durations[i]:.2f} s; expected at least {min_seconds} s" for i in too_short]
    problems += [f"clip {i}: {durations[i]:.2f} s; expected at most {max_seconds} s" for i in too_long]
    if oov:
        problems.append("out-of-vocabulary characters: " + ", ".join(f"{c!r} x{n}" for c, n in oov.items()))
    return {"count": len(durations), "seconds": round(sum(durations.values()), 3),
            "shortest": round(min(durations.values(), default=0.0), 3),
            "longest": round(max(durations.values(), default=0.0), 3),
            "too_short": too_short, "too_long": too_long, "out_of_vocabulary": oov,
            "skipped": dict(split.meta.get("skipped", {})), "problems": problems}


def check_report(split: DataSplit, *, train: DataSplit | None) -> dict:
    """`tfzoo data check`'s speech report (entry point "tfzoo.data.reports"): `speech_report` with the
    training split's characters as the vocabulary of val and test; clips under 0.1 s (no utterance
    is that short) or over 30 s are listed."""
    vocabulary = train.meta.get("characters") if train is not None else None
    return speech_report(split, vocabulary=vocabulary, min_seconds=0.1, max_seconds=30.0)
