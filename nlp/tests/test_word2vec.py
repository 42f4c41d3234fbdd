"""nlp.word2vec beyond conformance: pairs, samplers, negatives, the float64 tally, neighbours, exports."""

import json
import math
from dataclasses import replace

import numpy as np
import pytest
import tensorflow as tf

from tfzoo.common.run import Run
from tfzoo.common.testing import run_cli
from tfzoo.nlp.word2vec import data as pipeline
from tfzoo.nlp.word2vec.config import Word2VecConfig
from tfzoo.nlp.word2vec.model import candidates, draw_negatives, unigram_table


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("w2v") / "run"
    code, _, err = run_cli("train", "nlp.word2vec", "--tiny", "--run-dir", str(run_dir), "--set", "train.steps=6",
                           "--set", "eval_every=3")
    assert code == 0, err
    return run_dir


def _config(tmp_path, text, **kw):
    path = tmp_path / "corpus.txt"
    path.write_text(text, encoding="utf-8")
    return replace(Word2VecConfig.tiny(), data=f"text:{path}", tokens="whitespace", min_count=1, subsample=0.0,
                   **kw)


def _windows(config, sentences):
    vocab = pipeline.vocabulary(config)
    ids = [np.asarray(vocab.encode(s.split()), np.int32) for s in sentences]
    return vocab, *pipeline.windows(config, ids)


def _pairs(vocab, centre, contexts):
    return {(vocab.tokens[c], vocab.tokens[o]) for c, row in zip(np.asarray(centre), np.asarray(contexts))
            for o in row if o >= 0}


def test_skipgram_pairs_go_from_centre_to_context(tmp_path):
    config = _config(tmp_path, "a b c d e\n", window=1, shrink_window=False)
    vocab, centre, contexts = _windows(config, ["a b c d e"])
    assert [vocab.tokens[c] for c in centre] == list("abcde") and contexts.shape == (5, 2)
    keep = tf.ones([len(vocab)])
    drawn, weight = pipeline.draw(config, keep, tf.constant(centre), tf.constant(contexts), tf.constant([1, 2]))
    assert _pairs(vocab, centre, drawn) == {("a", "b"), ("b", "a"), ("b", "c"), ("c", "b"), ("c", "d"),
                                            ("d", "c"), ("d", "e"), ("e", "d")}
    assert weight.numpy().tolist() == [1.0] * 5
    # num_skips=1 of the 2 slots: one context per centre, inside its window, and the draws change with the step.
    config = replace(config, num_skips=1)
    one, _ = pipeline.draw(config, keep, tf.constant(centre), tf.constant(contexts), tf.constant([1, 2]))
    assert ((one.numpy() >= 0).sum(1) == 1).all() and _pairs(vocab, centre, one) <= _pairs(vocab, centre, drawn)
    config = replace(config, window=3, num_skips=2)
    vocab, centre, contexts = _windows(config, ["a b c d e f g"])
    draws = [pipeline.draw(config, keep, tf.constant(centre), tf.constant(contexts), tf.constant([1, s]))[0].numpy()
             for s in range(4)]
    assert all(((d >= 0).sum(1) == 2).all() for d in draws) and any((draws[0] != d).any() for d in draws[1:])


def test_window_shrinking_and_subsampling_draws(tmp_path):
    config = _config(tmp_path, "a b c d e f g h i\n", window=4, shrink_window=True)
    vocab, centre, contexts = _windows(config, ["a b c d e f g h i"])
    keep = tf.ones([len(vocab)])
    spans = []
    for s in range(30):
        drawn, _ = pipeline.draw(config, keep, tf.constant(centre), tf.constant(contexts), tf.constant([0, s]))
        row = drawn.numpy()[4]  # centre e: every slot of the window is inside the sentence
        present = np.flatnonzero(row >= 0)
        distance = np.r_[np.arange(4, 0, -1), np.arange(1, 5)]
        span = distance[present].max()
        assert set(present) == set(np.flatnonzero(distance <= span))  # a symmetric window of 1..4
        spans.append(span)
    assert set(spans) == {1, 2, 3, 4}
    config = replace(config, shrink_window=False, subsample=1e-3)
    never = tf.zeros([len(vocab)])
    drawn, weight = pipeline.draw(config, never, tf.constant(centre), tf.constant(contexts), tf.constant([0, 0]))
    assert (drawn.numpy() == -1).all() and (weight.numpy() == 0).all()


