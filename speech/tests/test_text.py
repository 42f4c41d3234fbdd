"""tfzoo.speech.text: transcript normalisation, the number speller, language detection, the vocabulary."""

import unicodedata
from collections import Counter

import pytest

from tfzoo.common.cache import cache_dir
from tfzoo.common.errors import DataError
from tfzoo.speech import text
from tfzoo.speech.text import Vocabulary, normalise

SPELLED = [
    (0, "zero"), (7, "seven"), (13, "thirteen"), (42, "forty two"), (90, "ninety"), (100, "one hundred"),
    (101, "one hundred one"), (1001, "one thousand one"), (20000, "twenty thousand"),
    (999999, "nine hundred ninety nine thousand nine hundred ninety nine"),
    (1000000, "one million"), (2000000005, "two billion five"), (10 ** 12, "one" + " zero" * 12),
]
ENGLISH = [
    ("Hello, teacher!", "hello teacher"),
    ("It's 42 degrees.", "it's forty two degrees"),
    ("China has 1.4 billion people.", "china has one point four billion people"),
    ("The 21st century, our 20th anniversary; 2nd and 3rd",
     "the twenty first century our twentieth anniversary second and third"),
    ("We beat them 3-1: 1,000 fans, 50% wet & happy",
     "we beat them three one one thousand fans fifty percent wet and happy"),
    ("'Quoted,' said the students' teacher — don’t", "quoted said the students' teacher don't"),
    ("Café NAÏVE", "cafe naive"),
    ("   ", ""),
]


def test_spell_number():
    assert [text.spell_number(n) for n, _ in SPELLED] == [words for _, words in SPELLED]


def test_english():
    assert [normalise(raw, "en") for raw, _ in ENGLISH] == [label for _, label in ENGLISH]


def test_dropped_characters_are_counted():
    dropped = Counter()
    normalise("Hi, there! (3°)", "en", dropped=dropped)
    assert dropped == Counter({",": 1, "!": 1, "(": 1, ")": 1, "°": 1})


def test_output_is_nfc():
    decomposed = "e\u0301"  # e + combining acute
    assert normalise(decomposed, "en") == "e"
    hanzi = unicodedata.normalize("NFD", "老师好")
    assert unicodedata.is_normalized("NFC", normalise(hanzi, "zh"))


def test_mandarin_keeps_hanzi_and_reads_numbers():
    dropped = Counter()
    assert normalise("老师，您好！", "zh", dropped=dropped) == "老师您好"
    assert dropped == Counter({"，": 1, "！": 1})
    assert normalise("我买了3个，一共12.5元", "zh") == "我买了三个一共十二点五元"
    assert normalise("2008年", "zh") == "二零零八年"
    assert normalise("ＫＴＶ５号", "zh") == "ktv五号"
    assert normalise("我喜欢 KTV 和 Hello Kitty") == "我喜欢ktv和hello kitty"  # detected as Mandarin


def test_spell_number_zh():
    cases = [(10, "十"), (15, "十五"), (20, "二十"), (101, "一百零一"), (1010, "一千零一十"), (10001, "一万零一"),
             (123456, "十二万三千四百五十六")]
    assert [text.spell_number_zh(n) for n, _ in cases] == [words for _, words in cases]


def test_word_spaces_keep_thchs_words_and_use_jieba_otherwise():
    thchs = "绿 是 阳春 烟 景 大块 文章 的 底色"
    assert normalise(thchs, "zh") == "绿是阳春烟景大块文章的底色"
    assert normalise(thchs, "zh", zh_word_spaces=True) == thchs
    assert normalise("老师，您好！", "zh", zh_word_spaces=True) == "老师 您好"
    import jieba

    assert jieba.dt.tmp_dir == str(cache_dir("jieba"))


def test_numbered_pinyin():
    assert normalise("Lv4 shi4  yang2, chun1.", "pinyin") == "lv4 shi4 yang2 chun1"
    assert normalise("nü3 hai2", "pinyin") == "nv3 hai2"
    assert normalise("ni3 hao3", "zh") == "ni3 hao3"  # a "zh" label that is pinyin keeps its tone digits
    assert normalise("ni3 hao3") == "ni3 hao3"
    assert text.is_numbered_pinyin("lv4 shi4") and not text.is_numbered_pinyin("hello 4")


def test_detect_language():
    assert text.detect_language("老师您好") == "zh"
    assert text.detect_language("Hello teacher") == "en"
    assert text.detect_language("T恤") == "zh"
    assert text.detect_language("") == "en"
    with pytest.raises(DataError, match="language='fr'"):
        normalise("bonjour", "fr")


def test_vocabulary_blank_is_last_and_json_round_trips():
    vocab = Vocabulary.from_texts(["hello world", "don't"])
    assert vocab.characters == (" ", "'", "d", "e", "h", "l", "n", "o", "r", "t", "w")
    assert len(vocab) == 11 and vocab.blank == 11 and vocab.num_classes == 12
    ids = vocab.encode("hello")
    assert ids == [4, 3, 5, 5, 7] and vocab.decode(ids) == "hello"
    assert vocab.decode([*ids, vocab.blank, -1]) == "hello"  # blank and padding are skipped
    assert Vocabulary.from_json(vocab.to_json()) == vocab
    hanzi = Vocabulary.from_texts(["老师 您好"])
    assert Vocabulary.from_json(hanzi.to_json()).characters == hanzi.characters and "老" in hanzi.to_json()


def test_vocabulary_errors():
    vocab = Vocabulary.from_texts(["abc"])
    with pytest.raises(DataError, match="'z' of 'az' is not in the vocabulary"):
        vocab.encode("az")
    assert vocab.encode("az", unknown="skip") == [0]
    with pytest.raises(DataError, match="outside the vocabulary"):
        vocab.decode([9])
    with pytest.raises(DataError, match="distinct single characters"):
        Vocabulary(("a", "a"))
    with pytest.raises(DataError, match="blank 0"):
        Vocabulary.from_json('{"characters": ["a"], "blank": 0}')


def test_out_of_vocabulary():
    vocab = Vocabulary.from_texts(["hello"])
    assert text.out_of_vocabulary(["hallo", "hey!", "ya"], vocab) == {"a": 2, "y": 2, "!": 1}
    assert text.out_of_vocabulary(["ab"], "a") == {"b": 1}
