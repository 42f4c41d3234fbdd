"""speech.asr streaming: a forward-only tiny run trained 2 steps; chunked inference over a real clip of the
tiny corpus gives the whole-clip logits and transcript for every chunking; bidirectional runs are refused."""

from dataclasses import replace

import numpy as np
import pytest
import tensorflow as tf

from tfzoo.common.errors import ConfigError
from tfzoo.common.registry import get_task
from tfzoo.common.run import Run
from tfzoo.common.train import Trainer
from tfzoo.speech.asr import data as pipeline
from tfzoo.speech.asr import decode
from tfzoo.speech.asr.streaming import Streamer


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """The tiny preset, forward-only on dataset_cmvn features, trained 2 steps (evaluated once)."""
    root = tmp_path_factory.mktemp("streaming")
    task = get_task("speech.asr")
    base = task.default_config(preset="tiny")
    config = replace(base, bidirectional=False, normalisation="dataset_cmvn",
                     train=replace(base.train, steps=2, eval_every=2, ckpt_every=2))
    Trainer(task=task, config=config, run_dir=root / "run", verbose=False).fit()
    return Run.open(root / "run")


@pytest.fixture(scope="module")
def clip(run):
    """The test clip of the tiny corpus (held-out voices) the 2-step model spells the longest text for,
    so repeats collapse across chunk boundaries; float32 at the run's rate."""
    clips = [e["audio"].numpy().astype(np.float32) for e in run.task.data(run.config, "test").dataset]
    return max(clips, key=lambda audio: len(whole_clip(run, audio)[1]))


def whole_clip(run, audio):
    """The model's logits [T, C] on the whole clip's features, and their greedy transcript."""
    x = pipeline.features_tf(tf.constant(audio), run.config, run.info)
    logits = run.models["model"]({"features": x[None], "lengths": tf.shape(x)[:1]}, training=False)
    text = pipeline.vocabulary(run.info).decode(decode.greedy(logits, tf.shape(x)[:1])[0].numpy())
    return logits[0].numpy(), text


def stream(streamer, audio, sizes):
    """Push `audio` in chunks of `sizes` (cycled), then finish: (logits [T, C], transcript, pushed text)."""
    logits, pushed, start, i = [], [], 0, 0
    while start < len(audio):
        size = sizes[i % len(sizes)]
        pushed.append(streamer.push(audio[start:start + size]))
        logits.append(streamer.logits)
        start, i = start + size, i + 1
    text = streamer.finish()
    logits.append(streamer.logits)
    return np.concatenate(logits), text, "".join(pushed)


def test_chunked_inference_equals_whole_clip_inference(run, clip):
    assert run.config.frame_stride == 2 and run.config.context == 9 and len(clip) > 16000
    want, want_text = whole_clip(run, clip)
    assert len(want_text) >= 3  # the incremental decoder has characters, repeats and blanks to get right
    streamer = Streamer.from_run(run)
    rng = np.random.default_rng(0)
    chunkings = {"10 ms": [160], "1000": [1000], "random": rng.integers(0, 3000, size=64).tolist(),
                 "whole": [len(clip)]}
    for name, sizes in chunkings.items():
        got, text, pushed = stream(streamer, clip, sizes)
        assert got.shape == want.shape, name
        np.testing.assert_allclose(got, want, atol=1e-4, rtol=0, err_msg=name)
        assert text == want_text, name
        # what push returned is final: the transcript begins with it, and finish only added the tail
        assert text.startswith(pushed) and streamer.transcript == "", name
    # one trace per function, whatever the chunk sizes
    assert streamer._frontend.experimental_get_tracing_count() == 1
    assert streamer._network.experimental_get_tracing_count() == 1


@pytest.mark.parametrize("samples", [0, 100, 400 + 160 * 5, 400 + 160 * 5 + 1, 3333])
def test_short_clips_and_the_last_frame(run, clip, samples):
    """Shorter than a frame, empty, ending exactly on a frame (no padded frame) or one sample past it."""
    want, want_text = whole_clip(run, clip[:samples])
    got, text, _ = stream(Streamer.from_run(run), clip[:samples], [37])
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, atol=1e-4, rtol=0)
    assert text == want_text


def test_bidirectional_and_whole_clip_normalisation_are_refused(run):
    model, info = run.models["model"], run.info
    for config, word in ((replace(run.config, bidirectional=True), "bidirectional"),
                         (replace(run.config, normalisation="utterance_cmvn"), "dataset_cmvn")):
        with pytest.raises(ConfigError, match=word) as err:
            Streamer(config=config, model=model, info=info)
        assert len(str(err.value).splitlines()) == 1
    with pytest.raises(ConfigError, match="cmvn"):
        Streamer(config=run.config, model=model, info={k: v for k, v in info.items() if k != "cmvn"})
