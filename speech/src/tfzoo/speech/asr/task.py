"""speech.asr: the book's BiRNN-CTC speech recogniser (实例68) on the espeak corpus or real corpora."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from tfzoo.common.task import Task, TrainState
from tfzoo.speech.asr import data as pipeline
from tfzoo.speech.asr import decode, lm
from tfzoo.speech.asr.config import ASRConfig
from tfzoo.speech.asr.model import build_model, ctc_loss

# "Original / Decoded" pairs shown after each periodic evaluation (one per language at most).
SHOWN_PAIRS = 2
# After this many steps an all-blank validation decoding earns a notice with what to check.
BLANK_PHASE_STEPS = 1000


class ASR(Task):
    name = "speech.asr"
    config_class = ASRConfig
    monitor = "cer"
    monitor_mode = "min"
    multi_replica = True

    def __init__(self) -> None:
        self._pairs: list[dict[str, Any]] = []  # the last evaluation's shown pairs, for during_training
        self._empty = 0.0  # the last evaluation's share of empty transcripts
        self._writers: dict[str, Any] = {}

    # ----- data ---------------------------------------------------------------------------------
    def data(self, config: ASRConfig, split: str):
        return pipeline.load_split(config, split)

    def data_info(self, config: ASRConfig, train) -> dict[str, Any]:
        return pipeline.data_info(config, train)

    def train_map(self, config: ASRConfig, info: dict[str, Any], example, seed):
        return pipeline.example(config, info, example, with_text=False, seed=seed)

    def eval_map(self, config: ASRConfig, info: dict[str, Any], example):
        return pipeline.example(config, info, example, with_text=True)

    def batch(self, config: ASRConfig, info: dict[str, Any], dataset: tf.data.Dataset, split: str):
        return pipeline.batch(config, dataset, split)

    # ----- model and steps -----------------------------------------------------------------------
    def build_models(self, config: ASRConfig, info: dict[str, Any]) -> dict[str, keras.Model]:
        return {"model": build_model(config, num_classes=len(info["characters"]) + 1)}

    def compute_loss(self, state: TrainState, batch) -> tuple[tf.Tensor, dict[str, tf.Tensor]]:
        inputs, targets = batch
        logits = state.models["model"](inputs, training=True)
        per_utterance = ctc_loss(logits, inputs["lengths"], targets["labels"], targets["label_lengths"])
        return state.average(per_utterance), {}

    def metrics(self, config: ASRConfig, info: dict[str, Any]) -> dict[str, keras.metrics.Metric]:
        return {"loss": keras.metrics.Mean(name="loss")}

    def eval_step(self, state: TrainState, batch, metrics: dict[str, keras.metrics.Metric]) -> dict[str, tf.Tensor]:
        inputs, targets = batch
        logits = state.models["model"](_any_batch_size(inputs), training=False)
        metrics["loss"].update_state(ctc_loss(logits, inputs["lengths"], targets["labels"], targets["label_lengths"]))
        decoded = _decode(state.config, logits, inputs["lengths"], state.config.eval_decoder)
        return {"decoded": decoded, "labels": targets["labels"], "text": targets["text"],
                "language": targets["language"], "ler": decode.label_error_rate(decoded, targets["labels"])}

    def aggregate(self, config: ASRConfig, info: dict[str, Any], outputs: list[dict[str, Any]]) -> dict[str, float]:
        """CER and WER (jiwer; Chinese words by jieba), per language too, and the book's label error rate."""
        values, self._pairs = _corpus_scores(info, outputs)
        self._empty = values.get("empty_outputs", 0.0)
        return values

    # ----- hooks that receive the Run ----------------------------------------------------------------
    def during_training(self, run, step: int) -> list[str]:
        """Print the last evaluation's "Original / Decoded" pairs with their CER (as the book's log,
        S0 L14380-L14411) and write them to TensorBoard as text."""
        if not self._pairs:
            return []
        lines = [f"step {step} original: {p['original']}\nstep {step} decoded:  {p['decoded']}  (CER {p['cer']:.3f})"
                 for p in self._pairs]
        print("\n".join(lines), file=sys.stderr, flush=True)
        if self._empty == 1.0 and step >= BLANK_PHASE_STEPS:
            print(f"notice: step {step}: every validation clip decodes to nothing (CTC still outputs only blanks). "
                  f"Usual for the first few hundred steps; if it lasts, lower optim.lr, check that transcripts fit the "
                  f"clips (50 steps per second), and look at plots/alignment_val.png after `tfzoo evaluate RUN "
                  f"--split val`", file=sys.stderr, flush=True)
        key = str(run.tensorboard)
        if key not in self._writers:
            self._writers[key] = tf.summary.create_file_writer(key)
        rows = "\n".join(f"| {p['language']} | {p['original']} | {p['decoded']} | {p['cer']:.3f} |" for p in self._pairs)
        with self._writers[key].as_default(step=int(step)):
            tf.summary.text("val/decoded", "| language | original | decoded | CER |\n|---|---|---|---|\n" + rows)
        self._writers[key].flush()
        return []

    def after_evaluate(self, run, split: str, results: dict[str, Any]) -> dict[str, Any]:
        """`tfzoo evaluate` scores every decoder: the periodic evaluation's (`eval_decoder`) keys as they
        are, the others with a `_beam` / `_beam_lm` suffix; and plots one clip's CTC alignment."""
        config, info = run.config, run.info
        others = [d for d in ("greedy", "beam", "beam_lm") if d != config.eval_decoder]
        hypotheses: dict[str, list[str]] = {d: [] for d in others}
        references, languages = [], []
        for logits, lengths, targets in _logits(run, self.data(config, split)):
            references += [t.decode("utf-8") for t in targets["text"]]
            languages += [pipeline.LANGUAGES[int(code)] for code in targets["language"]]
            for decoder in others:
                hypotheses[decoder] += _transcribe(config, info, logits, lengths, decoder)
        for decoder in others:
            scores = decode.score(references, hypotheses[decoder], languages) if references else {}
            results.update({f"{k}_{decoder}": v for k, v in scores.items()})
        path = self._plot_alignment(run, split)
        if path is not None:
            print(f"alignment figure: {path}", file=sys.stderr)
        return results

    def _plot_alignment(self, run, split: str) -> Path | None:
        """The first English clip of the split (else its first clip): spectrogram and CTC posteriors."""
        from tfzoo.speech.asr.plots import alignment

        chosen = None
        for element in self.data(run.config, split).dataset.take(20):
            if chosen is None or int(pipeline.language_id_tf(element["text"])) == pipeline.EN:
                chosen = element
                if int(pipeline.language_id_tf(element["text"])) == pipeline.EN:
                    break
        if chosen is None:
            return None
        x = pipeline.features_tf(chosen["audio"], run.config, run.info)
        logits = run.models["model"]({"features": x[None], "lengths": tf.shape(x)[:1]}, training=False)[0]
        characters = list(run.info["characters"])
        decoded = pipeline.vocabulary(run.info).decode(decode.greedy(logits[None], tf.shape(x)[:1])[0].numpy())
        return alignment(waveform=chosen["audio"].numpy(), rate=int(run.info["sample_rate"]),
                         probabilities=tf.nn.softmax(logits).numpy(), characters=characters,
                         stride=run.config.frame_stride, reference=chosen["text"].numpy().decode("utf-8"),
                         decoded=decoded, out_png=run.plots / f"alignment_{split}.png")

    def example_inputs(self, directory) -> list[str]:
        """Two test clips of the tiny espeak corpus (held-out voices): English as 16 kHz mono WAV, Mandarin
        as 22,050 Hz stereo FLAC (predict mixes down and resamples)."""
        import soundfile as sf

        from tfzoo.speech import audio
        from tfzoo.speech.corpus import Recipe, ensure

        # The corpus generator synthesises in spawned workers: never fork a process running TensorFlow.
        folder = ensure(Recipe.named("tiny"), progress=False)
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        english = audio.load(folder / "wavs" / "en-test-00000.wav", rate=16000)
        mandarin = audio.load(folder / "wavs" / "zh-test-00000.wav", rate=None)
        en_path = audio.save(directory / "en.wav", english, 16000)
        zh_path = directory / "zh.flac"
        rate = audio.probe(folder / "wavs" / "zh-test-00000.wav").rate
        sf.write(str(zh_path), np.stack([mandarin, 0.5 * mandarin], axis=1), rate, subtype="PCM_16")
        return [str(en_path), str(zh_path)]

    def predict(self, run, inputs: list[str]) -> list[dict[str, Any]]:
        """The transcript of each audio file (WAV or FLAC, any rate, mono or stereo), decoded by `decoder`
        (`--set decoder=greedy`, `--set beam=N`, `--set top_paths=N` for alternatives). Runs the same
        graph as the exported SavedModel, on the file resampled by soxr."""
        from tfzoo.speech import audio

        serve = self.serving_function(run.config, run.models, run.info)
        rate = int(run.info["sample_rate"])
        bilingual = len(run.info.get("languages", {})) > 1
        results = []
        for path in inputs:
            waveform = audio.load(path, rate=rate)
            out = serve(tf.constant(waveform), tf.constant(rate, tf.int32))
            text = out["text"].numpy().decode("utf-8")
            if run.config.decoder == "beam_lm":  # the SavedModel's beam, rescored with the LM in NumPy
                found = lm.prefix_beam_search(out["log_probs"].numpy(), characters=run.info["characters"],
                                              lm=pipeline.language_model(run.config, run.info),
                                              weight=run.config.lm_weight, bonus=run.config.lm_bonus,
                                              beam=run.config.lm_beam, top_paths=run.config.top_paths)
                text = found[0][0]
                out = {**out, "alternatives": tf.constant([t for t, _ in found])}
            result: dict[str, Any] = {"input": path, "text": text}
            if bilingual:
                result["language"] = _language(text) if text else None
            if run.config.top_paths > 1:
                result["alternatives"] = [t.decode("utf-8") for t in out["alternatives"].numpy()]
            results.append(result)
        return results

    def export_manifest(self, run) -> dict[str, Any]:
        """The decoder the SavedModel runs, and what to do for the language model."""
        facts: dict[str, Any] = {"decoder": "greedy" if run.config.decoder == "greedy" else "beam",
                                 "beam": run.config.beam, "sample_rate": int(run.info["sample_rate"])}
        if run.config.decoder == "beam_lm":
            facts["language_model"] = ("not in the graph: rescore the log_probs output with "
                                       "tfzoo.speech.asr.lm.prefix_beam_search, or use tfzoo predict")
        return facts

    def serving_function(self, config: ASRConfig, models: dict[str, keras.Model], info: dict[str, Any]):
        """`waveform` float32 [N] (mono, in [-1, 1]) and its `sample_rate` int32 in; `text` (tf.string),
        `alternatives` [top_paths], their `scores` and the per-step `log_probs` [T', C] (for an external
        decoder or language model) out. Resampling (band-limited, `data.resample_tf`), features, the
        network, the decoder and the id -> character table all run in the graph; `beam_lm` serves the
        plain beam search (its language model runs in NumPy, in `predict`)."""
        model = models["model"]
        characters = list(info["characters"])
        table = tf.lookup.StaticHashTable(
            tf.lookup.KeyValueTensorInitializer(tf.range(len(characters), dtype=tf.int64), tf.constant(characters)),
            default_value="")
        # A resource a signature captures must belong to a saved object; common's export saves the
        # models, so the table rides on the model (it is no weight: neither .keras files nor
        # checkpoints carry it).
        model._tfzoo_id_to_character = table
        rate = int(info["sample_rate"])

        @tf.function(input_signature=[tf.TensorSpec([None], tf.float32, name="waveform"),
                                      tf.TensorSpec([], tf.int32, name="sample_rate")])
        def serve(waveform, sample_rate):
            x = pipeline.features_tf(pipeline.resample_tf(waveform, sample_rate, rate), config, info)
            lengths = tf.shape(x)[:1]
            logits = model({"features": x[None], "lengths": lengths}, training=False)
            if config.decoder in ("beam", "beam_lm"):
                paths, scores = decode.beam(logits, lengths, width=config.beam, top_paths=config.top_paths)
                scores = scores[0]
            else:
                paths = decode.greedy(logits, lengths)[None]
                scores = -tf.reduce_sum(tf.reduce_max(tf.nn.log_softmax(logits[0]), axis=-1))[None]
            texts = tf.strings.reduce_join(table.lookup(tf.cast(paths[:, 0], tf.int64)), axis=-1)
            return {"text": texts[0], "alternatives": texts, "scores": scores,
                    "log_probs": tf.nn.log_softmax(logits[0])}

        return serve


