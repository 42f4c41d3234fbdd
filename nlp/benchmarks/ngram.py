"""The anchors of the character models: an interpolated character n-gram with add-k smoothing."""

from __future__ import annotations

import math
from collections import Counter

import numpy as np

BOS, EOS = "\x02", "\x03"


class CharNGram:
    """P(c | h) = Σ_n λ_n (count(h_n c) + k) / (count(h_n) + k V), orders 1..`order`, equal λ.

    `k` is chosen on held-out text among `ks` (`fit(..., val=)`).
    """

    def __init__(self, *, order: int, k: float = 0.1) -> None:
        self.order, self.k = order, k

    def fit(self, texts: list[str], *, val: list[str] | None = None, ks=(0.001, 0.01, 0.1, 1.0)) -> CharNGram:
        self.counts = [Counter() for _ in range(self.order)]  # n-gram counts per order (n = i + 1)
        self.context = [Counter() for _ in range(self.order)]
        vocab = set()
        for text in texts:
            padded = BOS * (self.order - 1) + text
            vocab.update(text)
            for i in range(self.order - 1, len(padded)):
                for n in range(1, self.order + 1):
                    gram = padded[i - n + 1:i + 1]
                    self.counts[n - 1][gram] += 1
                    self.context[n - 1][gram[:-1]] += 1
        self.vocab = sorted(vocab)
        if val:
            self.k = min(ks, key=lambda k: self._with_k(k).bits(val))
        return self

    def _with_k(self, k: float) -> CharNGram:
        clone = CharNGram(order=self.order, k=k)
        clone.counts, clone.context, clone.vocab = self.counts, self.context, self.vocab
        return clone

    def prob(self, history: str, ch: str) -> float:
        v = len(self.vocab) + 1  # + an unseen character
        total = 0.0
        for n in range(1, self.order + 1):
            h = history[len(history) - n + 1:] if n > 1 else ""
            total += (self.counts[n - 1][h + ch] + self.k) / (self.context[n - 1][h] + self.k * v)
        return total / self.order

    def bits(self, texts: list[str]) -> float:
        """Bits per character over `texts` (each scored from a fresh start)."""
        nats, count = 0.0, 0
        for text in texts:
            padded = BOS * (self.order - 1) + text
            for i in range(self.order - 1, len(padded)):
                nats -= math.log(self.prob(padded[i - self.order + 1:i], padded[i]))
                count += 1
        return nats / max(count, 1) / math.log(2)

    def sample(self, n: int, *, max_len: int = 16, temperature: float = 1.0, seed: int = 0) -> list[str]:
        """`n` strings sampled until EOS (names: texts end with EOS)."""
        rng = np.random.default_rng(seed)
        symbols = self.vocab
        out = []
        for _ in range(n):
            text = BOS * (self.order - 1)
            while len(text) < self.order - 1 + max_len:
                p = np.array([self.prob(text[-(self.order - 1):], c) for c in symbols]) ** (1 / temperature)
                c = symbols[rng.choice(len(symbols), p=p / p.sum())]
                if c == EOS:
                    break
                text += c
            out.append(text[self.order - 1:])
        return out
