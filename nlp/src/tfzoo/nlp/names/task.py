"""nlp.names: a GRU character model over first names (实例47); samples new names with temperature."""

from __future__ import annotations

import math
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from tfzoo.common import batching
from tfzoo.common.errors import UserError
from tfzoo.common.task import Task, TrainState
from tfzoo.nlp import charrnn, interactive
from tfzoo.nlp.names import data as pipeline
from tfzoo.nlp.names.config import NamesConfig
from tfzoo.nlp.names.model import build_model


def is_valid(name: str) -> bool:
    """A usable name: ASCII letters only, 2 to 12 of them."""
    return name.isascii() and name.isalpha() and 2 <= len(name) <= 12


def rates(generated: list[str], training: set[str]) -> dict[str, float]:
    """The share of generated names that are new (not a training name) and that are valid."""
    n = max(1, len(generated))
    return {"novelty": sum(g not in training for g in generated) / n,
            "validity": sum(is_valid(g) for g in generated) / n}


class NameSession:
    """The interactive loop's session: each line is a prefix, the reply `n` names."""

    def __init__(self, task: Names, run) -> None:
        self.task, self.run = task, run
        self.method, self.temperature, self.beam = run.config.method, run.config.temperature, run.config.beam
        self.turn = 0

    def reset(self) -> None:
        self.turn = 0

    def reply(self, text: str) -> interactive.Reply:
        prefix = text.strip()
        unknown = [c for c in dict.fromkeys(prefix) if not 32 <= ord(c) <= 126]
        names = self.task.sample(self.run, self.run.config.n, prefix=prefix, method=self.method,
                                 temperature=self.temperature, beam=self.beam, seed=self.run.config.seed + self.turn)
        self.turn += 1
        return interactive.Reply(", ".join(names), unknown)


class Names(Task):
    """Model {"model": tokens -> next-character logits}; a name ends with the pad token."""

    name = "nlp.names"
    config_class = NamesConfig
    monitor, monitor_mode = "perplexity", "min"

    # ----- data and model -------------------------------------------------------------------------------
    def data(self, config: NamesConfig, split: str):
        return pipeline.load_split(config, split)

    def data_info(self, config: NamesConfig, train) -> dict[str, Any]:
        return {"vocabulary": pipeline.vocabulary().tokens, "first_letters": pipeline.first_letters(config)}

    def eval_map(self, config: NamesConfig, info, example):
        return pipeline.encode(example, bos=config.bos)

    def batch(self, config: NamesConfig, info, dataset, split: str):
        # Names differ in length: each batch is padded to its longest; padding has weight 0.
        return batching.padded(dataset, batch_size=config.train.batch_size, split=split)

    def build_models(self, config: NamesConfig, info) -> dict[str, keras.Model]:
        return {"model": build_model(config, len(info["vocabulary"]))}

    # ----- steps --------------------------------------------------------------------------------------------
    def compute_loss(self, state: TrainState, batch):
        x, y, weights = batch
        logits = state.models["model"](x, training=True)
        _, per_example = charrnn.token_losses(logits, y, weights)
        return state.average(per_example), {}

    def metrics(self, config, info):
        return charrnn.cross_entropy_metrics()

    def eval_step(self, state: TrainState, batch, metrics):
        x, y, weights = batch
        ce = charrnn.update_metrics(metrics, state.models["model"](x, training=False), y, weights)
        return {"nats": tf.reduce_sum(ce * weights), "tokens": tf.reduce_sum(weights)}

    def aggregate(self, config, info, outputs) -> dict[str, float]:
        """Held-out perplexity per character (the end of each name counts as one)."""
        tokens = sum(float(o["tokens"]) for o in outputs)
        nats = sum(float(o["nats"]) for o in outputs)
        return {"perplexity": math.exp(nats / tokens) if tokens else float("nan")}

    # ----- generation ---------------------------------------------------------------------------------------
    def sample(self, run, n: int, *, prefix: str = "", method: str | None = None, temperature: float | None = None,
               beam: int | None = None, seed: int = 0) -> list[str]:
        """`n` names starting with `prefix` (title-cased). Beam search returns its best `n` at most."""
        config = run.config
        vocab = pipeline.vocabulary()
        prefix = prefix[:1].upper() + prefix[1:]
        rng = np.random.default_rng(seed)
        if config.bos:
            starts = [[vocab.ids["_GO"], *vocab.encode(prefix)]] * n
        elif prefix:
            starts = [vocab.encode(prefix)] * n
        else:  # the book's way: the first letter drawn from the training names' first letters
            letters = run.info["first_letters"]
            p = np.array(list(letters.values()), np.float64)
            starts = [vocab.encode(c) for c in rng.choice(list(letters), size=n, p=p / p.sum())]
            prefix = None
        method = method or config.method
        width = config.beam if beam is None else beam
        if method == "beam" and width > 1:
            n_best = min(n, width)
            dec = charrnn.decoder(run.models["model"], max_len=config.max_len, eos=0, pad=0)
            one = np.asarray(starts[:1], np.int32)
            tokens, _, lengths = dec.beam(one[:, -1], charrnn.prime(run.models["model"], one[:, :-1]),
                                          width=width, n_best=n_best)
            rows = [(tokens[0, i].numpy(), int(lengths[0, i])) for i in range(n_best)]
            starts = starts[:1] * n_best
        else:
            tokens, lengths = charrnn.generate(
                run.models["model"], starts, max_len=config.max_len, eos=0, pad=0,
                method="greedy" if method == "beam" else method,
                temperature=config.temperature if temperature is None else temperature, top_k=config.top_k,
                seed=seed)
            rows = list(zip(tokens, lengths))
        out = []
        for (row, length), start in zip(rows, starts):
            head = prefix if prefix is not None else "".join(vocab.decode(start, strip=True))
            # Special tokens (an undertrained model's _GO or _UNK) are no letters: not shown.
            out.append(head + "".join(t for t in vocab.decode(row[:length], strip=False) if len(t) == 1))
        return out

    def predict(self, run, inputs: list[str]) -> list[dict[str, Any]]:
        """`n` names per prefix (each input is a prefix; none: `prefix`), with the novelty and validity
        of each batch; `-` or `--set interactive=true` reads prefixes from stdin."""
        config = run.config
        if inputs == ["-"] or config.interactive:
            return [{"interactive": True, "replies": interactive.loop(NameSession(self, run))}]
        training = set(pipeline.names(config, "train"))
        results = []
        for i, prefix in enumerate(inputs or [config.prefix]):
            bad = [c for c in prefix if not 32 <= ord(c) <= 126]
            if bad:
                raise UserError(f"prefix {prefix!r}: found {bad[0]!r}, expected printable ASCII letters")
            names = self.sample(run, config.n, prefix=prefix, seed=config.seed + i)
            results.append({"prefix": prefix, "names": names, **rates(names, training)})
        return results

    def after_evaluate(self, run, split: str, results: dict[str, Any]) -> dict[str, Any]:
        """Adds the novelty and validity of `eval_samples` names sampled at `temperature`."""
        config = run.config
        names = self.sample(run, config.eval_samples, method="sample", seed=config.seed)
        return {**results, **rates(names, set(pipeline.names(config, "train"))), "examples": names[:10]}

    def serving_function(self, config, models, info):
        model = models["model"]
        return tf.function(lambda tokens: {"logits": model(tokens, training=False)},
                           input_signature=[tf.TensorSpec([None, None], tf.int32, name="tokens")])
