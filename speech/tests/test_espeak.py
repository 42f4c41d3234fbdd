"""The espeak-ng engine and the `espeak-zh-en` corpus recipe, on 4 English + 4 Mandarin clips."""

import json

import numpy as np
import pytest
import soundfile as sf

from tfzoo.common.errors import DataError
from tfzoo.speech import corpus
from tfzoo.speech.espeak import Prosody, engine

# 2 train + 1 val + 1 test utterances per language: 4 English and 4 Mandarin clips
SMALL = corpus.Recipe(n_train=2, n_val=1, n_test=1)


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    """The small corpus, generated once on a pool of 2 worker processes."""
    folder = tmp_path_factory.mktemp("espeak") / "a"
    paths = corpus.generate(folder, SMALL, workers=2, progress=False)
    return folder, paths


def _records(folder):
    return [json.loads(line) for line in (folder / "meta.jsonl").read_text(encoding="utf-8").splitlines()]


def test_engine_is_isolated_and_seeded():
    speaker = engine()
    assert speaker.sample_rate == corpus.SAMPLE_RATE
    say = dict(voice="en-us+f3", prosody=Prosody(rate=160, pitch=40, range=60, word_gap_ms=10), seed=5)
    first = speaker.synthesize("Hello, teacher!", **say)
    speaker.synthesize("Something else first.", voice="en-gb-scotland+m2", seed=9)  # would leak state in-process
    assert first.dtype == np.int16 and 0.5 < len(first) / speaker.sample_rate < 3
    np.testing.assert_array_equal(speaker.synthesize("Hello, teacher!", **say), first)


def test_unknown_voices_are_one_line_errors():
    with pytest.raises(DataError, match="no variant 'nope'"):
        engine().synthesize("hi", voice="en-us+nope")
    with pytest.raises(DataError, match="accent 'xx-yy' not found"):
        engine().synthesize("hi", voice="xx-yy")
    with pytest.raises(DataError, match="pitch=101"):
        Prosody(pitch=101)


def test_mandarin_phonemes_do_not_switch_to_english():
    phonemes = engine().phonemes("老师，您好！我们明天见。", voice="cmn-latn-pinyin")
    assert phonemes and "(en)" not in phonemes
    assert "(en)" not in engine().phonemes("lao3 shi1 nin2 hao3", voice="cmn-latn-pinyin")
    # the check can fire: Latin letters, and erhua (玩儿 -> "wan2r5" read as English digits), do switch
    assert "(en)" in engine().phonemes("我喜欢Python。", voice="cmn-latn-pinyin")
    assert corpus.english_switches(["我们出去玩儿吧。", "你好，很高兴认识你。"]) == [True, False]


def test_the_recipe_is_deterministic(small, tmp_path):
    folder, paths = small
    again = tmp_path / "b"
    paths_again = corpus.generate(again, SMALL, workers=1, progress=False)  # other scheduling, same bytes
    assert [p.relative_to(again) for p in paths_again] == [p.relative_to(folder) for p in paths]
    for path in paths:
        assert path.read_bytes() == (again / path.relative_to(folder)).read_bytes(), path.name


def test_clips_are_speech_of_plausible_length(small):
    folder, _ = small
    records = _records(folder)
    assert [r["language"] for r in records] == ["en"] * 4 + ["zh"] * 4
    for record in records:
        samples, rate = sf.read(folder / "wavs" / f"{record['id']}.wav", dtype="int16")
        info = sf.info(folder / "wavs" / f"{record['id']}.wav")
        assert rate == 22050 and info.subtype == "PCM_16" and samples.ndim == 1
        seconds = len(samples) / rate
        assert record["seconds"] == pytest.approx(seconds, abs=1e-3)
        units = len(record["label"]) if record["language"] == "zh" else sum(c.isalpha() for c in record["label"])
        low, high = SMALL.seconds_per_unit[record["language"]]
        assert low <= (seconds - 0.2) / units <= high
        # trimmed to speech, then 100 ms (2,205 samples) of padding each side
        assert not samples[:2205].any() and not samples[-2205:].any()
        assert np.abs(samples[2205:2205 + 2048]).max() > 0.01 * 32768
        assert np.sqrt(np.mean((samples / 32768.0) ** 2)) > 0.01


def test_metadata_is_complete(small):
    folder, paths = small
    records = _records(folder)
    keys = {"id", "split", "language", "sentence_id", "voice", "accent", "variant", "rate", "pitch", "range",
            "word_gap_ms", "seed", "seconds", "text", "label"}
    lines = (folder / "metadata.csv").read_text(encoding="utf-8").splitlines()
    assert len(lines) == len(records) == 8
    for record, line in zip(records, lines, strict=True):
        assert set(record) == keys
        assert line == f"{record['id']}|{record['text']}|{record['label']}"
        assert record["voice"] == f"{record['accent']}+{record['variant']}"
        assert 130 <= record["rate"] <= 210 and 25 <= record["pitch"] <= 75 and 30 <= record["range"] <= 70
        assert record["word_gap_ms"] in (0, 10, 20)
    assert [r["split"] for r in records] == ["train", "train", "val", "test"] * 2
    summary = json.loads((folder / "recipe.json").read_text(encoding="utf-8"))
    assert summary["key"] == SMALL.key() and summary["rejected"] == {}
    assert summary["config"]["versions"]["espeakng-loader"]
    readme = (folder / "README").read_text(encoding="utf-8")
    assert "CC-BY-SA-4.0" in readme and "GPL-3.0-or-later" in readme and "hsk-sentences-audio" in readme
    assert paths[-1].name == "recipe.json" and all(p.is_file() for p in paths)


