"""speech.asr: CTC decoding on constructed logits, the book's parameter count, the in-graph pipeline,
a few training steps on the tiny espeak corpus, save/load, the SavedModel against predict, CLI predict.

common's conformance check (tests/test_conformance.py) covers train/evaluate/predict/export/resume/clip.
"""

import json
import math
from dataclasses import replace

import numpy as np
import pytest
import soundfile as sf
import tensorflow as tf

from tfzoo.common.registry import get_task
from tfzoo.common.run import Run
from tfzoo.common.testing import run_cli
from tfzoo.common.train import Trainer
from tfzoo.speech import audio, features
from tfzoo.speech.asr import data as pipeline
from tfzoo.speech.asr import decode
from tfzoo.speech.asr.config import ASRConfig
from tfzoo.speech.asr.lm import EOS, CharNgram, prefix_beam_search
from tfzoo.speech.asr.model import build_model, ctc_loss
from tfzoo.speech.text import Vocabulary, detect_language

HELLO = Vocabulary.from_texts(["helo"])  # e h l o, blank 4


def logits_of(frames: str, vocabulary=HELLO, peak=10.0) -> np.ndarray:
    """[1, T, C] logits whose best class per frame spells `frames` ("_" is the blank)."""
    ids = [vocabulary.blank if c == "_" else vocabulary.encode(c)[0] for c in frames]
    out = np.zeros((1, len(ids), vocabulary.num_classes), np.float32)
    out[0, np.arange(len(ids)), ids] = peak
    return out


def texts(ids, vocabulary=HELLO):
    return [vocabulary.decode(row) for row in np.asarray(ids)]


# ----- decoding -----------------------------------------------------------------------------------------
def test_greedy_collapses_repeats_then_drops_blanks():
    logits = logits_of("hhe_ll_lloo")
    assert texts(decode.greedy(logits, [11])) == ["hello"]
    # without the blank between them the two l's are one, as CTC defines
    assert texts(decode.greedy(logits_of("hhelllo"), [7])) == ["helo"]
    # frames past the length do not count; the batch is -1 padded
    batch = np.concatenate([logits_of("hel_lo__"), logits_of("ooooo___")])
    ids = decode.greedy(batch, [5, 8]).numpy()
    assert texts(ids) == ["hell", "o"] and ids[1, 1] == -1


def test_beam_keeps_double_letters_and_finds_the_best_path():
    # TF 2's beam search never merges repeated labels of its output (the book's merge_repeated=False)
    paths, scores = decode.beam(logits_of("he_l_lo"), [7], width=100)
    assert paths.shape[0] == 1 and texts(paths[0]) == ["hello"]
    assert scores.shape == (1, 1) and np.isfinite(scores.numpy()).all()
    # and inside tf.function, several paths, best first
    beam = tf.function(lambda x, n: decode.beam(x, n, width=10, top_paths=3))
    paths, scores = beam(tf.constant(logits_of("he_l_lo", peak=2.0)), tf.constant([7]))
    assert texts(paths[0]) == ["hello"] and paths.shape[:2] == (3, 1)
    assert np.all(np.diff(scores.numpy()[0]) <= 0)


def test_label_error_rate_is_the_normalised_edit_distance():
    decoded = tf.constant([[1, 2, 3], [0, -1, -1], [5, -1, -1]])
    labels = tf.constant([[1, 2, 4, -1], [0, 1, 2, 3], [-1, -1, -1, -1]])
    np.testing.assert_allclose(decode.label_error_rate(decoded, labels), [1 / 3, 3 / 4, 1.0])


def test_scores_per_language_with_jieba_words():
    refs, hyps = ["the cat sat", "我们去学校", "ni3 hao3"], ["the cat sit", "我们去学校", "ni3 hao"]
    values = decode.score(refs, hyps, ["en", "zh", "zh"])
    assert values["cer_en"] == pytest.approx(1 / 11) and values["wer_en"] == pytest.approx(1 / 3)
    assert decode.words("我们去学校", "zh") == ["我们", "去", "学校"]  # jieba words
    assert decode.words("ni3 hao3", "zh") == ["ni3", "hao3"]  # own spaces: pinyin syllables, THCHS words
    assert values["wer_zh"] == pytest.approx(1 / 5) and values["cer_zh"] == pytest.approx(1 / 13)
    assert values["cer"] == pytest.approx(2 / 24)


# ----- model and loss -------------------------------------------------------------------------------------
def test_book_preset_has_the_books_parameter_count():
    model = build_model(ASRConfig.book(), num_classes=2666 + 1)
    assert model.count_params() == 33_661_547
    assert model.get_layer("fc3").kernel.shape == (1024, 2048)  # the code's 2048, not the prose's 1024


