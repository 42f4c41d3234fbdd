"""Transcripts: normalisation for English, Mandarin and numbered pinyin, and the character vocabulary.

    from tfzoo.speech import text
    text.normalise("It's 42°C!", "en")               # "it's forty two c"
    text.normalise("老师，您好！", "zh")                # "老师您好"
    text.normalise("老师，您好！", "zh", zh_word_spaces=True)   # "老师 您好"
    vocab = text.Vocabulary.from_texts(transcripts)  # ids 0..n-1; the CTC blank is n, the last class

Every text is NFC-normalised first. English keeps a-z, space and apostrophe, with numbers spelled
out by a small built-in speller; Mandarin keeps hanzi (with numbers read in Chinese); numbered
pinyin ("ni3 hao3") keeps letters, tone digits and spaces. Whatever else is dropped is counted
in the `dropped` Counter a caller passes, so readers can report it.
"""

from __future__ import annotations

import json
import logging
import re
import unicodedata
import warnings
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from tfzoo.common.errors import DataError

__all__ = [
    "LANGUAGES", "Vocabulary", "detect_language", "is_hanzi", "is_numbered_pinyin", "normalise", "out_of_vocabulary",
    "spell_number", "spell_number_zh", "zh_words",
]

LANGUAGES = ("en", "zh", "pinyin")

_ONES = ("zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
         "seventeen eighteen nineteen").split()
_TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()
_SCALES = ((10 ** 9, "billion"), (10 ** 6, "million"), (1000, "thousand"))
_ORDINAL = {"one": "first", "two": "second", "three": "third", "five": "fifth", "eight": "eighth",
            "nine": "ninth", "twelve": "twelfth"}
_ZH_DIGITS = "零一二三四五六七八九"

_NUMBER = re.compile(r"\d+(?:,\d{3})*(?:\.\d+)?(?:st|nd|rd|th)?")
_PINYIN_TOKEN = re.compile(r"[a-zü:v]+[1-5]")
# Joiners read as a word break ("well-known", "3-1", "and/or"); other punctuation just goes.
_BREAKS = set("-‐‑‒–—―/_~")
_APOSTROPHES = str.maketrans({"’": "'", "‘": "'", "ʼ": "'", "`": "'", "´": "'"})


def is_hanzi(char: str) -> bool:
    """A CJK unified ideograph (basic block, extension A or compatibility ideographs)."""
    code = ord(char)
    return 0x4E00 <= code <= 0x9FFF or 0x3400 <= code <= 0x4DBF or 0xF900 <= code <= 0xFAFF


def detect_language(text: str) -> str:
    """ "zh" when hanzi are at least half of the text's words, else "en".

    A hanzi counts as a word and so does a run of Latin letters: a hanzi is a syllable, about a
    word's worth of speech, so "我喜欢 KTV" is Mandarin although it has more letters than hanzi.
    """
    hanzi = sum(is_hanzi(c) for c in text)
    latin = len(re.findall(r"[A-Za-z]+", text))
    return "zh" if hanzi and hanzi >= latin else "en"


def is_numbered_pinyin(text: str) -> bool:
    """True for text made only of numbered-pinyin syllables ("lv4 shi4 yang2 chun1")."""
    tokens = text.lower().split()
    return bool(tokens) and all(_PINYIN_TOKEN.fullmatch(t) for t in tokens)


