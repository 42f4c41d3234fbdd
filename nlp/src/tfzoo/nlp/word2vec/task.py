"""nlp.word2vec: skip-gram / CBOW word vectors (实例70-71), neighbours, analogies, word2vec-format export."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from tfzoo.common.task import Task, TrainState
from tfzoo.nlp.text import Vocabulary
from tfzoo.nlp.word2vec import data as pipeline
from tfzoo.nlp.word2vec.config import Word2VecConfig
from tfzoo.nlp.word2vec.model import build_model, pair_losses, unigram_table

VOCAB_FILE = "vocab.txt"


def unit_vectors(run) -> np.ndarray:
    """The run's input vectors, each scaled to length 1 (cosine similarity is then a dot product)."""
    vectors = np.asarray(run.models["model"].embeddings.numpy(), np.float64)
    return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)


def nearest(unit: np.ndarray, query: np.ndarray, tokens: list[str], *, k: int, exclude=()) -> list[list]:
    """The `k` entries most cosine-similar to `query`, as [word, similarity], `exclude` and _UNK left out."""
    query = query / max(np.linalg.norm(query), 1e-12)
    sims = unit @ query
    out = []
    for i in np.argsort(-sims, kind="stable"):
        if tokens[i] in exclude or i == 0:
            continue
        out.append([tokens[i], round(float(sims[i]), 4)])
        if len(out) == k:
            break
    return out


def parse_expression(text: str) -> list[tuple[int, str]] | None:
    """`a - b + c` as [(+1, a), (-1, b), (+1, c)], or None for a plain word."""
    parts = text.replace("+", " + ").replace(" -", " - ").replace("- ", " - ").split()
    if len(parts) < 3 or not any(p in "+-" for p in parts):
        return None
    terms, sign = [], 1
    for part in parts:
        if part in ("+", "-"):
            sign = 1 if part == "+" else -1
            continue
        terms.append((sign, part))
        sign = 1
    return terms