def test_ctc_loss_matches_tensorflow_and_survives_impossible_labels():
    rng = np.random.default_rng(0)
    logits = tf.constant(rng.normal(size=(3, 12, 6)), tf.float32)
    labels = tf.constant([[1, 2, 2, -1], [0, 4, -1, -1], [3, -1, -1, -1]])
    lengths, label_lengths = tf.constant([12, 9, 5]), tf.constant([3, 2, 1])
    want = tf.nn.ctc_loss(tf.maximum(labels, 0), logits, label_lengths, lengths, logits_time_major=False,
                          blank_index=-1)
    np.testing.assert_allclose(ctc_loss(logits, lengths, labels, label_lengths), want, rtol=1e-4)
    # labels longer than the frames, and an empty transcript: 0, not an error or inf
    got = ctc_loss(logits, tf.constant([2, 12, 5]), tf.constant([[1, 2, 3, 4], [-1] * 4, [3, -1, -1, -1]]),
                   tf.constant([4, 0, 1]))
    assert got.numpy()[0] == 0 and got.numpy()[1] == 0 and got.numpy()[2] > 0


# ----- the in-graph pipeline ----------------------------------------------------------------------------
def test_language_ids_in_the_graph_follow_detect_language():
    samples = ["hello world", "我喜欢 KTV", "我们去学校", "ktv is fun 好", "ni3 hao3", "a"]
    got = [pipeline.LANGUAGES[int(pipeline.language_id_tf(tf.constant(t)))] for t in samples]
    assert got == [detect_language(t) if t != "ni3 hao3" else "zh" for t in samples]


def test_examples_are_494_wide_features_and_character_ids():
    config, rate = ASRConfig(), 16000
    info = {"characters": list(" 'adehw我们"), "sample_rate": rate}
    x = (0.3 * np.sin(2 * np.pi * 440 * np.arange(rate) / rate)).astype(np.float32)
    inputs, targets = pipeline.example(config, info, {"audio": x, "text": tf.constant("we had 我们x")}, with_text=True)
    assert inputs["features"].shape == (50, 494) and int(inputs["lengths"]) == 50  # 1 s -> 99 -> 50 -> 494
    np.testing.assert_allclose(inputs["features"], features.asr_features(x, rate), atol=2e-3)
    # x is outside the alphabet: dropped from the labels (the text keeps it for CER)
    assert Vocabulary(tuple(info["characters"])).decode(targets["labels"].numpy()) == "we had 我们"
    assert int(targets["language"]) == pipeline.EN and targets["text"].numpy().decode() == "we had 我们x"


@pytest.mark.parametrize("rate", [8000, 22050, 44100])
def test_in_graph_resampling_follows_soxr(rate):
    t = np.arange(int(0.5 * rate)) / rate
    x = (0.5 * np.sin(2 * np.pi * 440 * t) + 0.2 * np.sin(2 * np.pi * 1000 * t)).astype(np.float32)
    got = pipeline.resample_tf(x, tf.constant(rate), 16000).numpy()
    want = audio.resample(x, rate, 16000)
    assert len(got) == len(want) == 8000
    middle = slice(400, -400)  # the whole-clip FFT method and soxr differ only at the edges
    assert np.max(np.abs(got[middle] - want[middle])) < 2e-3
    assert pipeline.resample_tf(want, tf.constant(16000), 16000).numpy() is not None