def test_held_out_voices_and_sentences():
    utterances = corpus.plan(corpus.Recipe())  # the default corpus: 3,000 / 300 / 300 per language
    by_split = {s: [u for u in utterances if u.split == s] for s in corpus.SPLITS}
    assert [len(by_split[s]) for s in corpus.SPLITS] == [6000, 600, 600]
    train_voices = {u.voice for u in by_split["train"]}
    held_out = {u.voice for u in by_split["val"] + by_split["test"]}
    assert not train_voices & held_out
    assert not {u.variant for u in by_split["train"]} & set(corpus.HELD_OUT_VARIANTS)
    assert corpus.HELD_OUT_ACCENT not in {u.accent for u in by_split["train"]}
    assert corpus.HELD_OUT_ACCENT in {u.accent for u in by_split["test"]}
    train_sentences = {u.sentence_id for u in by_split["train"]}
    assert {u.sentence_id for u in by_split["val"]} <= train_sentences  # val: the voice effect alone
    assert not {u.sentence_id for u in by_split["test"]} & train_sentences
    assert len({u.sentence_id for u in by_split["val"] if u.language == "en"}) == 200
    # a utterance depends on its own index only, not on the corpus size
    assert corpus.plan(SMALL)[0] == utterances[0]


def test_cache_key_covers_the_recipe_and_the_loader(monkeypatch):
    key = SMALL.key()
    assert corpus.Recipe(n_train=2, n_val=1, n_test=1).key() == key
    assert corpus.Recipe(n_train=2, n_val=1, n_test=1, seed=1).key() != key
    monkeypatch.setattr(corpus, "loader_version", lambda: "9.9.9")
    assert SMALL.key() != key
    assert corpus.Recipe.named("tiny") == corpus.Recipe(n_train=4, n_val=2, n_test=2)
    assert corpus.Recipe.named("default") == corpus.Recipe()
    with pytest.raises(DataError, match="size=huge"):
        corpus.Recipe.named("huge")


def test_trim_matches_the_audio_module(small):
    from tfzoo.speech.audio import trim

    folder, _ = small
    samples, rate = sf.read(next((folder / "wavs").glob("zh-*.wav")), dtype="float32")
    noisy = np.concatenate([np.zeros(3000, np.float32), samples,
                            np.random.default_rng(0).normal(0, 1e-4, 5000).astype(np.float32)])
    start, end = corpus.trim_span(noisy, top_db=40)
    np.testing.assert_array_equal(np.pad(noisy[start:end], 2205), trim(noisy, rate, top_db=40, pad_ms=100))


def test_the_layout_reads_as_ljspeech(small):
    corpora = pytest.importorskip("tfzoo.speech.corpora")
    folder, _ = small
    records = _records(folder)
    for split, n in (("train", 4), ("val", 2), ("test", 2)):
        data = corpora.read_ljspeech(str(folder), split, rate="16000")
        assert data.size == n and data.meta["sample_rate"] == 16000
        assert data.meta["language"] == ["en", "zh"]
        expected = {r["id"]: r["label"] for r in records if r["split"] == split}
        for clip in data.dataset:
            assert clip["audio"].dtype == "float32" and clip["audio"].shape[0] > 8000
            assert clip["text"].numpy().decode() == expected[clip["id"].numpy().decode()]


def test_the_spec_generates_into_the_cache_once(monkeypatch, tmp_path):
    pytest.importorskip("tfzoo.speech.corpora")
    from tfzoo.common.data import resolve

    monkeypatch.setenv("TFZOO_CACHE", str(tmp_path))
    test = resolve("espeak-zh-en?size=tiny", "test")
    folder = tmp_path / "speech" / f"espeak-{corpus.Recipe.named('tiny').key()}"
    assert test.size == 4 and test.meta["recipe"] == folder.name.removeprefix("espeak-")
    assert (folder / "recipe.json").is_file() and not list(tmp_path.glob("speech/*.partial-*"))
    monkeypatch.setattr(corpus, "generate", lambda *a, **k: pytest.fail("regenerated a cached corpus"))
    assert resolve("espeak-zh-en?size=tiny", "train", seed=7).size == 8


def test_cli_make(tmp_path):
    from tfzoo.common.testing import run_cli

    code, out, err = run_cli("data", "make", "espeak-zh-en", "--out", str(tmp_path / "c"), "--n", "4")
    assert code == 0, err
    assert len(list((tmp_path / "c" / "wavs").glob("*.wav"))) == 16  # 4 + 2 + 2 per language
    assert "wrote 20 files" in out and "espeak-zh-en: 16 clips" in err
