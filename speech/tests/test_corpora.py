"""The real-corpus readers on tiny corpora the tests write: thchs30 (both layouts), ljspeech, asr-csv."""

import json
import warnings

import numpy as np
import pytest
import soundfile as sf

from tfzoo.common.data import resolve
from tfzoo.common.errors import DataError, DataNotFound
from tfzoo.common.testing import run_cli
from tfzoo.speech import corpora
from tfzoo.speech.text import Vocabulary

EN = ["Hello, teacher!", "It's 42 degrees.", "The meeting is in Room 3.", "We beat them 3-1.", "Good morning.",
      "See you tomorrow.", "Thank you very much.", "How are you?", "I am fine.", "Where is the station?",
      "Nice to meet you.", "What time is it?", "It is raining.", "I like tea.", "Open the door.",
      "Close the window.", "Turn left here.", "This is my friend.", "Let's go home.", "The end."]


def tone(seconds=0.3, rate=22050, freq=440.0):
    t = np.arange(int(seconds * rate)) / rate
    return (0.3 * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def write_wav(path, seconds=0.3, rate=22050, channels=1, freq=440.0):
    path.parent.mkdir(parents=True, exist_ok=True)
    x = tone(seconds, rate, freq)
    sf.write(str(path), np.stack([x] * channels, axis=1) if channels > 1 else x, rate, subtype="PCM_16")
    return path


def ljspeech(root, texts=EN, meta=None):
    lines = []
    for i, words in enumerate(texts):
        clip = f"LJ001-{i:04d}"
        write_wav(root / "wavs" / f"{clip}.wav", seconds=0.2 + 0.01 * i, freq=300 + 20 * i)
        lines.append(f"{clip}|{words}|{words}")
    (root / "metadata.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    if meta is not None:
        (root / "meta.jsonl").write_text("".join(json.dumps(r) + "\n" for r in meta), encoding="utf-8")
    return root


def records(data):
    return [{k: (v.decode() if isinstance(v, bytes) else v) for k, v in clip.items()}
            for clip in data.dataset.as_numpy_iterator()]


# ---------------------------------------------------------------- ljspeech


def test_ljspeech_carves_fixed_disjoint_splits(tmp_path):
    root = ljspeech(tmp_path / "lj")
    splits = {s: resolve(f"ljspeech:{root}", s) for s in ("train", "val", "test")}
    assert {s: d.size for s, d in splits.items()} == {"train": 18, "val": 1, "test": 1}
    ids = {s: [r["id"] for r in records(d)] for s, d in splits.items()}
    assert sorted(sum(ids.values(), [])) == [f"LJ001-{i:04d}" for i in range(20)]
    assert ids["test"] == [r["id"] for r in records(resolve(f"ljspeech:{root}", "test", seed=7))]  # not the seed
    clips = {r["id"]: r for s in ("train", "val", "test") for r in records(splits[s])}
    clip = clips["LJ001-0001"]
    assert clip["audio"].dtype == np.float32 and clip["audio"].ndim == 1 and np.abs(clip["audio"]).max() <= 1
    assert len(clip["audio"]) == round(0.21 * 16000)  # 22,050 Hz resampled to 16 kHz
    assert clip["text"] == "it's forty two degrees"
    meta = splits["train"].meta
    assert meta["sample_rate"] == 16000 and meta["language"] == "en" and meta["count"] == 18
    assert meta["skipped"] == {} and meta["speakers"] == 1 and set(meta["characters"]) <= set(" 'abcdefghijklmnopqrstuvwxyz")
    assert meta["dropped_characters"]["."] > 0
    assert len(records(resolve(f"ljspeech:{root}?rate=8000", "val"))[0]["audio"]) < 0.5 * 8000


def test_ljspeech_uses_meta_jsonl_splits_languages_and_voices(tmp_path):
    texts = EN[:4] + ["老师，您好！", "我喜欢喝茶。"]
    meta = [{"id": f"LJ001-{i:04d}", "split": split, "language": "zh" if i >= 4 else "en", "voice": voice}
            for i, (split, voice) in enumerate([("train", "en-us+f3"), ("train", "en-gb+m1"), ("dev", "en-029+f1"),
                                                ("test", "en-029+f1"), ("train", "cmn-latn-pinyin+m2"),
                                                ("test", "cmn-latn-pinyin+f5")])]
    root = ljspeech(tmp_path / "espeak", texts, meta)
    train, val, test = (resolve(f"ljspeech:{root}", s) for s in ("train", "val", "test"))
    assert (train.size, val.size, test.size) == (3, 1, 2)
    assert train.meta["language"] == ["en", "zh"] and train.meta["languages"] == {"en": 2, "zh": 1}
    assert train.meta["voices"] == ["cmn-latn-pinyin+m2", "en-gb+m1", "en-us+f3"] and train.meta["speakers"] == 3
    assert val.meta["language"] == "en"
    assert [r["text"] for r in records(test)] == ["we beat them three one", "我喜欢喝茶"]
    spaced = resolve(f"ljspeech:{root}?zh_word_spaces=1", "test")
    assert records(spaced)[1]["text"] == "我 喜欢 喝茶"


def test_ljspeech_clip_without_a_meta_record_is_reported_by_train(tmp_path):
    meta = [{"id": "LJ001-0000", "split": "train"}, {"id": "LJ001-0001", "split": "test"}]
    root = ljspeech(tmp_path / "lj", EN[:3], meta)
    with pytest.raises(DataError, match="LJ001-0002' has no record in .*meta.jsonl"):
        resolve(f"ljspeech:{root}", "train")
    assert resolve(f"ljspeech:{root}", "test").size == 1
    assert resolve(f"ljspeech:{root}?on_error=skip", "train").meta["skipped"] == {"missing_meta": 1}


def _broken_corpus(root):
    """Nine clips (too few to carve: all train): 0, 1 good; 2-6 one problem each; 7 stereo; 8 silent."""
    ljspeech(root, EN[:9])
    wavs = root / "wavs"
    lines = (root / "metadata.csv").read_bytes().split(b"\n")
    lines[2] = b"LJ001-0002|caf\xe9 au lait|caf\xe9 au lait"  # Latin-1, not UTF-8
    (root / "metadata.csv").write_bytes(b"\n".join(lines))
    (wavs / "LJ001-0003.wav").write_bytes(b"")
    (wavs / "LJ001-0004.wav").write_bytes(b"this is a text file named .wav\n" * 10)
    (wavs / "LJ001-0005.wav").write_bytes((wavs / "LJ001-0005.wav").read_bytes()[:3000])
    (wavs / "LJ001-0006.wav").unlink()
    write_wav(wavs / "LJ001-0007.wav", channels=2)
    sf.write(str(wavs / "LJ001-0008.wav"), np.zeros(4000, np.float32), 16000, subtype="PCM_16")
    return root


def _defect(root, kind):
    """Clip 1 of a two-clip corpus made bad in one way."""
    wav = root / "wavs" / "LJ001-0001.wav"
    if kind == "bad utf-8":
        lines = (root / "metadata.csv").read_bytes().split(b"\n")
        lines[1] = b"LJ001-0001|caf\xe9 au lait|caf\xe9 au lait"  # Latin-1, not UTF-8
        (root / "metadata.csv").write_bytes(b"\n".join(lines))
    elif kind == "empty":
        wav.write_bytes(b"")
    elif kind == "not audio":
        wav.write_bytes(b"this is a text file named .wav\n" * 10)
    elif kind == "truncated":
        wav.write_bytes(wav.read_bytes()[:3000])
    elif kind == "missing":
        wav.unlink()


BAD_ITEMS = {
    "bad utf-8": r"metadata.csv: line 2: found bytes that are not UTF-8 \(byte 14: b'\\xe9 '\); expected UTF-8 text$",
    "empty": r"LJ001-0001.wav: empty file \(0 bytes\); expected a WAV, FLAC or OGG audio file$",
    "not audio": r"LJ001-0001.wav: not decodable audio \(Format not recognised\); expected",
    "truncated": r"LJ001-0001.wav: truncated WAV: its header declares \d+ data bytes, the file holds 2956; expected",
    "missing": r"metadata.csv: line 2: audio .*LJ001-0001.wav not found; expected",
}


def test_each_bad_item_is_a_one_line_error_naming_the_file(tmp_path):
    for kind, words in BAD_ITEMS.items():
        root = ljspeech(tmp_path / kind.replace(" ", "_"), EN[:2])
        _defect(root, kind)
        with pytest.raises(DataError, match=words) as info:
            resolve(f"ljspeech:{root}", "train")
        assert "\n" not in str(info.value)
        assert resolve(f"ljspeech:{root}?on_error=skip", "train").size == 1, kind


def test_skip_counts_every_reason_and_warns_once_for_stereo(tmp_path):
    root = _broken_corpus(tmp_path / "broken")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        data = resolve(f"ljspeech:{root}?on_error=skip", "train")
        clips = records(data)
    stereo = [w for w in caught if "mixed down" in str(w.message)]
    assert len(stereo) == 1 and "1 clip(s)" in str(stereo[0].message)
    assert sorted(c["id"] for c in clips) == ["LJ001-0000", "LJ001-0001", "LJ001-0007"]
    assert data.meta["skipped"] == {"bad_text": 1, "empty": 1, "unreadable": 2, "missing_audio": 1, "silent": 1}
    assert any("LJ001-0008.wav: silent clip" in m for m in data.meta["problems"]["silent"])
    records(data)  # a second epoch counts nothing twice
    assert data.meta["skipped"]["silent"] == 1


def test_a_silent_clip_met_while_reading_raises(tmp_path):
    root = ljspeech(tmp_path / "lj", EN[:2])
    sf.write(str(root / "wavs" / "LJ001-0001.wav"), np.zeros(4000, np.float32), 16000, subtype="PCM_16")
    data = resolve(f"ljspeech:{root}", "train")
    with pytest.raises(Exception, match=r"DataError: .*LJ001-0001.wav: silent clip"):
        records(data)


def test_missing_corpus_and_bad_options(tmp_path):
    with pytest.raises(DataNotFound, match="metadata.csv: no such file; ljspeech:DIR expects"):
        resolve(f"ljspeech:{tmp_path}", "train")
    root = ljspeech(tmp_path / "lj", EN[:2])
    with pytest.raises(DataError, match="rate='fast'"):
        resolve(f"ljspeech:{root}?rate=fast", "train")
    with pytest.raises(DataError, match="unknown option unit for ljspeech"):
        resolve(f"ljspeech:{root}?unit=chars", "train")
    (tmp_path / "metadata.csv").write_text("\n", encoding="utf-8")
    with pytest.raises(DataError, match="metadata.csv: found no transcript lines"):
        resolve(f"ljspeech:{tmp_path}", "train")
    (root / "meta.jsonl").write_text('{"id": "LJ001-0000", "split": "train"}\nnot json\n', encoding="utf-8")
    with pytest.raises(DataError, match=r"meta.jsonl: line 2: found invalid JSON"):
        resolve(f"ljspeech:{root}", "train")


# ---------------------------------------------------------------- thchs30

THCHS = [("A11_0", "绿 是 阳春 烟 景", "lv4 shi4 yang2 chun1 yan1 jing3", "l v4 sh ix4 ii iang2 ch un1 ii ian1 j ing3"),
         ("A11_1", "他 仅 凭 腰部 的 力量", "ta1 jin3 ping2 yao1 bu4 de5 li4 liang4", "t a1 j in3 p ing2 ii iao1 b u4"),
         ("B12_0", "企业 依靠 技术", "qi3 ye4 yi1 kao4 ji4 shu4", "q i3 ii ie4 ii i1 k ao4 j i4 sh u4"),
         ("C13_0", "国家 发展", "guo2 jia1 fa1 zhan3", "g uo2 j ia1 f a1 zh an3")]


def thchs_standard(root):
    """train/ points at data/*.wav.trn, dev/ and test/ hold their transcripts: both .trn styles."""
    corpus = root / "data_thchs30"
    for (utt, words, pinyin, phones), split in zip(THCHS, ["train", "train", "dev", "test"]):
        write_wav(corpus / split / f"{utt}.wav", seconds=0.5 if utt != "A11_1" else 0.2, rate=16000)
        transcript = f"{words}\n{pinyin}\n{phones}\n"
        if split == "train":
            (corpus / "data").mkdir(parents=True, exist_ok=True)
            (corpus / "data" / f"{utt}.wav.trn").write_text(transcript, encoding="utf-8")
            (corpus / split / f"{utt}.wav.trn").write_text(f"../data/{utt}.wav.trn\n", encoding="utf-8")
        else:
            (corpus / split / f"{utt}.wav.trn").write_text(transcript, encoding="utf-8")
    return root


def test_thchs30_standard_layout_and_units(tmp_path):
    root = thchs_standard(tmp_path / "thchs")
    train = resolve(f"thchs30:{root}", "train")
    assert train.size == 2 and train.meta["layout"] == "standard" and train.meta["speakers"] == 1
    assert [r["text"] for r in records(train)] == ["绿是阳春烟景", "他仅凭腰部的力量"]
    assert [r["id"] for r in records(train)] == ["A11_0", "A11_1"]
    assert train.meta["language"] == "zh" and train.meta["unit"] == "chars"
    spaced = resolve(f"thchs30:{root}?zh_word_spaces=1", "val")
    assert records(spaced)[0]["text"] == "企业 依靠 技术"
    pinyin = resolve(f"thchs30:{root}?unit=pinyin", "test")
    assert records(pinyin)[0]["text"] == "guo2 jia1 fa1 zhan3"
    phones = resolve(f"thchs30:{root}?unit=phones", "train")
    assert records(phones)[0]["text"] == "l v4 sh ix4 ii iang2 ch un1 ii ian1 j ing3"
    short = resolve(f"thchs30:{root}?min_seconds=0.3", "train")
    assert short.size == 1 and short.meta["skipped"] == {"too_short": 1}


def test_thchs30_bad_pointer_and_bad_utf8(tmp_path):
    root = thchs_standard(tmp_path / "thchs")
    (root / "data_thchs30" / "data" / "A11_1.wav.trn").unlink()
    (root / "data_thchs30" / "test" / "C13_0.wav.trn").write_bytes("国家".encode("gbk"))
    with pytest.raises(DataError, match=r"A11_1.wav.trn: points to ../data/A11_1.wav.trn, which is not there"):
        resolve(f"thchs30:{root}", "train")
    with pytest.raises(DataError, match=r"C13_0.wav.trn: line 1: found bytes that are not UTF-8"):
        resolve(f"thchs30:{root}", "test")
    assert resolve(f"thchs30:{root}?on_error=skip", "train").meta["skipped"] == {"missing_text": 1}


def test_thchs30_book_layout_at_8_khz(tmp_path):
    root = tmp_path / "book"
    lines = []
    for i in range(20):
        utt = f"D{i // 5}_{i}"
        write_wav(root / "data_thchs30_wavs" / f"{utt}.WAV", seconds=0.25, rate=8000, freq=200 + 30 * i)
        lines.append(f"{utt} 绿 是 阳春 {i}")
    (root / "doc" / "trans").mkdir(parents=True)
    (root / "doc" / "trans" / "train.word.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    splits = {s: resolve(f"thchs30:{root}", s) for s in ("train", "val", "test")}
    assert {s: d.size for s, d in splits.items()} == {"train": 18, "val": 1, "test": 1}
    assert splits["train"].meta["layout"] == "book" and splits["train"].meta["speakers"] == 4
    ids = [r["id"] for s in splits.values() for r in records(s)]
    assert sorted(ids) == sorted(f"D{i // 5}_{i}" for i in range(20))  # disjoint, nothing lost
    clip = records(splits["train"])[0]
    assert clip["id"] == "D0_0" and clip["text"] == "绿是阳春零" and len(clip["audio"]) == 4000  # 8 kHz -> 16 kHz
    with pytest.raises(DataNotFound, match="neither train/ dev/ test/ folders nor doc/trans/"):
        resolve(f"thchs30:{tmp_path}", "train")
    with pytest.raises(DataError, match="unit='words'; expected chars, pinyin or phones"):
        resolve(f"thchs30:{root}?unit=words", "train")


# ---------------------------------------------------------------- asr-csv


def test_asr_csv_deepspeech_header_relative_paths_and_formats(tmp_path):
    root = tmp_path / "cv"
    write_wav(root / "clips" / "a.wav", rate=16000)
    stereo = tone(rate=44100)
    sf.write(str(root / "clips" / "b.flac"), np.stack([stereo, stereo], 1), 44100)
    write_wav(root / "clips" / "c.wav", rate=8000)
    rows = ["wav_filename,wav_filesize,transcript", "clips/a.wav,9644,hello world",
            '"clips/b.flac",1,"forty two, he said"', f"{root / 'clips' / 'c.wav'},1,你好"]
    (root / "train.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    (root / "dev.csv").write_text("wav_filename,transcript\nclips/a.wav,hi\n", encoding="utf-8")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        train = resolve(f"asr-csv:{root / 'train.csv'}", "train")
    assert len([w for w in caught if "mixed down" in str(w.message)]) == 1
    clips = records(train)
    assert [c["id"] for c in clips] == ["clips/a", "clips/b", "clips/c"]
    assert [c["text"] for c in clips] == ["hello world", "forty two he said", "你好"]
    assert all(len(c["audio"]) == 4800 for c in clips)
    assert train.meta["languages"] == {"en": 2, "zh": 1}
    assert records(resolve(f"asr-csv:{root / 'train.csv'}", "val"))[0]["text"] == "hi"  # the dev.csv sibling
    assert resolve(f"asr-csv:{root / 'dev.csv'}", "test").size == 0  # carved from train.csv: 5% of 3 clips


def test_asr_csv_without_split_in_its_name_is_carved(tmp_path):
    root = tmp_path / "mine"
    rows = ["wav_filename,transcript"]
    for i in range(20):
        write_wav(root / f"{i}.wav", seconds=0.1, rate=16000)
        rows.append(f"{i}.wav,\"{EN[i]}\"")
    (root / "all.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    sizes = [resolve(f"asr-csv:{root / 'all.csv'}", s).size for s in ("train", "val", "test")]
    assert sizes == [18, 1, 1]


def test_asr_csv_bad_header_and_missing_siblings(tmp_path):
    (tmp_path / "x.csv").write_text("path,text\na.wav,hi\n", encoding="utf-8")
    with pytest.raises(DataError, match="x.csv: line 1: found header 'path,text'; asr-csv:FILE expects"):
        resolve(f"asr-csv:{tmp_path / 'x.csv'}", "train")
    (tmp_path / "test.csv").write_text("wav_filename,transcript\na.wav,hi\n", encoding="utf-8")
    with pytest.raises(DataNotFound, match="names the test split, and there is no dev or train file"):
        resolve(f"asr-csv:{tmp_path / 'test.csv'}", "val")
    with pytest.raises(DataError, match="line 2: audio .*a.wav not found"):
        resolve(f"asr-csv:{tmp_path / 'test.csv'}", "test")


# ---------------------------------------------------------------- data check


def test_tfzoo_data_check_on_a_tiny_corpus(tmp_path):
    root = ljspeech(tmp_path / "lj")
    code, out, err = run_cli("data", "check", f"ljspeech:{root}")
    assert "train: 18 examples" in out and "val: 1 examples" in out and "sample_rate 16000" in out
    assert "seconds 5.43, shortest 0.2, longest 0.39" in out  # the speech report (tfzoo.data.reports)
    assert json.loads(out.strip().splitlines()[-1])["counts"] == {"train": 18, "val": 1, "test": 1}
    # The one problem of this corpus: a validation character no training transcript has.
    problems = [line for line in out.splitlines() if line.startswith("corrupt:")]
    assert code == 3 and len(problems) == 1 and "out-of-vocabulary characters: 'v' x1" in problems[0], out + err


def test_tfzoo_data_check_lists_bad_clips(tmp_path):
    root = _broken_corpus(tmp_path / "broken")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        code, out, err = run_cli("data", "check", f"ljspeech:{root}")
    assert code == 3
    corrupt = [line for line in out.splitlines() if line.startswith("corrupt:")]
    for name in ("line 3: found bytes that are not UTF-8", "LJ001-0003.wav: empty file", "LJ001-0004.wav: not",
                 "LJ001-0005.wav: truncated", "LJ001-0006.wav not found", "LJ001-0008.wav: silent clip"):
        assert any(name in line for line in corrupt), (name, corrupt)


def test_speech_report(tmp_path):
    root = ljspeech(tmp_path / "lj", EN[:8] + ["Zebra quiz!"])
    train = resolve(f"ljspeech:{root}", "train")
    vocab = Vocabulary.from_texts(["hello teacher it's forty two degrees"])
    report = corpora.speech_report(train, vocabulary=vocab, min_seconds=0.22, max_seconds=0.27)
    assert report["count"] == 9 and report["too_short"] == ["LJ001-0000", "LJ001-0001"]
    assert report["too_long"] == ["LJ001-0008"] and report["out_of_vocabulary"]["z"] == 2
    assert any("LJ001-0000: 0.20 s; expected at least 0.22 s" in p for p in report["problems"])
    assert any(p.startswith("out-of-vocabulary characters: 'z' x2") or "'z' x2" in p for p in report["problems"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        broken = resolve(f"ljspeech:{_broken_corpus(tmp_path / 'b')}?on_error=skip", "train")
        report = corpora.speech_report(broken)
    assert report["skipped"]["silent"] == 1 and any("LJ001-0004.wav" in p for p in report["problems"])