class Word2Vec(Task):
    """Model {"model": Word2VecModel}; its input vectors are the word vectors."""

    name = "nlp.word2vec"
    config_class = Word2VecConfig

    # ----- data and model -------------------------------------------------------------------------------
    def data(self, config: Word2VecConfig, split: str):
        return pipeline.load_split(config, split)

    def data_info(self, config: Word2VecConfig, train) -> dict[str, Any]:
        vocab = pipeline._cached_vocab(config)
        return {"vocabulary": vocab.tokens, "counts": [int(c) for c in vocab.counts],
                "steps_per_epoch": max(1, train.size // config.train.batch_size), "tokens": train.meta["tokens"]}

    def build_models(self, config: Word2VecConfig, info) -> dict[str, keras.Model]:
        return {"model": build_model(config, len(info["vocabulary"]))}

    def _constants(self, state: TrainState) -> tuple[tf.Tensor, tf.Tensor]:
        """The negative-sampling table and the subsampling keep probabilities, built once per trainer
        outside the traced step."""
        if "table" not in state.extras:
            with tf.init_scope():
                counts = state.info["counts"]
                state.extras["table"] = tf.constant(unigram_table(counts))
                state.extras["keep"] = tf.constant(pipeline.keep_probability(counts, state.config.subsample),
                                                   tf.float32)
        return state.extras["table"], state.extras["keep"]

    # ----- steps --------------------------------------------------------------------------------------------
    def train_step(self, state: TrainState, batch) -> dict[str, tf.Tensor]:
        """One update on the contexts drawn for this step; logs the mean loss per pair and the epoch's
        float64 tally of it (reset at each epoch's first step)."""
        config, model = state.config, state.models["model"]
        table, keep = self._constants(state)
        ctx = tf.distribute.get_replica_context()
        replica = tf.cast(ctx.replica_id_in_sync_group if ctx else 0, tf.int64)
        seed = tf.stack([tf.cast(config.train.seed, tf.int64) * 1_000_003 + replica, tf.cast(state.step, tf.int64)])
        centre, contexts = batch
        contexts, weight = pipeline.draw(config, keep, centre, contexts, seed)
        contexts = tf.where(weight[:, None] > 0, contexts, -1)  # a subsampled centre trains nothing

        def loss_fn():
            per_pair, mask = pair_losses(config, model, state.info["counts"], table, centre, contexts,
                                         seed + tf.constant([0, 7], tf.int64))
            mask = mask * weight[:, None]
            total = tf.reduce_sum(per_pair * mask, -1)  # per centre: the sum over its pairs, as word2vec.c
            return state.average(total), {"pairs": tf.reduce_sum(mask), "sum": tf.reduce_sum(total)}

        # SGNS has no output biases (word2vec.c's syn1neg): they are left out rather than given no gradient.
        variables = None
        if config.loss == "sgns":
            variables = [v for v in state.trainable() if not v.path.endswith("out_biases")]
        _, logs = state.minimize(loss_fn, variables=variables)
        replicas = ctx.num_replicas_in_sync if ctx else 1
        pairs = ctx.all_reduce(tf.distribute.ReduceOp.SUM, logs["pairs"]) if ctx else logs["pairs"]
        total = ctx.all_reduce(tf.distribute.ReduceOp.SUM, logs["sum"]) if ctx else logs["sum"]
        pair_loss = total / tf.maximum(pairs, 1.0)  # the mean loss per pair of the global batch
        fresh = tf.equal(state.step % state.info["steps_per_epoch"], 0)
        tally = tf.where(fresh, tf.zeros([2], tf.float64), model.tally) + tf.stack(
            [tf.cast(pair_loss, tf.float64), tf.constant(1.0, tf.float64)])
        model.tally.assign(tally)
        # The trainer sums what replicas return: each returns its share.
        return {"loss": pair_loss / replicas, "epoch_loss": tally[0] / tally[1] / replicas,
                "pairs": logs["pairs"]}

    def metrics(self, config, info):
        return {"loss": keras.metrics.Mean(name="loss")}

    def eval_step(self, state: TrainState, batch, metrics) -> None:
        """The loss per pair over every full window (no subsampling, no shrinking)."""
        table, _ = self._constants(state)
        centre, contexts = batch
        per_pair, mask = pair_losses(state.config, state.models["model"], state.info["counts"], table, centre,
                                     contexts, tf.constant([7, 11], tf.int64))
        metrics["loss"].update_state(per_pair, sample_weight=mask)

    # ----- words --------------------------------------------------------------------------------------------
    def validation_words(self, run) -> list[str]:
        """`valid_words` words drawn (seeded) from the more frequent half of the vocabulary."""
        tokens = run.info["vocabulary"]
        top = max(2, len(tokens) // 2)
        rng = np.random.default_rng(run.config.train.seed)
        count = min(run.config.valid_words, top - 1)
        return [tokens[i] for i in sorted(rng.choice(np.arange(1, top), size=count, replace=False))]

    def neighbours(self, run, text: str) -> dict[str, Any]:
        """Nearest words of a word, or of `a - b + c` (an analogy: the input words are left out)."""
        tokens, ids = run.info["vocabulary"], {t: i for i, t in enumerate(run.info["vocabulary"])}
        unit = unit_vectors(run)
        terms = parse_expression(text) or [(1, text.strip())]
        missing = [w for _, w in terms if w not in ids]
        if missing:
            return {"input": text, "unknown": missing, "neighbours": []}
        query = sum(sign * unit[ids[w]] for sign, w in terms)
        return {"input": text, "neighbours": nearest(unit, query, tokens, k=run.config.top_k,
                                                     exclude={w for _, w in terms})}

    def example_inputs(self, directory) -> list[str]:
        """A word and an analogy over HSK words."""
        return ["老师", "老师 - 学校 + 医院"]

    def predict(self, run, inputs: list[str]) -> list[dict[str, Any]]:
        """Cosine nearest neighbours of each word, or of `a - b + c`; unknown words named on stderr.
        Without inputs: the neighbours of the validation words."""
        results = [self.neighbours(run, text) for text in (inputs or self.validation_words(run))]
        unknown = [w for r in results for w in r.get("unknown", [])]
        if unknown:
            print(f"notice: not in the vocabulary: {', '.join(dict.fromkeys(unknown))}", file=sys.stderr)
        return results

    def during_training(self, run, step: int) -> list[str]:
        """Logs the validation words' neighbours (stderr and RUN/neighbours.jsonl); writes RUN/vocab.txt."""
        path = Path(run.path) / VOCAB_FILE
        if not path.exists():
            Vocabulary(run.info["vocabulary"], specials=pipeline.UNK_ONLY).save(path)
        lists = {r["input"]: [w for w, _ in r["neighbours"]] for r in map(lambda w: self.neighbours(run, w),
                                                                          self.validation_words(run))}
        with (Path(run.path) / "neighbours.jsonl").open("a", encoding="utf-8") as f:
            f.write(json.dumps({"step": step, "neighbours": lists}, ensure_ascii=False) + "\n")
        for word, near in list(lists.items())[:4]:
            print(f"step {step}: nearest to {word}: {', '.join(near)}", file=sys.stderr)
        return []

    def visualise(self, run, config) -> list[str]:
        """plots/tsne.png: t-SNE (perplexity 30, PCA init) of the `tsne_words` most frequent words."""
        from tfzoo.nlp.word2vec.plots import tsne_plot

        n = min(config.tsne_words, len(run.info["vocabulary"]) - 1)
        words = run.info["vocabulary"][1:n + 1]
        vectors = run.models["model"].embeddings.numpy()[1:n + 1]
        return [str(tsne_plot(vectors, words, run.plots / "tsne.png", max_iter=config.tsne_iter,
                              seed=config.train.seed))]

    # ----- export -------------------------------------------------------------------------------------------
    def serving_function(self, config, models, info):
        model = models["model"]
        return tf.function(lambda ids: {"vectors": tf.gather(model.embeddings, tf.cast(ids, tf.int32))},
                           input_signature=[tf.TensorSpec([None], tf.int64, name="ids")])

    def export_formats(self) -> dict[str, Any]:
        """`tfzoo export RUN --format word2vec`: export/vectors.txt in the word2vec text format (gensim's
        `KeyedVectors.load_word2vec_format` reads it) and vectors.tsv + metadata.tsv for the TensorBoard
        projector."""
        return {"word2vec": _write_vectors}

    def export_manifest(self, run) -> dict[str, Any]:
        return {"vocabulary_size": len(run.info["vocabulary"])}


def _write_vectors(run) -> Path:
    """The run's vectors as export/vectors.txt (word2vec text) and the projector's two TSV files."""
    from tfzoo.nlp.word2vec.plots import write_projector, write_word2vec

    tokens = run.info["vocabulary"]
    vectors = run.models["model"].embeddings.numpy()
    write_projector(run.export, tokens, vectors)
    return write_word2vec(run.export / "vectors.txt", tokens, vectors)
