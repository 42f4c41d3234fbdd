"""Every knob of nlp.word2vec (实例70-71), as a frozen dataclass."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import ClassVar, Literal

from tfzoo.common.settings import OptimConfig, TrainConfig

Arch = Literal["skipgram", "cbow"]
Loss = Literal["nce", "sampled_softmax", "sgns"]
Sampler = Literal["log_uniform", "fixed_unigram", "learned_unigram"]
Tokens = Literal["auto", "jieba", "english", "whitespace", "chars"]


@dataclass(frozen=True)
class Word2VecConfig:
    """Word vectors from (centre, context) pairs with a sampled loss; `train.batch_size` counts centre words,
    each trained on the contexts drawn for it at that step."""

    # what `tfzoo info` and `tfzoo list` say of the task (read without importing TensorFlow)
    DESCRIPTION: ClassVar[str] = "word2vec: skip-gram or CBOW with NCE, sampled softmax or negative sampling; neighbours, analogies"
    DATA_SPECS: ClassVar[tuple[str, ...]] = ("hsk-zh (default, jieba words)", "text:FILE[?encoding=]", "lines:FILE")

    RANGES: ClassVar[dict] = {"max_vocab": (0, None), "min_count": (1, None), "dim": (1, None), "window": (1, None),
                              "num_skips": (0, None), "negatives": (1, None), "subsample": (0.0, None),
                              "distortion": (0.0, None), "unk_count": (-1, None), "init_scale": (0.0, None),
                              "valid_words": (0, None), "top_k": (1, None), "tsne_words": (2, None),
                              "tsne_iter": (250, None)}

    data: str = "hsk-zh"
    tokens: Tokens = "auto"  # auto: jieba when the text is mostly CJK, else English words
    lower: bool = True  # English tokens in lower case
    user_dict: tuple[str, ...] = ()  # jieba user dictionaries (`word [freq] [pos]` a line)
    normalize_digits: bool = False  # digit runs become _NUM
    max_vocab: int = 0  # entries including _UNK; 0 = no limit
    min_count: int = 2
    keep_unk: bool = False  # True trains _UNK as a word (the book); False drops rare words, as gensim does
    arch: Arch = "skipgram"  # cbow: the mean of the context vectors predicts the centre word
    loss: Loss = "sgns"  # negative sampling as word2vec.c and gensim; book(): nce
    sampler: Sampler = "log_uniform"  # candidates of nce and sampled_softmax; sgns uses its unigram^0.75 table
    distortion: float = 0.75  # fixed_unigram: counts^distortion
    unk_count: int = -1  # fixed_unigram: -1 = _UNK's real count; book() forces 90 (S0 L15532-L15540)
    dim: int = 100
    window: int = 5  # skip_window: context words on each side
    shrink_window: bool = True  # each centre draws its window from 1..window (word2vec.c, gensim)
    num_skips: int = 0  # skip-gram pairs per centre drawn from its window (the book's 2); 0 = every one
    negatives: int = 5  # negatives per pair (sgns) or num_sampled (nce, sampled_softmax; the book's 64)
    subsample: float = 1e-3  # frequent-word subsampling threshold (word2vec.c); 0 = off
    init_scale: float = 0.0  # input vectors from U(-scale, scale); 0 = 0.5 / dim (word2vec.c); book(): 1.0
    valid_words: int = 16  # words from the top half whose neighbours are logged at each evaluation
    top_k: int = 8  # neighbours printed by predict and logged
    tsne_words: int = 80
    tsne_iter: int = 5000
    train: TrainConfig = field(default_factory=lambda: TrainConfig(steps=8000, batch_size=128, eval_every=2000,
                                                                   ckpt_every=2000, log_every=200))
    # word2vec.c's per-pair rate 0.025 times the batch (the loss is a batch mean), decayed to 0 over the run.
    optim: OptimConfig = field(default_factory=lambda: OptimConfig(optimizer="sgd", lr=0.025 * 128, schedule="cosine"))

    @classmethod
    def tiny(cls) -> Word2VecConfig:
        """A few-second configuration for tests."""
        base = cls()
        return replace(base, dim=8, negatives=4, valid_words=4, tsne_words=20, tsne_iter=250,
                       train=replace(base.train, steps=4, batch_size=32, eval_every=2, ckpt_every=2, log_every=1,
                                     eval_batches=2))

    @classmethod
    def book(cls) -> Word2VecConfig:
        """实例70 as printed (S0 L15202-L15220): a 350-word vocabulary with _UNK, batch 128, dimension 128,
        skip window 1, num_skips 2, 64 NCE samples, SGD 1.0, 100,001 steps, 16 validation words, top 8."""
        base = cls()
        return replace(base, max_vocab=350, min_count=1, keep_unk=True, dim=128, window=1, shrink_window=False,
                       num_skips=2, loss="nce", negatives=64, subsample=0.0, unk_count=90, init_scale=1.0,
                       valid_words=16, top_k=8,
                       optim=OptimConfig(optimizer="sgd", lr=1.0),
                       # 64 centres of num_skips 2: the book's batch of 128 pairs (generate_batch, S0 L15117)
                       train=replace(base.train, steps=100_001, batch_size=64, eval_every=10_000,
                                     ckpt_every=10_000, log_every=2000))
