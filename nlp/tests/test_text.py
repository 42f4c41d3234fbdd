"""tfzoo.nlp.text and the text readers: encodings, jieba, English tokens, the vocabulary, buckets, data check."""

import numpy as np
import pytest
import tensorflow as tf

from tfzoo.common.data import check, resolve
from tfzoo.common.errors import DataError, DataNotFound
from tfzoo.common.testing import run_cli
from tfzoo.nlp import text
from tfzoo.nlp.readers import records

POEM = "床前明月光，\n疑是地上霜。\n举头望明月，\n低头思故乡。\n"


def test_gbk_and_utf8_files_read_alike(tmp_path):
    (tmp_path / "u.txt").write_text(POEM, encoding="utf-8")
    (tmp_path / "g.txt").write_bytes(POEM.encode("gbk"))
    assert text.read_text(tmp_path / "u.txt") == POEM
    assert text.read_text(tmp_path / "g.txt", encoding="gbk") == POEM
    assert text.read_text(tmp_path / "g.txt", encoding="gb18030") == POEM
    a = records(resolve(f"text:{tmp_path / 'u.txt'}", "train"))
    b = records(resolve(f"text:{tmp_path / 'g.txt'}?encoding=gb18030", "train"))
    assert a == b and a and set(a) <= set(POEM.splitlines())


def test_a_bad_byte_names_file_and_line(tmp_path):
    path = tmp_path / "g.txt"
    path.write_bytes(POEM.encode("gbk"))  # GBK read as UTF-8: the first line already fails
    with pytest.raises(DataError, match=r"g\.txt:1: found byte 0x[0-9a-f]{2}, expected utf-8 text"):
        text.read_text(path)
    path.write_bytes(b"ok\nfine\n\xff\xfe bad\n")
    with pytest.raises(DataError) as err:
        text.read_text(path)
    assert str(err.value).startswith(f"{path}:3: found byte 0xff") and "\n" not in str(err.value)
    code, out, _ = run_cli("data", "check", f"text:{path}")
    assert code == 3 and f"corrupt: {path}:3: found byte 0xff" in out


def test_missing_file_is_data_not_found(tmp_path):
    with pytest.raises(DataNotFound, match="no such file"):
        resolve(f"text:{tmp_path / 'none.txt'}", "train")


def test_jieba_keeps_special_tokens_whole_and_uses_user_dict(tmp_path):
    words = text.segment("老师好_EOS我爱北京_UNK_NUM天安门_SEP")
    for token in ("_EOS", "_UNK", "_NUM", "_SEP"):
        assert token in words
    assert "".join(words) == "老师好_EOS我爱北京_UNK_NUM天安门_SEP"
    assert text.segment("电话是12345", digits=True)[-1] == "_NUM"
    assert "深度学习框架" not in text.segment("深度学习框架很好")
    user = tmp_path / "dict.txt"
    user.write_text("深度学习框架 100 n\n", encoding="utf-8")
    assert "深度学习框架" in text.segment("深度学习框架很好", user_dict=[str(user)])


def test_jieba_cache_lives_in_the_tfzoo_cache():
    from tfzoo.common.cache import cache_dir

    text.segment("你好")
    assert text.tokenizer(()).tmp_dir == str(cache_dir("jieba"))


def test_english_tokens():
    assert text.english_tokens("Hello, world! It's _EOS") == ["Hello", ",", "world", "!", "It's", "_EOS"]
    assert text.english_tokens("Two 22 cats", lower=True, digits=True) == ["two", "_NUM", "cats"]