def spell_number(n: int) -> str:
    """An integer in English words: 42 -> "forty two", 1001 -> "one thousand one".

    Numbers from a trillion up are read digit by digit.
    """
    n = int(n)
    if n < 0:
        return "minus " + spell_number(-n)
    if n >= 10 ** 12:
        return " ".join(_ONES[int(d)] for d in str(n))
    if n < 20:
        return _ONES[n]
    if n < 100:
        return _TENS[n // 10] + ("" if n % 10 == 0 else " " + _ONES[n % 10])
    if n < 1000:
        return _ONES[n // 100] + " hundred" + ("" if n % 100 == 0 else " " + spell_number(n % 100))
    for scale, word in _SCALES:
        if n >= scale:
            rest = n % scale
            return spell_number(n // scale) + " " + word + ("" if rest == 0 else " " + spell_number(rest))
    raise AssertionError(n)  # unreachable: every n >= 1000 meets a scale


def _ordinal(words: str) -> str:
    head, _, last = words.rpartition(" ")
    if last in _ORDINAL:
        last = _ORDINAL[last]
    elif last.endswith("y"):
        last = last[:-1] + "ieth"
    else:
        last += "th"
    return f"{head} {last}".strip()


def _spell_match(match: re.Match) -> str:
    token = match.group(0).replace(",", "")
    suffix = token[-2:] if token[-2:] in ("st", "nd", "rd", "th") else ""
    token = token[: len(token) - len(suffix)]
    whole, _, fraction = token.partition(".")
    words = spell_number(int(whole))
    if suffix and not fraction:
        words = _ordinal(words)
    if fraction:
        words += " point " + " ".join(_ONES[int(d)] for d in fraction)
    return f" {words} "


def spell_number_zh(n: int) -> str:
    """An integer read in Mandarin: 12 -> 十二, 305 -> 三百零五, 20008 -> 二万零八.

    Numbers from 10^8 up are read digit by digit.
    """
    n = int(n)
    if n >= 10 ** 8:
        return "".join(_ZH_DIGITS[int(d)] for d in str(n))
    if n < 10:
        return _ZH_DIGITS[n]
    if n < 20:
        return "十" + ("" if n == 10 else _ZH_DIGITS[n - 10])
    if n >= 10 ** 4:
        high, low = divmod(n, 10 ** 4)
        return spell_number_zh(high) + "万" + ("" if low == 0 else ("零" if low < 1000 else "") + _below_10k(low))
    return _below_10k(n)


def _below_10k(n: int) -> str:
    out, zero = "", False
    for value, unit in ((1000, "千"), (100, "百"), (10, "十"), (1, "")):
        digit = n // value % 10
        if digit:
            out += ("零" if zero and out else "") + _ZH_DIGITS[digit] + unit
            zero = False
        else:
            zero = True
    return out


def _zh_numbers(text: str) -> str:
    def read(match: re.Match) -> str:
        year = match.group(0).endswith("年")
        whole, _, fraction = match.group(0).removesuffix("年").replace(",", "").partition(".")
        if year or len(whole) > 1 and whole.startswith("0"):  # years, codes: digit by digit
            words = "".join(_ZH_DIGITS[int(d)] for d in whole)
        else:
            words = spell_number_zh(int(whole))
        if fraction:
            words += "点" + "".join(_ZH_DIGITS[int(d)] for d in fraction)
        return words + ("年" if year else "")

    return re.sub(r"\d+(?:,\d{3})*(?:\.\d+)?年?", read, text)


def _jieba():
    """jieba with its dictionary cache in tfzoo's cache folder and its progress logging off."""
    with warnings.catch_warnings():  # jieba 0.42's regexes have invalid escapes: noise for our users
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", SyntaxWarning)
        import jieba

    if not getattr(jieba, "_tfzoo_ready", False):
        from tfzoo.common.cache import cache_dir

        jieba.dt.tmp_dir = str(cache_dir("jieba"))
        jieba.setLogLevel(logging.WARNING)
        jieba._tfzoo_ready = True
    return jieba


def zh_words(text: str) -> list[str]:
    """The words of a Mandarin text: its own spaces kept (THCHS words, pinyin syllables), jieba between them.

    What Chinese word error rates count (speech.asr's WER).
    """
    return [w for chunk in text.split() for w in _jieba().lcut(chunk) if w.strip()]


def _english(text: str, dropped: Counter | None) -> str:
    # Decompose so accented Latin letters keep their base letter (café -> cafe).
    text = unicodedata.normalize("NFKD", text.lower().translate(_APOSTROPHES))
    text = _NUMBER.sub(_spell_match, text.replace("%", " percent ").replace("&", " and "))
    out = []
    for char in text:
        if "a" <= char <= "z" or char == "'":
            out.append(char)
        elif char.isspace() or char in _BREAKS:
            out.append(" ")
        elif unicodedata.combining(char):
            continue
        elif dropped is not None:
            dropped[char] += 1
    words = []
    for word in "".join(out).split():
        # Apostrophes inside words (don't) or after a plural s (students') are speech; quotes are not.
        word = word.strip("'") + ("'" if word.endswith("s'") else "")
        if word.strip("'"):
            words.append(word)
    return " ".join(words)


def _mandarin(text: str, dropped: Counter | None, word_spaces: bool) -> str:
    # Full-width letters and digits (Ａ, ５) to ASCII; full-width punctuation is dropped and reported as written.
    text = "".join(unicodedata.normalize("NFKC", c) if 0xFF10 <= ord(c) <= 0xFF5A and c.isalnum() else c
                   for c in text)
    text = _zh_numbers(text.lower())
    out = []
    for char in text:
        if is_hanzi(char) or "a" <= char <= "z":
            out.append(char)
        elif char.isspace() or char in _BREAKS:
            out.append(" ")
        elif dropped is not None:
            dropped[char] += 1
    words = "".join(out).split()
    if word_spaces:  # the transcript's own spaces (THCHS words) stay; jieba splits what lies between
        return " ".join(w for chunk in words for w in _jieba().lcut(chunk) if w.strip())
    joined = ""
    for word in words:  # without word spaces, a space survives only between two Latin words
        latin_edge = joined and joined[-1].isascii() and word[0].isascii()
        joined += (" " if latin_edge else "") + word
    return joined


def _pinyin(text: str, dropped: Counter | None) -> str:
    text = text.lower().replace("ü", "v").replace("u:", "v")
    out = []
    for char in text:
        if "a" <= char <= "z" or "0" <= char <= "9":
            out.append(char)
        elif char.isspace() or char in _BREAKS:
            out.append(" ")
        elif dropped is not None:
            dropped[char] += 1
    return " ".join("".join(out).split())


def normalise(text: str, language: str | None = None, *, zh_word_spaces: bool = False,
              dropped: Counter | None = None) -> str:
    """A transcript as the recogniser's labels: NFC, then the rules of `language`.

    - "en": lower case; numbers spelled out ("42" -> "forty two", "1.4" -> "one point four",
      "21st" -> "twenty first", "50%" -> "fifty percent"); a-z, space and apostrophe only.
    - "zh": hanzi (plus Latin letters of code-mixed text); numbers read in Chinese; no spaces, or
      with `zh_word_spaces` word boundaries as spaces: the transcript's own spaces (THCHS words,
      the book's labels) are kept and jieba segments the runs between them.
    - "pinyin": numbered pinyin, lower case, letters, tone digits 1-5 and single spaces.
    - None: "zh" or "en" by `detect_language`, and "pinyin" for numbered pinyin.
    Dropped characters are counted into `dropped` when given. A "zh" text that is numbered
    pinyin (the espeak recipe's pinyin labels) is normalised as pinyin.
    """
    text = unicodedata.normalize("NFC", text)
    if language is None or language == "zh":
        if is_numbered_pinyin(text) and not any(map(is_hanzi, text)):
            language = "pinyin"
        elif language is None:
            language = detect_language(text)
    if language == "en":
        result = _english(text, dropped)
    elif language == "zh":
        result = _mandarin(text, dropped, zh_word_spaces)
    elif language == "pinyin":
        result = _pinyin(text, dropped)
    else:
        raise DataError(f"language={language!r}; expected one of {', '.join(LANGUAGES)}")
    return unicodedata.normalize("NFC", result)


@dataclass(frozen=True)
class Vocabulary:
    """The characters of the labels: ids 0..n-1 in `characters` order; the CTC blank is id n (the last class).

    `num_classes` (n + 1) is the width of the recogniser's output, as in the book.
    """

    characters: tuple[str, ...]

    def __post_init__(self) -> None:
        chars = tuple(self.characters)
        if any(len(c) != 1 for c in chars) or len(set(chars)) != len(chars):
            raise DataError(f"vocabulary {chars[:10]!r}...: expected distinct single characters")
        object.__setattr__(self, "characters", chars)
        object.__setattr__(self, "_ids", {c: i for i, c in enumerate(chars)})

    @classmethod
    def from_texts(cls, texts: Iterable[str]) -> Vocabulary:
        """Every character of `texts`, in code-point order (space and apostrophe first, then a-z, then hanzi)."""
        return cls(tuple(sorted(set().union(*map(set, texts)))))

    def __len__(self) -> int:
        return len(self.characters)

    def __contains__(self, char: object) -> bool:
        return char in self._ids

    @property
    def blank(self) -> int:
        """The CTC blank id: n, after every character."""
        return len(self.characters)

    @property
    def num_classes(self) -> int:
        """Characters plus the blank."""
        return len(self.characters) + 1

    def encode(self, text: str, *, unknown: str = "raise") -> list[int]:
        """Ids of `text`'s characters; an unknown one raises a DataError (`unknown="skip"` drops it)."""
        ids = []
        for char in text:
            if char in self._ids:
                ids.append(self._ids[char])
            elif unknown == "raise":
                raise DataError(f"character {char!r} of {text[:40]!r} is not in the vocabulary of {len(self)}; "
                                f"expected one of the training transcripts' characters")
        return ids

    def decode(self, ids: Iterable[int]) -> str:
        """The text of `ids`; the blank and negative ids (padding) are skipped."""
        out = []
        for i in ids:
            i = int(i)
            if 0 <= i < len(self.characters):
                out.append(self.characters[i])
            elif i > self.blank:
                raise DataError(f"id {i} is outside the vocabulary (0..{len(self) - 1}, blank {self.blank})")
        return "".join(out)

    def to_json(self) -> str:
        """`{"characters": [...], "blank": n}` as JSON text."""
        return json.dumps({"characters": list(self.characters), "blank": self.blank}, ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> Vocabulary:
        """The vocabulary `to_json` wrote."""
        data = json.loads(text)
        vocab = cls(tuple(data["characters"]))
        if data.get("blank", vocab.blank) != vocab.blank:
            raise DataError(f"vocabulary JSON says blank {data['blank']}, expected {vocab.blank} (the last class)")
        return vocab


def out_of_vocabulary(texts: Iterable[str], vocabulary: Vocabulary | Iterable[str]) -> dict[str, int]:
    """Characters of `texts` that `vocabulary` lacks, with how often each occurs, most frequent first."""
    known = vocabulary if isinstance(vocabulary, Vocabulary) else set(vocabulary)
    missing = Counter(c for t in texts for c in t if c not in known)
    return dict(missing.most_common())