def _any_batch_size(inputs: dict[str, tf.Tensor]) -> dict[str, tf.Tensor]:
    """The inputs with an unknown static batch size. Under MirroredStrategy the last evaluation batch can
    leave a replica 0 examples, and a graph traced for a static batch of 0 does not build (Keras's LSTM
    cell); traced for any batch size, it runs on 0 examples."""
    return {k: tf.compat.v1.placeholder_with_default(v, [None, *v.shape[1:]]) for k, v in inputs.items()}


def _decode(config: ASRConfig, logits: tf.Tensor, lengths: tf.Tensor, decoder: str) -> tf.Tensor:
    """Decoded ids [B, D] (-1 padded) by `decoder`: the best beam path, or the greedy path."""
    if decoder == "beam":
        return decode.beam(logits, lengths, width=config.beam, top_paths=1)[0][0]
    return decode.greedy(logits, lengths)


def _language(text: str) -> str:
    from tfzoo.speech.text import detect_language, is_numbered_pinyin

    return "zh" if is_numbered_pinyin(text) else detect_language(text)


def _corpus_scores(info: dict[str, Any], outputs: list[dict[str, Any]]) -> tuple[dict[str, float], list[dict]]:
    """(cer, wer, per-language cer_<lang>/wer_<lang>, label_error_rate, utterances), and the pairs to show."""
    vocabulary = pipeline.vocabulary(info)
    references, hypotheses, languages, ler = [], [], [], []
    for out in outputs:
        for ids, text, language, rate in zip(out["decoded"], out["text"], out["language"], out["ler"]):
            references.append(text.decode("utf-8") if isinstance(text, bytes) else str(text))
            hypotheses.append(vocabulary.decode(ids))
            languages.append(pipeline.LANGUAGES[int(language)])
            ler.append(float(rate))
    if not references:
        return {}, []
    values = decode.score(references, hypotheses, languages)
    values["label_error_rate"] = float(np.mean(ler))
    values["utterances"] = float(len(references))
    # the share decoded as nothing: 1.0 is CTC's "only blanks" phase (or a model that never left it)
    values["empty_outputs"] = float(np.mean([not h.strip() for h in hypotheses]))
    pairs = []
    for language in sorted(set(languages))[:SHOWN_PAIRS]:
        i = languages.index(language)
        pairs.append({"language": language, "original": references[i], "decoded": hypotheses[i],
                      "cer": decode.score([references[i]], [hypotheses[i]], [language])["cer"]})
    return values, pairs


def _logits(run, data):
    """(logits, lengths, targets) of each evaluation batch, as NumPy arrays."""
    model = run.models["model"]
    forward = tf.function(lambda inputs: model(inputs, training=False), reduce_retracing=True)
    for inputs, targets in run.eval_batches(data):
        yield forward(inputs).numpy(), inputs["lengths"].numpy(), {k: v.numpy() for k, v in targets.items()}


def _transcribe(config: ASRConfig, info: dict[str, Any], logits: np.ndarray, lengths: np.ndarray,
                decoder: str) -> list[str]:
    """The transcripts of a batch of logits by `decoder` (beam_lm: prefix search with the run's LM)."""
    vocabulary = pipeline.vocabulary(info)
    if decoder != "beam_lm":
        ids = _decode(config, tf.constant(logits), tf.constant(lengths), decoder).numpy()
        return [vocabulary.decode(row) for row in ids]
    model = pipeline.language_model(config, info)
    log_probs = tf.nn.log_softmax(logits).numpy()
    return [lm.prefix_beam_search(lp[:n], characters=info["characters"], lm=model, weight=config.lm_weight,
                                  bonus=config.lm_bonus, beam=config.lm_beam)[0][0]
            for lp, n in zip(log_probs, lengths)]
