"""A character n-gram language model and CTC prefix beam search with it, in NumPy (no native build).

The peers' users ask for beam search with a language model: DeepSpeech needs a KenLM binary and a
native decoder, the Keras CTC example has none. Here the model is a character n-gram of the training
transcripts (interpolated Witten-Bell, so unseen characters keep some probability), and the decoder
is the prefix beam search of Hannun et al. (2014) with shallow fusion:

    score(prefix) = log P_ctc(prefix | audio) + lm_weight * log P_lm(prefix) + lm_bonus * len(prefix)

The bonus pays each character, since the LM's log probabilities alone favour short outputs. A
character model serves English and Mandarin alike and needs no word list.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from functools import lru_cache

import numpy as np

__all__ = ["CharNgram", "prefix_beam_search"]

BOS, EOS = "\x02", "\x03"  # sentence boundaries: control characters no transcript holds
NEG_INF = float("-inf")
# Candidates per frame: characters within this log distance of the frame's best (and at most
# MAX_CANDIDATES of them). A trained CTC model puts almost all mass on one or two classes per frame.
PRUNE = float(np.log(1e-3))
MAX_CANDIDATES = 8


class CharNgram:
    """An interpolated Witten-Bell character n-gram of `order` over `texts`.

    P(c | h) = (C(h c) + N1+(h ·) · P(c | h')) / (C(h) + N1+(h ·)), h' being h without its first
    character, down to a uniform distribution over the alphabet and the end of sentence.
    """

    def __init__(self, *, texts: Iterable[str], order: int = 5) -> None:
        if order < 1:
            raise ValueError(f"order={order}: a character n-gram needs order >= 1")
        self.order = int(order)
        self.counts: dict[str, Counter] = defaultdict(Counter)  # context (0..order-1 chars) -> next-char counts
        alphabet: set[str] = set()
        for text in texts:
            alphabet.update(text)
            padded = BOS * (self.order - 1) + text + EOS
            for i in range(self.order - 1, len(padded)):
                for n in range(self.order):
                    self.counts[padded[i - n:i]][padded[i]] += 1
        self.alphabet = frozenset(alphabet)
        self._uniform = 1.0 / (len(alphabet) + 1)  # + the end of sentence
        self._totals = {h: (sum(c.values()), len(c)) for h, c in self.counts.items()}
        self._history_log_prob = lru_cache(maxsize=1 << 20)(self._history_log_prob_uncached)

    def _prob(self, context: str, char: str) -> float:
        p = self._uniform
        for n in range(len(context) + 1):  # shortest context first, each interpolated with the one below
            history = context[len(context) - n:]
            total, types = self._totals.get(history, (0, 0))
            if total == 0:
                break  # a longer history unseen too
            p = (self.counts[history][char] + types * p) / (total + types)
        return p

    def log_prob(self, context: str, char: str) -> float:
        """log P(char | the last order - 1 characters of context), context padded with BOS."""
        history = (BOS * (self.order - 1) + context)[len(context):] if self.order > 1 else ""
        return self._history_log_prob(history, char)

    def _history_log_prob_uncached(self, history: str, char: str) -> float:
        return float(np.log(self._prob(history, char)))

    def sentence_log_prob(self, text: str) -> float:
        """log P(text, end of sentence)."""
        return sum(self.log_prob(text[:i], c) for i, c in enumerate(text + EOS))

    def bits_per_character(self, texts: Sequence[str]) -> float:
        """Cross-entropy in bits per character (end of sentence included) over `texts`."""
        nats = sum(-self.sentence_log_prob(t) for t in texts)
        return nats / np.log(2) / max(sum(len(t) + 1 for t in texts), 1)


def _logsumexp(a: float, b: float) -> float:
    if a == NEG_INF:
        return b
    if b == NEG_INF:
        return a
    top = max(a, b)
    return top + float(np.log1p(np.exp(-abs(a - b))))


def prefix_beam_search(log_probs: np.ndarray, *, characters: Sequence[str], lm: CharNgram | None = None,
                       weight: float = 0.5, bonus: float = 1.0, beam: int = 32,
                       top_paths: int = 1) -> list[tuple[str, float]]:
    """The `top_paths` best transcripts of one utterance and their fused scores, best first.

    `log_probs` [T, C] are the utterance's per-frame log probabilities over the frames that count, the
    blank last (C = len(characters) + 1). Repeated characters need a blank between them to be two
    ("hel_lo"), as CTC defines; without `lm` (or weight 0 and bonus 0) this is plain CTC prefix search.
    """
    log_probs = np.asarray(log_probs, np.float64)
    blank = log_probs.shape[1] - 1
    if blank != len(characters):
        raise ValueError(f"log_probs have {log_probs.shape[1]} classes; expected {len(characters)} characters + blank")
    # prefix (a tuple of ids) -> CTC [log P(ending in blank), log P(ending in a character)]; its text; and
    # its fused part, weight * log P_lm + bonus per character, ranked with the CTC part but kept apart
    beams: dict[tuple[int, ...], list[float]] = {(): [0.0, NEG_INF]}
    texts: dict[tuple[int, ...], str] = {(): ""}
    fused: dict[tuple[int, ...], float] = {(): 0.0}

    def extend(prefix: tuple[int, ...], c: int) -> None:
        new = prefix + (c,)
        if new not in fused:
            text = texts[prefix]
            lm_part = weight * lm.log_prob(text, characters[c]) if lm is not None else 0.0
            texts[new] = text + characters[c]
            fused[new] = fused[prefix] + lm_part + bonus

    for frame in log_probs:
        best = frame[:blank].max() if blank else NEG_INF
        order = np.argsort(frame[:blank])[::-1][:MAX_CANDIDATES]
        candidates = [int(c) for c in order if frame[c] >= best + PRUNE]
        following: dict[tuple[int, ...], list[float]] = defaultdict(lambda: [NEG_INF, NEG_INF])
        for prefix, (p_blank, p_char) in beams.items():
            total = _logsumexp(p_blank, p_char)
            entry = following[prefix]
            entry[0] = _logsumexp(entry[0], total + frame[blank])
            last = prefix[-1] if prefix else -1
            for c in candidates:
                p = float(frame[c])
                new = prefix + (c,)
                extend(prefix, c)
                target = following[new]
                if c == last:
                    entry[1] = _logsumexp(entry[1], p_char + p)  # "l" + "l" stays "l"
                    target[1] = _logsumexp(target[1], p_blank + p)  # "l_" + "l" is "ll"
                else:
                    target[1] = _logsumexp(target[1], total + p)
        ranked = sorted(following.items(), key=lambda kv: -(_logsumexp(*kv[1]) + fused[kv[0]]))
        beams = dict(ranked[:beam])

    def final(prefix: tuple[int, ...]) -> float:
        end = weight * lm.log_prob(texts[prefix], EOS) if lm is not None else 0.0
        return _logsumexp(*beams[prefix]) + fused[prefix] + end

    ranked = sorted(beams, key=final, reverse=True)[:top_paths]
    return [(texts[p], final(p)) for p in ranked]