def test_cbow_contexts_predict_the_centre(tmp_path):
    config = _config(tmp_path, "a b c d e\n", window=2, shrink_window=False, arch="cbow")
    vocab, centre, contexts = _windows(config, ["a b c d e"])
    assert contexts.shape == (5, 4) and [vocab.tokens[i] for i in centre] == list("abcde")
    assert sorted(vocab.tokens[i] for i in contexts[2]) == ["a", "b", "d", "e"]
    assert sorted(vocab.tokens[i] for i in contexts[0] if i >= 0) == ["b", "c"] and (contexts[0] == -1).sum() == 2
    from tfzoo.nlp.word2vec.model import build_model, pair_losses

    model = build_model(config, len(vocab))
    mean = model(tf.constant(contexts[:1]))
    expected = model.embeddings.numpy()[[i for i in contexts[0] if i >= 0]].mean(0)
    np.testing.assert_allclose(mean.numpy()[0], expected, rtol=1e-6)
    losses, mask = pair_losses(config, model, vocab.counts, tf.constant(unigram_table(vocab.counts)),
                               tf.constant(centre), tf.constant(contexts), tf.constant([0, 0]))
    assert losses.shape == (5, 1) and mask.numpy().ravel().tolist() == [1.0] * 5


def test_contexts_stay_inside_sentences(tmp_path):
    config = _config(tmp_path, "a b\nc d\n", window=3, shrink_window=False)
    vocab, centre, contexts = _windows(config, ["a b", "c d"])
    assert _pairs(vocab, centre, contexts) == {("a", "b"), ("b", "a"), ("c", "d"), ("d", "c")}


def test_negatives_never_equal_the_true_context():
    counts = [1, 1000, 1, 1]  # id 1 fills almost the whole table
    table = tf.constant(unigram_table(counts, size=10_000))
    positives = tf.constant([1] * 256 + [2] * 256)
    negatives = draw_negatives(table, positives, 20, tf.constant([3, 4], tf.int64), 4).numpy()
    assert not (negatives == positives.numpy()[:, None]).any()
    assert (negatives[256:] == 1).mean() > 0.9  # where allowed, the frequent word is still drawn


def test_unigram_table_follows_count_power():
    table = unigram_table([0, 100, 400, 900], power=0.5, size=60_000)
    share = np.bincount(table, minlength=4) / len(table)
    np.testing.assert_allclose(share, [0, 10 / 60, 20 / 60, 30 / 60], atol=1e-3)


def test_fixed_unigram_sampler_matches_its_counts():
    from scipy.stats import chisquare

    counts = [90, 10, 50, 200, 150, 500]  # the book's _UNK count of 90 first
    config = replace(Word2VecConfig.tiny(), sampler="fixed_unigram", distortion=1.0, negatives=1)

    @tf.function
    def draw():
        out = tf.TensorArray(tf.int64, size=6000)
        for i in tf.range(6000):
            out = out.write(i, candidates(config, counts, tf.constant([[0]], tf.int64))[0][0])
        return out.stack()

    seen = np.bincount(draw().numpy(), minlength=len(counts))
    expected = np.asarray(counts) / sum(counts) * seen.sum()
    assert chisquare(seen, expected).pvalue > 0.001


def test_book_preset_and_its_unk_count():
    config = Word2VecConfig.book()
    # batch 64 centres x num_skips 2 = the book's 128 pairs
    assert (config.max_vocab, config.train.batch_size, config.dim, config.window, config.num_skips,
            config.negatives, config.optim.optimizer, config.optim.lr, config.train.steps, config.loss) == \
        (350, 64, 128, 1, 2, 64, "sgd", 1.0, 100_001, "nce")
    vocab = pipeline.vocabulary(replace(config, sampler="fixed_unigram"))
    assert len(vocab) == 350 and vocab.tokens[0] == "_UNK" and vocab.counts[0] == 90


def test_subsampling_probability():
    keep = pipeline.keep_probability([1000, 10, 0], 1e-2)
    limit = 1e-2 * 1010
    np.testing.assert_allclose(keep[0], (math.sqrt(1000 / limit) + 1) * limit / 1000)
    assert keep[1] == 1.0 and keep[2] == 1.0


