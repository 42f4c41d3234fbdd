"""nlp.word2vec's files: the t-SNE map of the top words, the word2vec text format, projector TSV."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def tsne_plot(vectors: np.ndarray, words: list[str], path: Path, *, max_iter: int = 5000, seed: int = 0) -> Path:
    """scikit-learn TSNE(perplexity=30, init="pca") of `vectors`, each point labelled with its word."""
    from sklearn.manifold import TSNE

    from tfzoo.common import plots

    perplexity = min(30.0, max(1.0, (len(words) - 1) / 3))
    points = TSNE(n_components=2, perplexity=perplexity, init="pca", max_iter=max_iter,
                  random_state=seed).fit_transform(np.asarray(vectors, np.float64))
    # common's CJK font lookup: the first installed family, or None with one warning per process
    font = plots.cjk_font() if any(ord(c) > 0x2FFF for w in words for c in w) else None
    fig = plots.new_figure()
    ax = fig.add_subplot(1, 1, 1)
    ax.scatter(points[:, 0], points[:, 1], s=8)
    for (x, y), word in zip(points, words):
        ax.annotate(_label(word, font), (x, y), xytext=(3, 2), textcoords="offset points", fontsize=9,
                    **({"fontfamily": font} if font else {}))
    ax.set_title(f"t-SNE of the {len(words)} most frequent words")
    return Path(plots.save_figure(fig, path))


def _label(word: str, font: str | None) -> str:
    """The word, or without a CJK font its CJK characters as code points (U+8001), as common's figures do."""
    return word if font else "".join(f"U+{ord(c):04X}" if ord(c) > 0x2FFF else c for c in word)


def write_word2vec(path: Path, tokens: list[str], vectors: np.ndarray) -> Path:
    """The word2vec text format: a `count dim` header, then `word v1 v2 ...` a line."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as f:
        f.write(f"{len(tokens)} {vectors.shape[1]}\n")
        for token, row in zip(tokens, vectors):
            f.write(token.replace(" ", "_") + " " + " ".join(f"{v:.6g}" for v in row) + "\n")
    return path


def write_projector(folder: Path, tokens: list[str], vectors: np.ndarray) -> tuple[Path, Path]:
    """vectors.tsv (one vector a line) and metadata.tsv (its word) for the TensorBoard projector."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tsv, meta = folder / "vectors.tsv", folder / "metadata.tsv"
    tsv.write_text("".join("\t".join(f"{v:.6g}" for v in row) + "\n" for row in vectors), encoding="utf-8")
    meta.write_text("".join(t.replace("\t", " ") + "\n" for t in tokens), encoding="utf-8")
    return tsv, meta
