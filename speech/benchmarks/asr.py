"""ASR benchmark (spec §7): speech.asr against a DeepSpeech2-style anchor at the same parameter count and budget.

The anchor is the Keras "CTC ASR" example's layout, rebuilt here: log-power spectrogram (STFT 256 / 160,
FFT 384, magnitude^0.5, per-utterance normalised) -> 2 Conv2D (32 filters, [11, 41] stride 2x2, then
[11, 21] stride 1x2, batch norm, ReLU) -> 5 bidirectional GRUs -> Dense(2·units, ReLU) -> Dense(vocab + 1).
Its GRU width is chosen so that its parameter count is the closest to tfzoo's model on the same alphabet.
Both train on `espeak-zh-en` through the common trainer with the same steps, batch, optimiser and seed,
and are scored on val (held-out voices, training sentences) and test (held-out voices and sentences),
greedy and beam 100, CER/WER per language. Gates: tfzoo's CER <= the anchor's (best decoder each, test)
and beam <= greedy (tfzoo, test). Training speed is utterances/s as a ratio to the anchor's.

Optional out-of-domain rows (Debian's pocketsphinx-testdata: five LibriVox clips with their
transcription): the espeak-trained tfzoo model, and pocketsphinx's en-us recogniser when its Python
package is installed; skipped with a notice otherwise.

    python speech/benchmarks/run.py --only asr [--quick]
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

# The budget: on the project's 2-core CPU tfzoo's default model trains about 16 utterances/s (2 s a step
# of 32 four-second clips) and the anchor about a third of that, so 400 steps take about 20 + 60 minutes
# on the shared machine.
FULL = {"data": "espeak-zh-en", "steps": 400, "batch_size": 32, "eval_every": 400, "beam": 100}
QUICK = {"data": "espeak-zh-en?size=tiny", "steps": 3, "batch_size": 4, "eval_every": 3, "beam": 8}
LIBRIVOX = Path("/usr/share/pocketsphinx/test/data/librivox")
SPLITS = ("val", "test")


def _anchor_task(rnn_units: int, rnn_layers: int = 5):
    """speech.asr with the anchor's features and network (same loss, decoders, metrics, batching)."""
    import tensorflow as tf

    from tfzoo.speech.asr import data as pipeline
    from tfzoo.speech.asr.task import ASR

    class Anchor(ASR):
        name = "bench.ds2-anchor"

        def _example(self, config, info, element, *, with_text):
            x = spectrogram(element["audio"])
            # the first convolution halves time: CTC sees ceil(T / 2) frames
            inputs = {"features": x, "lengths": (tf.shape(x)[0] + 1) // 2}
            return inputs, pipeline.targets_tf(info, element["text"], with_text=with_text)

        def train_map(self, config, info, example, seed):
            return self._example(config, info, example, with_text=False)

        def eval_map(self, config, info, example):
            return self._example(config, info, example, with_text=True)

        def batch(self, config, info, dataset, split):
            # spectrogram frames are 10 ms (100/s): twice the buckets of the 50-per-second MFCC steps
            return pipeline.batch(replace(config, buckets=tuple(2 * b for b in config.buckets)), dataset, split)

        def build_models(self, config, info):
            return {"model": anchor_model(len(info["characters"]) + 1, rnn_units=rnn_units, rnn_layers=rnn_layers)}

        def during_training(self, run, step):
            return []

        def _plot_alignment(self, run, split):
            return None  # the figure reads tfzoo's MFCC steps

    return Anchor()


def spectrogram(audio):
    """The Keras example's features: |STFT|^0.5 of 256-sample frames every 160, FFT 384 (193 bins), normalised."""
    import tensorflow as tf

    x = tf.abs(tf.signal.stft(audio, frame_length=256, frame_step=160, fft_length=384)) ** 0.5
    mean = tf.reduce_mean(x, axis=1, keepdims=True)
    std = tf.math.reduce_std(x, axis=1, keepdims=True)
    return (x - mean) / (std + 1e-10)


def anchor_model(num_classes: int, *, rnn_units: int, rnn_layers: int = 5):
    """DeepSpeech2-style network of the Keras CTC example, over [B, T, 193] spectrograms (lengths unused:
    its GRUs are masked by the halved lengths through the CTC loss and decoders only)."""
    import keras

    from tfzoo.speech.asr.model import LengthMask

    features = keras.Input((None, 193), name="features")
    lengths = keras.Input((), dtype="int32", name="lengths")
    x = keras.layers.Reshape((-1, 193, 1))(features)
    x = keras.layers.Conv2D(32, (11, 41), strides=(2, 2), padding="same", use_bias=False, name="conv_1")(x)
    x = keras.layers.ReLU()(keras.layers.BatchNormalization(name="conv_1_bn")(x))
    x = keras.layers.Conv2D(32, (11, 21), strides=(1, 2), padding="same", use_bias=False, name="conv_2")(x)
    x = keras.layers.ReLU()(keras.layers.BatchNormalization(name="conv_2_bn")(x))
    x = keras.layers.Reshape((-1, 49 * 32))(x)
    mask = LengthMask()([x, lengths])
    for i in range(rnn_layers):
        gru = keras.layers.GRU(rnn_units, return_sequences=True, reset_after=True)
        x = keras.layers.Bidirectional(gru, merge_mode="concat", name=f"bigru_{i + 1}")(x, mask=mask)
        if i < rnn_layers - 1:
            x = keras.layers.Dropout(0.5)(x)
    x = keras.layers.Dropout(0.5)(keras.layers.Dense(2 * rnn_units, activation="relu", name="dense_1")(x))
    logits = keras.layers.Dense(num_classes, name="logits")(x)
    return keras.Model({"features": features, "lengths": lengths}, logits, name="ds2_anchor")


def matched_units(target: int, num_classes: int) -> int:
    """The GRU width whose anchor has the parameter count closest to `target`."""
    import keras

    def count(units: int) -> int:
        keras.backend.clear_session()
        return anchor_model(num_classes, rnn_units=units).count_params()

    low, high = 8, 1024
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (middle, high) if count(middle) <= target else (low, middle)
    return min((low, high), key=lambda u: abs(count(u) - target))


DECODERS = {"greedy": "", "beam": "_beam", "beam + LM": "_beam_lm"}  # result key suffix of each decoder


def _train(task, config, run_dir: Path) -> dict[str, Any]:
    """Train, then score val and test as `tfzoo evaluate` does (every decoder); the training speed (first
    window excluded)."""
    from tfzoo.common.logging import read_metrics
    from tfzoo.common.train import Trainer

    trainer = Trainer(task=task, config=config, run_dir=run_dir, verbose=False)
    start = time.perf_counter()
    trainer.fit()
    minutes = (time.perf_counter() - start) / 60
    rates = [r["samples_per_sec"] for r in read_metrics(run_dir / "metrics.jsonl", split="train")]
    run = trainer.run
    scores = {}
    for split in SPLITS:
        values = task.after_evaluate(run, split, dict(trainer.evaluate(task.data(config, split))))
        for decoder, suffix in DECODERS.items():
            scores[(split, decoder)] = {key[:len(key) - len(suffix)] if suffix else key: float(v)
                                        for key, v in values.items()
                                        if np.ndim(v) == 0 and (key.endswith(suffix) if suffix else
                                                                not key.endswith(("_beam", "_beam_lm")))}
    return {"scores": scores, "utt_per_sec": float(np.mean(rates[1:] or rates)), "minutes": minutes,
            "params": int(trainer.models["model"].count_params()), "trainer": trainer}


def _librivox(trainer) -> list[str]:
    """Out-of-domain rows on the five real LibriVox clips, when Debian's pocketsphinx-testdata is installed."""
    if not (LIBRIVOX / "transcription").is_file():
        return [f"_Out-of-domain LibriVox rows skipped: {LIBRIVOX} not found (Debian package pocketsphinx-testdata)._"]
    from tfzoo.speech import text
    from tfzoo.speech.asr import decode

    references: dict[str, str] = {}
    for line in (LIBRIVOX / "transcription").read_text().splitlines():
        if "(" in line:  # "<s> TEXT </s> (file id)"
            words, _, clip = line.rpartition("(")
            words = words.replace("<s>", " ").replace("</s>", " ")
            references[clip.strip(") ").split("/")[-1]] = text.normalise(words, "en")
    wavs = [p for p in sorted(LIBRIVOX.glob("*.wav")) if p.stem in references]
    predicted = [r["text"] for r in trainer.task.predict(trainer.run, [str(p) for p in wavs])]
    refs = [references[p.stem] for p in wavs]
    tfzoo = decode.score(refs, predicted, ["en"] * len(refs))
    rows = [f"| tfzoo speech.asr (espeak-trained) | {len(refs)} | {tfzoo['cer']:.3f} | {tfzoo['wer']:.3f} |"]
    try:
        from pocketsphinx import Decoder

        from tfzoo.speech import audio

        hypotheses = []
        for path in wavs:
            decoder = Decoder()
            samples = (audio.load(path, rate=16000) * 32767).astype(np.int16).tobytes()
            decoder.start_utt()
            decoder.process_raw(samples, full_utt=True)
            decoder.end_utt()
            hypotheses.append(text.normalise(decoder.hyp().hypstr if decoder.hyp() else "", "en"))
        ps = decode.score(refs, hypotheses, ["en"] * len(refs))
        rows.append(f"| pocketsphinx en-us | {len(refs)} | {ps['cer']:.3f} | {ps['wer']:.3f} |")
    except ImportError:
        rows.append("| pocketsphinx en-us | — | skipped: the pocketsphinx Python package is not installed | |")
    return ["Out of domain (real read speech, LibriVox via pocketsphinx-testdata):", "",
            "| model | clips | CER | WER |", "|---|---|---|---|", *rows]


def _cells(scores: dict[str, float]) -> str:
    def get(key):
        return f"{scores[key]:.3f}" if key in scores else "—"

    return " | ".join(get(k) for k in ("cer", "cer_en", "cer_zh", "wer_en", "wer_zh"))


def run(quick: bool = False) -> str:
    """The markdown block."""
    from tfzoo.common.registry import get_task
    from tfzoo.speech.asr.config import ASRConfig

    budget = QUICK if quick else FULL
    base = ASRConfig.tiny() if quick else ASRConfig()
    config = replace(base, data=budget["data"], beam=budget["beam"],
                     train=replace(base.train, steps=budget["steps"], batch_size=budget["batch_size"], seed=0,
                                   eval_every=budget["eval_every"], ckpt_every=budget["steps"], eval_batches=0))
    ours = get_task("speech.asr")
    num_classes = len(ours.data_info(config, ours.data(config, "train"))["characters"]) + 1
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        results["tfzoo speech.asr"] = _train(ours, config, Path(tmp, "tfzoo"))
        units = matched_units(results["tfzoo speech.asr"]["params"], num_classes)
        anchor = _anchor_task(units)
        results[f"DS2-style anchor (5 BiGRU × {units})"] = _train(anchor, config, Path(tmp, "anchor"))
        librivox = _librivox(results["tfzoo speech.asr"]["trainer"])
    anchor_name = next(name for name in results if name != "tfzoo speech.asr")
    anchor_rate = results[anchor_name]["utt_per_sec"]
    rows = ["| model | params | utt/s ÷ anchor | split | decoder | CER | CER en | CER zh | WER en | WER zh |",
            "|---|---|---|---|---|---|---|---|---|---|"]
    for name, result in results.items():
        for (split, decoder), scores in result["scores"].items():
            rows.append(f"| {name} | {result['params']:,} | {result['utt_per_sec'] / anchor_rate:.2f} | {split} | "
                        f"{decoder} | {_cells(scores)} |")

    def best(name):
        return min(results[name]["scores"][("test", d)]["cer"] for d in DECODERS)

    tfzoo_test = results["tfzoo speech.asr"]["scores"]
    gates = [
        f"tfzoo test CER {best('tfzoo speech.asr'):.3f} ≤ anchor {best(anchor_name):.3f}: "
        f"**{'pass' if best('tfzoo speech.asr') <= best(anchor_name) else 'FAIL'}**",
        f"beam + LM ≤ greedy (tfzoo, test CER {tfzoo_test[('test', 'beam + LM')]['cer']:.3f} vs "
        f"{tfzoo_test[('test', 'greedy')]['cer']:.3f}): "
        f"**{'pass' if tfzoo_test[('test', 'beam + LM')]['cer'] <= tfzoo_test[('test', 'greedy')]['cer'] else 'FAIL'}**",
        f"English test CER ≤ 0.10 (best decoder): "
        f"**{'pass' if min(tfzoo_test[('test', d)].get('cer_en', 1) for d in DECODERS) <= 0.10 else 'FAIL'}**",
    ]
    minutes = sum(r["minutes"] for r in results.values())
    return "\n".join([
        "### 实例68: BiRNN-CTC speech recognition (speech.asr)",
        "",
        f"`{config.data}`, both models {budget['steps']} steps of batch {budget['batch_size']}, Adam "
        f"{config.optim.lr:g}, seed 0, final weights; beam width {config.beam}; training took {minutes:.1f} min "
        f"in all. val = held-out voices on training sentences, test = held-out voices and sentences. The anchor "
        f"is the Keras CTC ASR example's layout at tfzoo's parameter count.",
        "",
        *rows,
        "",
        "Gates: " + "; ".join(gates) + ".",
        "",
        *librivox,
        "",
        "Published figures, context only (other corpora): DeepSpeech 0.7.3 5.97% WER on LibriSpeech test-clean; "
        "the Keras CTC example about 16-17% WER on LJSpeech; the book's THCHS-30 training label error rate about 0.02.",
        "",
    ])