def test_vocabulary_order_limits_oov_and_round_trip(tmp_path):
    seqs = [list("aaaabbbccd"), list("aab")]
    vocab = text.Vocabulary.build(seqs, min_count=2)
    assert vocab.tokens[:4] == ["_PAD", "_GO", "_EOS", "_UNK"] and vocab.tokens[4:] == ["a", "b", "c"]
    assert vocab.encode("adz") == [4, 3, 3]  # d (once) and z (never) map to _UNK
    assert text.Vocabulary.build(seqs, max_size=5).tokens == ["_PAD", "_GO", "_EOS", "_UNK", "a"]
    assert vocab.decode([4, 5, 2, 6]) == ["a", "b"]
    path = vocab.save(tmp_path / "vocab.txt")
    assert path.read_text(encoding="utf-8").splitlines() == vocab.tokens
    assert text.Vocabulary.load(path).tokens == vocab.tokens
    nl = text.Vocabulary.build([["\n", "x"]])
    assert text.Vocabulary.load(nl.save(tmp_path / "nl.txt")).tokens == nl.tokens


def test_bucketing_covers_every_example_once():
    rng = np.random.default_rng(0)
    lengths = rng.integers(1, 40, size=101)
    ds = tf.data.Dataset.from_generator(
        lambda: ((np.full(n, i + 1, np.int32), np.int32(i)) for i, n in enumerate(lengths)),
        output_signature=(tf.TensorSpec([None], tf.int32), tf.TensorSpec([], tf.int32)))
    bounds = text.auto_boundaries(lengths, buckets=4)
    assert list(bounds) == sorted(set(bounds)) and len(bounds) >= 2
    seen = []
    for x, ids in text.bucketed(ds, batch_size=8, split="eval", length=lambda x, i: tf.shape(x)[0],
                                boundaries=bounds):
        for row, i in zip(x.numpy(), ids.numpy()):
            assert (row[: lengths[i]] == i + 1).all() and (row[lengths[i]:] == 0).all()
        seen.extend(ids.numpy().tolist())
    assert sorted(seen) == list(range(101))


def test_lines_regex_and_its_error(tmp_path):
    path = tmp_path / "girls.txt"
    path.write_text("Anna：优雅\nBella：美丽\n\nClara：明亮\n", encoding="utf-8")
    spec = f"lines:{path}?regex=^[A-Za-z]+"
    items = sorted(r for s in ("train", "val", "test") for r in records(resolve(spec, s)))
    assert items == ["Anna", "Bella", "Clara"]
    path.write_text("Anna：优雅\n：无名\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"girls\.txt:2: found '：无名', expected a line matching"):
        resolve(spec, "train")
    assert records(resolve(spec + "&on_error=skip", "train")) == ["Anna"]
    with pytest.raises(DataError, match="unknown option"):
        resolve(f"lines:{path}?regexp=x", "train")


def test_embedded_readers_and_the_data_check_report():
    sizes = {s: resolve("hsk-zh", s).size for s in ("train", "val", "test")}
    assert sum(sizes.values()) == 4354 and sizes["val"] == sizes["test"] == 218
    female = records(resolve("names:female", "train")) + records(resolve("names:female", "val")) + \
        records(resolve("names:female", "test"))
    assert len(female) == 4275 and "Mary" in female and all(n.istitle() for n in female)
    assert resolve("names:male", "train").size + resolve("names:male", "val").size + \
        resolve("names:male", "test").size == 1219
    with pytest.raises(DataError, match="names:female or names:male"):
        resolve("names:other", "train")
    report = check("names:male")
    assert not report["errors"]
    val = report["splits"]["val"]["report"]
    assert val["records"] == 61 and 0 <= val["oov_share"] < 0.2 and sum(val["length_histogram"].values()) == 61


def test_a_bad_interactive_command_leaves_the_session_as_it_was():
    import io

    from tfzoo.nlp.interactive import _command

    class Session:
        temperature, beam, method = 0.8, 1, "sample"

        def reset(self):
            pass

    session, err = Session(), io.StringIO()
    assert _command(session, ":temp -1", err) and _command(session, ":beam 0", err)
    assert (session.temperature, session.beam, session.method) == (0.8, 1, "sample")
    assert err.getvalue().count("expected :temp T") == 2
    _command(session, ":beam 3", err)
    assert (session.beam, session.method) == (3, "beam")