def test_the_epoch_loss_is_a_float64_tally(run_dir):
    records = Run(run_dir).read_metrics(split="train")
    steps_per_epoch = json.loads((run_dir / "info.json").read_text())["steps_per_epoch"]
    assert records[0]["epoch_loss"] == pytest.approx(records[0]["loss"], rel=1e-5)
    assert all(r["pairs"] > 0 and math.isfinite(r["loss"]) for r in records)
    if steps_per_epoch > 2:  # inside the first epoch the tally is the running mean of the step losses
        assert records[1]["epoch_loss"] == pytest.approx((records[0]["loss"] + records[1]["loss"]) / 2, rel=1e-5)
    run = Run.open(run_dir)
    assert run.models["model"].tally.dtype == "float64"
    assert (run_dir / "vocab.txt").is_file() and (run_dir / "neighbours.jsonl").is_file()


def test_predict_neighbours_and_analogies(run_dir):
    code, out, err = run_cli("predict", str(run_dir), "北京", "老师", "老师 - 学校 + 医院", "没有这个词")
    assert code == 0, err
    results = [json.loads(line) for line in out.strip().splitlines()]
    assert [r["input"] for r in results] == ["北京", "老师", "老师 - 学校 + 医院", "没有这个词"]
    assert len(results[0]["neighbours"]) == 8 and all(w != "北京" for w, _ in results[0]["neighbours"])
    sims = [s for _, s in results[1]["neighbours"]]
    assert sims == sorted(sims, reverse=True) and all(-1 <= s <= 1 for s in sims)
    assert not {"老师", "学校", "医院"} & {w for w, _ in results[2]["neighbours"]}
    assert results[3]["unknown"] == ["没有这个词"] and "notice: not in the vocabulary: 没有这个词" in err


def test_exports_word2vec_text_and_projector_files(run_dir):
    code, out, err = run_cli("export", str(run_dir), "--format", "word2vec")
    assert code == 0, err
    assert out.strip().endswith("vectors.txt")
    info = json.loads((run_dir / "info.json").read_text())
    lines = (run_dir / "export/vectors.txt").read_text(encoding="utf-8").splitlines()
    assert lines[0] == f"{len(info['vocabulary'])} 8" and len(lines) == len(info["vocabulary"]) + 1
    word, *values = lines[1].split(" ")
    assert word == info["vocabulary"][0] and len(values) == 8
    assert len((run_dir / "export/vectors.tsv").read_text().splitlines()) == len(info["vocabulary"])
    manifest = json.loads((run_dir / "export/manifest.json").read_text())
    assert manifest["format"] == "word2vec" and manifest["vocabulary_size"] == len(info["vocabulary"])
    gensim = pytest.importorskip("gensim")
    vectors = gensim.models.KeyedVectors.load_word2vec_format(str(run_dir / "export/vectors.txt"))
    assert len(vectors) == len(info["vocabulary"])


def test_savedmodel_serves_vectors_and_tsne_plot(run_dir):
    code, out, err = run_cli("export", str(run_dir))
    assert code == 0, err
    serve = tf.saved_model.load(out.strip()).signatures["serving_default"]
    assert serve(ids=tf.constant([0, 5], tf.int64))["vectors"].shape == (2, 8)
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for _ in range(2):
            code, out, err = run_cli("visualise", str(run_dir))
            assert code == 0, err
    # Without a CJK font installed, one warning says so (at most once per process).
    assert sum("CJK" in str(w.message) for w in caught) <= 1
    assert out.strip().endswith("tsne.png") and (run_dir / "plots/tsne.png").stat().st_size > 1000


@pytest.mark.parametrize("sets", [("arch=cbow", "loss=sgns"), ("loss=sampled_softmax", "sampler=learned_unigram"),
                                  ("loss=nce", "sampler=fixed_unigram", "keep_unk=true")])
def test_other_architectures_losses_and_samplers_train(tmp_path, sets):
    run_dir = tmp_path / "run"
    code, _, err = run_cli("train", "nlp.word2vec", "--tiny", "--run-dir", str(run_dir), "--set", "train.steps=2",
                           *[a for s in sets for a in ("--set", s)])
    assert code == 0, err
    assert all(math.isfinite(r["loss"]) for r in Run(run_dir).read_metrics(split="train"))


@pytest.mark.slow
def test_book_preset_reaches_the_books_loss_scale(tmp_path):
    run_dir = tmp_path / "run"
    code, _, err = run_cli("train", "nlp.word2vec", "--preset", "book", "--run-dir", str(run_dir),
                           "--set", "eval_every=100001", "--set", "ckpt_every=100001")
    assert code == 0, err
    last = Run(run_dir).read_metrics(split="train")[-1]
    # The epoch's float64 mean per pair (the last logged window is the single step 100,001); the book: 2.514.
    assert last["step"] == 100_001 and last["epoch_loss"] <= 3.5, last
