"""CTC decoding and the book's label error rate, in TensorFlow (usable inside tf.function and SavedModels).

Logits are batch-major `[B, T, C]` with the blank as the last class C - 1 (the book's convention);
decoded label ids come back dense, `[B, D]` int32 padded with -1.

- `greedy`: the best class per frame, repeats collapsed, then blanks dropped ("hh_e_ll_lo" -> "hello").
- `beam`: `tf.nn.ctc_beam_search_decoder`. In TF 2 it never merges repeated labels of its output
  (TF 1's `merge_repeated=False`, which the book passed, S0 L14295): two l's the network separates
  with a blank stay two l's.
- `label_error_rate`: the book's metric (S0 L14288-L14299): the edit distance between decoded and
  true label ids divided by the true length, per utterance (spaces are labels too).
"""

from __future__ import annotations

import tensorflow as tf

__all__ = ["beam", "greedy", "label_error_rate", "to_sparse"]


def greedy(logits: tf.Tensor, lengths: tf.Tensor) -> tf.Tensor:
    """Best-path decoding of `logits` [B, T, C] over the first `lengths` [B] frames: ids [B, D], -1 padded."""
    logits = tf.convert_to_tensor(logits)
    blank = tf.shape(logits)[-1] - 1
    best = tf.argmax(logits, axis=-1, output_type=tf.int32)
    previous = tf.pad(best[:, :-1], [[0, 0], [1, 0]], constant_values=-1)
    valid = tf.sequence_mask(lengths, tf.shape(best)[1])
    keep = (best != previous) & (best != blank) & valid
    return tf.ragged.boolean_mask(best, keep).to_tensor(default_value=-1)


def beam(logits: tf.Tensor, lengths: tf.Tensor, *, width: int = 100, top_paths: int = 1) -> tuple[tf.Tensor, tf.Tensor]:
    """CTC beam search over `logits` [B, T, C]: (ids [top_paths, B, D] -1 padded, log probabilities [B, top_paths]).

    Repeated labels of a path are kept (see the module docstring); path 0 is the most probable.
    """
    log_probs = tf.nn.log_softmax(tf.transpose(tf.convert_to_tensor(logits, tf.float32), [1, 0, 2]))
    paths = int(top_paths)

    def search():
        decoded, scores = tf.nn.ctc_beam_search_decoder(log_probs, tf.cast(lengths, tf.int32), beam_width=int(width),
                                                        top_paths=paths)
        dense = [tf.sparse.to_dense(tf.cast(path, tf.int32), default_value=-1) for path in decoded]
        longest = tf.reduce_max(tf.stack([tf.shape(d)[1] for d in dense]))
        dense = [tf.pad(d, [[0, 0], [0, longest - tf.shape(d)[1]]], constant_values=-1) for d in dense]
        return tf.stack(dense), scores

    # A batch of 0 (a replica's share of a last evaluation batch) has nothing to search.
    return tf.cond(tf.shape(log_probs)[1] > 0, search,
                   lambda: (tf.zeros([paths, 0, 0], tf.int32), tf.zeros([0, paths], tf.float32)))


def to_sparse(ids: tf.Tensor) -> tf.SparseTensor:
    """A SparseTensor of the non-negative entries of dense -1-padded ids [B, L]."""
    ids = tf.convert_to_tensor(ids)
    where = tf.where(ids >= 0)
    return tf.SparseTensor(where, tf.gather_nd(ids, where), tf.shape(ids, out_type=tf.int64))


def label_error_rate(decoded: tf.Tensor, labels: tf.Tensor) -> tf.Tensor:
    """Per utterance, edit distance(decoded ids, label ids) / number of label ids; [B] float32.

    An empty reference scores 0 when the decoding is empty too and 1 otherwise (not inf).
    """
    decoded, labels = tf.cast(decoded, tf.int64), tf.cast(labels, tf.int64)
    # The op refuses a batch of 0 (a replica's share of a last evaluation batch).
    distance = tf.cond(tf.shape(labels)[0] > 0,
                       lambda: tf.edit_distance(to_sparse(decoded), to_sparse(labels), normalize=False),
                       lambda: tf.zeros([0], tf.float32))
    truth = tf.reduce_sum(tf.cast(labels >= 0, tf.float32), axis=1)
    return tf.where(truth > 0, distance / tf.maximum(truth, 1.0), tf.cast(distance > 0, tf.float32))


# ----- corpus scores over decoded text (NumPy side, after evaluation) ----------------------------------


def words(text: str, language: str) -> list[str]:
    """The words a WER counts: whitespace words in English and wherever a Mandarin transcript has its own
    spaces (THCHS words, pinyin syllables, jieba-spaced labels); otherwise jieba's words of the hanzi."""
    from tfzoo.speech.text import zh_words

    if language == "zh" and " " not in text.strip():
        return zh_words(text)
    return text.split()


def score(references: list[str], hypotheses: list[str], languages: list[str]) -> dict[str, float]:
    """Corpus CER and WER (jiwer: edits / reference length over all utterances), overall and per language.

    `references` must be non-empty texts; `hypotheses` may be empty. Keys: cer, wer, and cer_<lang>,
    wer_<lang> for each language present (en, zh).
    """
    import jiwer

    out: dict[str, float] = {}
    groups = {"": list(range(len(references)))}
    for language in sorted(set(languages)):
        groups[f"_{language}"] = [i for i, code in enumerate(languages) if code == language]
    for suffix, chosen in groups.items():
        refs = [references[i] for i in chosen if references[i].strip()]
        hyps = [hypotheses[i] for i in chosen if references[i].strip()]
        if not refs:
            continue
        out[f"cer{suffix}"] = float(jiwer.cer(refs, hyps))
        ref_words = [" ".join(words(references[i], languages[i])) for i in chosen if references[i].strip()]
        hyp_words = [" ".join(words(hypotheses[i], languages[i])) for i in chosen if references[i].strip()]
        keep = [k for k, r in enumerate(ref_words) if r]
        if keep:
            out[f"wer{suffix}"] = float(jiwer.wer([ref_words[k] for k in keep], [hyp_words[k] for k in keep]))
    return out