def test_bucketed_batches_pad_labels_with_minus_one():
    config = replace(ASRConfig.tiny(), buckets=(60, 120))
    info = {"characters": list("abc"), "sample_rate": 16000}
    clips = [(np.zeros(16000 * s // 4, np.float32) + 0.01, t) for s, t in ((2, "ab"), (3, "abcab"), (2, "c"))]
    ds = tf.data.Dataset.from_generator(lambda: ({"audio": a, "text": t, "id": "x"} for a, t in clips),
                                        output_signature={"audio": tf.TensorSpec([None], tf.float32),
                                                          "text": tf.TensorSpec([], tf.string),
                                                          "id": tf.TensorSpec([], tf.string)})
    ds = ds.map(lambda e: pipeline.example(config, info, e, with_text=True))
    inputs, targets = next(iter(pipeline.batch(config, ds, "eval")))
    assert inputs["features"].shape == (3, 60, 494) and inputs["lengths"].numpy().tolist() == [25, 37, 25]
    assert targets["labels"].shape == (3, 16)  # rounded up: few shapes, few traces
    assert targets["labels"].numpy()[:, :6].tolist() == [[0, 1, -1, -1, -1, -1], [0, 1, 2, 0, 1, -1], [2, -1, -1, -1, -1, -1]]
    assert targets["label_lengths"].numpy().tolist() == [2, 5, 1]


def test_languages_restrict_the_clips_and_the_alphabet():
    config = replace(ASRConfig.tiny(), languages=("en",))
    train = pipeline.load_split(config, "train")
    texts_ = [e["text"].decode() for e in train.dataset.as_numpy_iterator()]
    assert train.size == len(texts_) == 4 and all(detect_language(t) == "en" for t in texts_)
    assert set(pipeline.data_info(config, train)["characters"]) <= set(" 'abcdefghijklmnopqrstuvwxyz")
    with pytest.raises(Exception, match="languages"):
        pipeline.load_split(replace(config, languages=("fr",)), "train")


def test_presets_validate():
    task = get_task("speech.asr")
    for preset in ("tiny", "augmented", "streaming", "book"):
        task.default_config(preset=preset)
    assert task.default_config().feature_dim == 494 and task.monitor == "cer"
    from typing import get_args

    from tfzoo.speech.asr import config as asr_config  # its own copy: a config module imports no TensorFlow
    assert get_args(asr_config.Normalisation) == features.NORMALISATIONS
    code, _, err = run_cli("train", "speech.asr", "--tiny", "--set", "beam=0", "--run-dir", "/nonexistent/x")
    assert code == 2 and "beam" in err and len(err.strip().splitlines()) == 1


# ----- the character language model and prefix beam search ------------------------------------------------
def test_char_ngram_is_a_distribution_and_prefers_its_text():
    model = CharNgram(texts=["hello world", "hello there", "help"], order=4)
    for context in ("", "hel", "xyz"):
        total = sum(math.exp(model.log_prob(context, c)) for c in sorted(model.alphabet) + [EOS])
        assert total == pytest.approx(1.0, abs=1e-9)
    assert model.bits_per_character(["hello"]) < model.bits_per_character(["olleh"])
    assert math.isfinite(model.log_prob("hel", "z"))  # unseen characters keep some probability


def test_prefix_search_without_lm_matches_tensorflows_beam():
    rng = np.random.default_rng(3)
    logits = rng.normal(size=(1, 30, HELLO.num_classes)).astype(np.float32) * 3
    log_probs = tf.nn.log_softmax(logits[0]).numpy()
    ours = prefix_beam_search(log_probs, characters=list(HELLO.characters), lm=None, weight=0, bonus=0, beam=16,
                              top_paths=3)
    ids, scores = decode.beam(logits, [30], width=16, top_paths=3)
    theirs = [HELLO.decode(ids[k, 0].numpy()) for k in range(3)]
    assert ours[0][0] == theirs[0]
    assert ours[0][1] == pytest.approx(float(scores[0, 0]), abs=1e-3)
    # double letters need a blank between them, as in CTC
    hello = tf.nn.log_softmax(logits_of("hhe_ll_llo")[0]).numpy()
    assert prefix_beam_search(hello, characters=list(HELLO.characters), lm=None, weight=0, bonus=0)[0][0] == "hello"


def test_the_language_model_settles_an_ambiguous_frame():
    vocabulary = Vocabulary.from_texts(["help me hello"])
    frames = logits_of("he_l_l_", vocabulary)[0]
    ambiguous = np.full(vocabulary.num_classes, -5.0, np.float32)
    ambiguous[vocabulary.encode("o")[0]], ambiguous[vocabulary.encode("p")[0]] = 2.0, 2.2  # "p" slightly ahead
    log_probs = tf.nn.log_softmax(np.vstack([frames, ambiguous, frames[-1:]])).numpy()
    chars = list(vocabulary.characters)
    assert prefix_beam_search(log_probs, characters=chars, lm=None, weight=0, bonus=0)[0][0] == "hellp"
    model = CharNgram(texts=["hello", "hello there", "help me"], order=5)
    assert prefix_beam_search(log_probs, characters=chars, lm=model, weight=1.0, bonus=0.5)[0][0] == "hello"


# ----- training-time augmentation ------------------------------------------------------------------------
def test_augmentation_is_seeded_and_changes_only_training_features():
    config = replace(ASRConfig.augmented(), data="espeak-zh-en?size=tiny")
    info = {"sample_rate": 16000, "characters": list("abc ")}
    waveform = tf.constant(np.sin(np.arange(16000) * 0.05).astype(np.float32) * 0.3)
    plain = pipeline.features_tf(waveform, config, info)
    one = pipeline.features_tf(waveform, config, info, seed=tf.constant([1, 2]))
    again = pipeline.features_tf(waveform, config, info, seed=tf.constant([1, 2]))
    other = pipeline.features_tf(waveform, config, info, seed=tf.constant([3, 4]))
    np.testing.assert_array_equal(one, again)
    assert one.shape[1] == plain.shape[1] == 494
    assert abs(one.shape[0] - plain.shape[0]) <= plain.shape[0] * 0.11 + 1  # speed 0.9-1.1
    assert not np.array_equal(one.numpy(), other.numpy())
    mfcc = tf.random.stateless_normal([200, 26], [0, 1])
    masked = pipeline.mask(mfcc, replace(config, time_masks=1, cepstral_masks=0, time_mask_frames=10), tf.constant([5, 6]))
    changed = np.flatnonzero(np.any(masked.numpy() != mfcc.numpy(), axis=1))
    assert len(changed) <= 10 and (len(changed) == 0 or changed[-1] - changed[0] == len(changed) - 1)


# ----- a trained tiny run ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """The tiny preset trained 3 steps, evaluated at steps 2 and 3 (one run for the tests below)."""
    root = tmp_path_factory.mktemp("asr")
    task = get_task("speech.asr")
    config = replace(task.default_config(preset="tiny"), train=replace(ASRConfig.tiny().train, steps=3))
    Trainer(task=task, config=config, run_dir=root / "run", verbose=False).fit()
    inputs = task.example_inputs(root / "inputs")
    return root / "run", inputs


def test_training_steps_have_finite_ctc_losses_and_corpus_metrics(trained):
    run_dir, _ = trained
    records = Run(run_dir).read_metrics()
    train = [r for r in records if r["split"] == "train"]
    assert [r["step"] for r in train] == [1, 2, 3] and all(math.isfinite(r["loss"]) and r["loss"] > 0 for r in train)
    val = [r for r in records if r["split"] == "val"][-1]
    for key in ("loss", "cer", "wer", "cer_en", "cer_zh", "wer_en", "wer_zh", "label_error_rate", "empty_outputs"):
        assert math.isfinite(val[key]), key
    assert val["utterances"] == 4
    info = json.loads((run_dir / "info.json").read_text())
    assert info["sample_rate"] == 16000 and info["feature_dim"] == 494 and set(info["languages"]) == {"en", "zh"}
    assert " " in info["characters"] and "时" in info["characters"]
    assert list((run_dir / "tensorboard").glob("events.*"))


def test_save_and_load_give_the_same_outputs(trained):
    run_dir, _ = trained
    first, second = Run.open(run_dir), Run.open(run_dir)
    inputs, _ = next(iter(first.eval_batches(first.task.data(first.config, "val"), limit=1)))
    np.testing.assert_array_equal(first.models["model"](inputs), second.models["model"](inputs))
    assert first.step == 3


def test_saved_model_transcribes_like_predict(trained):
    run_dir, inputs = trained
    code, out, err = run_cli("predict", str(run_dir), *inputs, "--set", "beam=16")
    assert code == 0, err
    predicted = [json.loads(line) for line in out.strip().splitlines()]
    assert [p["input"] for p in predicted] == inputs
    assert all(isinstance(p["text"], str) and "language" in p for p in predicted)
    code, out, err = run_cli("export", str(run_dir))
    assert code == 0, err
    # plain TensorFlow, no tfzoo: a 16 kHz waveform and its rate in, text out
    serve = tf.saved_model.load(out.strip()).signatures["serving_default"]
    waveform, rate = sf.read(inputs[0], dtype="float32")
    beam8 = serve(waveform=tf.constant(waveform), sample_rate=tf.constant(rate, tf.int32))["text"].numpy().decode()
    code, out, err = run_cli("predict", str(run_dir), inputs[0])
    assert code == 0, err
    assert json.loads(out)["text"] == beam8
    # another rate and a stereo file's mix-down: resampled in the graph
    stereo, rate = sf.read(inputs[1], dtype="float32")
    assert rate == 22050 and stereo.ndim == 2
    served = serve(waveform=tf.constant(stereo.mean(1)), sample_rate=tf.constant(rate, tf.int32))
    assert served["text"].dtype == tf.string and served["alternatives"].shape == (1,)


def test_cli_predict_options_and_bad_input(trained, tmp_path):
    run_dir, inputs = trained
    code, out, err = run_cli("predict", str(run_dir), inputs[0], "--set", "decoder=greedy")
    assert code == 0, err
    code, out, err = run_cli("predict", str(run_dir), inputs[0], "--set", "top_paths=3", "--set", "beam=8")
    assert code == 0, err
    assert len(json.loads(out)["alternatives"]) == 3
    fake = tmp_path / "notes.wav"
    fake.write_text("not audio")
    code, _, err = run_cli("predict", str(run_dir), str(fake))
    assert code == 3 and "notes.wav" in err and len(err.strip().splitlines()) == 1


def test_evaluate_reports_greedy_and_beam(trained):
    run_dir, _ = trained
    code, out, err = run_cli("evaluate", str(run_dir), "--split", "test")
    assert code == 0, err
    values = json.loads(out.strip().splitlines()[-1])
    assert {"cer", "wer", "label_error_rate", "cer_beam", "wer_beam", "cer_en_beam", "cer_zh_beam",
            "cer_beam_lm", "wer_beam_lm", "cer_zh_beam_lm"} <= set(values)
    figure = run_dir / "plots" / "alignment_test.png"
    assert figure.is_file() and "alignment figure" in err
    height, width = plt_image_size(figure)
    assert (width, height) == (800, 600)


def plt_image_size(path):
    import matplotlib.image

    return matplotlib.image.imread(path).shape[:2]


def test_beam_lm_predicts_from_the_runs_transcripts(trained):
    run_dir, inputs = trained
    info = json.loads((run_dir / "info.json").read_text())
    assert info["lm_text"] and all(set(t) <= set(info["characters"]) for t in info["lm_text"])
    code, out, err = run_cli("predict", str(run_dir), *inputs, "--set", "decoder=beam_lm", "--set", "top_paths=2")
    assert code == 0, err
    results = [json.loads(line) for line in out.strip().splitlines()]
    assert len(results) == 2 and all(len(r["alternatives"]) <= 2 and r["text"] == r["alternatives"][0]
                                     for r in results)


def test_original_and_decoded_pairs_are_shown_after_evaluation(trained, capsys):
    run_dir, _ = trained
    run = Run.open(run_dir)
    run.evaluate(run.task.data(run.config, "val"))
    run.task.during_training(run, 3)
    err = capsys.readouterr().err
    assert "step 3 original: " in err and "step 3 decoded: " in err and "(CER " in err


# ----- learning quality ------------------------------------------------------------------------------------
MEMORISE_CLIPS = 200
# Measured: after 250 steps of batch 16 (about 22 epochs of the 180 training clips) the training CER was
# 1.1% (9.5 minutes on the project's loaded 2-core CPU); 300 steps leave a margin.
MEMORISE_STEPS = 300


# Written by a separate Python: espeak synthesises in forks, and a process running TensorFlow must not fork.
ONE_VOICE = """
import sys
from pathlib import Path
import numpy as np
from tfzoo.speech import audio
from tfzoo.speech.corpus import Recipe, sentences
from tfzoo.speech.espeak import engine

root, count = Path(sys.argv[1]), int(sys.argv[2])
speaker, lines = engine(), []
english = [s for s in sentences(Recipe(languages=("en",)))[0]["en"] if len(s[3]) <= 40][:count]
for i, (_, _, spoken, label) in enumerate(english):
    x = speaker.synthesize(spoken, voice="en-us").astype(np.float32) / 32768.0
    audio.save(root / "wavs" / f"one-{i:04d}.wav", audio.trim(x, speaker.sample_rate), speaker.sample_rate)
    lines.append(f"one-{i:04d}|{spoken}|{label}")
(root / "metadata.csv").write_text("\\n".join(lines) + "\\n", encoding="utf-8")
"""


@pytest.mark.slow
def test_memorises_200_single_voice_utterances(tmp_path):
    """200 short English sentences in one voice (en-us, default prosody), as an LJSpeech folder: CER on the
    training clips < 5% after the step budget."""
    import subprocess
    import sys

    root = tmp_path / "one-voice"
    subprocess.run([sys.executable, "-c", ONE_VOICE, str(root), str(MEMORISE_CLIPS)], check=True)
    task = get_task("speech.asr")
    base = ASRConfig()
    config = replace(base, data=f"ljspeech:{root}", dropout=0.0, decoder="greedy",
                     train=replace(base.train, steps=MEMORISE_STEPS, batch_size=16, eval_every=MEMORISE_STEPS,
                                   ckpt_every=MEMORISE_STEPS, log_every=100))
    trainer = Trainer(task=task, config=config, run_dir=tmp_path / "run", verbose=False)
    trainer.fit()
    values = trainer.evaluate(task.data(config, "train"))
    assert values["cer"] < 0.05, values
