"""nlp.char-lm: next-character prediction with an LSTM (实例69), held-out bits per character, generation."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from tfzoo.common.task import Task, TrainState
from tfzoo.nlp import charrnn, interactive
from tfzoo.nlp.charlm import data as pipeline
from tfzoo.nlp.charlm.config import CharLMConfig
from tfzoo.nlp.charlm.model import build_model
from tfzoo.nlp.text import SPECIALS, Vocabulary

VOCAB_FILE = "vocab.txt"


def run_vocabulary(run) -> Vocabulary:
    """The run's vocabulary (info.json), also written to RUN/vocab.txt, one token a line."""
    vocab = Vocabulary(run.info["vocabulary"])
    path = Path(run.path) / VOCAB_FILE
    if not path.exists():
        vocab.save(path)
    return vocab


class CharSession:
    """The interactive loop's session: the history plus each prompt is the context of the next reply."""

    def __init__(self, task: CharLM, run) -> None:
        self.task, self.run, self.config = task, run, run.config
        self.method, self.temperature, self.beam = self.config.method, self.config.temperature, self.config.beam
        self.history = ""
        self.turn = 0

    def reset(self) -> None:
        self.history = ""

    def reply(self, text: str) -> interactive.Reply:
        vocab = run_vocabulary(self.run)
        context = (self.history + text)[-4 * self.config.seq_len:]
        out = self.task.generate(self.run, [context], method=self.method, temperature=self.temperature,
                                 beam=self.beam, seed=self.config.seed + self.turn)[0]
        self.turn += 1
        self.history = context + out["text"]
        # One reply, one line: the newlines that end sentences are shown as spaces.
        return interactive.Reply(out["text"].replace("\n", " "), vocab.unknown(text), out["truncated"])


class CharLM(Task):
    """Model {"model": tokens -> next-character logits}; loss is the masked cross-entropy, reported in
    bits per character on held-out text."""

    name = "nlp.char-lm"
    config_class = CharLMConfig
    monitor, monitor_mode = "bits_per_char", "min"

    # ----- data and model -------------------------------------------------------------------------------
    def data(self, config: CharLMConfig, split: str):
        return pipeline.load_split(config, split)

    def data_info(self, config: CharLMConfig, train) -> dict[str, Any]:
        vocab = pipeline.vocabulary(config)
        return {"vocabulary": vocab.tokens, "characters": int(train.meta["characters"])}

    def eval_map(self, config: CharLMConfig, info, example):
        ids = charrnn.codepoint_lookup(info["vocabulary"], info["vocabulary"].index("_UNK"))(example)
        x, y = ids[:-1], ids[1:]
        # book(): only the character after the window is a target (4 predict the 5th).
        weights = tf.one_hot(config.seq_len - 1, config.seq_len) if config.last_only else tf.ones([config.seq_len])
        return x, y, weights

    def build_models(self, config: CharLMConfig, info) -> dict[str, keras.Model]:
        return {"model": build_model(config, len(info["vocabulary"]))}

    # ----- steps --------------------------------------------------------------------------------------------
    def compute_loss(self, state: TrainState, batch):
        x, y, weights = batch
        logits = state.models["model"](x, training=True)
        _, per_example = charrnn.token_losses(logits, y, weights)
        loss = state.average(per_example)
        return loss, {"bits_per_char": loss / charrnn.LN2}

    def metrics(self, config, info):
        return charrnn.cross_entropy_metrics()

    def eval_step(self, state: TrainState, batch, metrics) -> None:
        x, y, weights = batch
        charrnn.update_metrics(metrics, state.models["model"](x, training=False), y, weights)

    def during_training(self, run, step: int) -> list[str]:
        run_vocabulary(run)  # RUN/vocab.txt beside info.json, once
        return []

    # ----- generation ---------------------------------------------------------------------------------------
    def generate(self, run, prompts: list[str], *, method: str | None = None, temperature: float | None = None,
                 beam: int | None = None, seed: int | None = None) -> list[dict[str, Any]]:
        """Continue each prompt by `n` characters (or up to a newline with `until_newline`)."""
        config, vocab = run.config, run_vocabulary(run)
        newline = vocab.ids.get("\n", -1)
        eos = newline if config.until_newline or (method or config.method) == "beam" else -1
        results = []
        for i, prompt in enumerate(prompts):
            ids = vocab.encode(prompt) if prompt else [newline if newline >= 0 else vocab.unk]
            tokens, lengths = charrnn.generate(
                run.models["model"], [ids], max_len=config.n, eos=eos, method=method or config.method,
                temperature=config.temperature if temperature is None else temperature, top_k=config.top_k,
                beam=config.beam if beam is None else beam, alpha=config.alpha,
                seed=(config.seed if seed is None else seed) + i)
            # An undertrained model may pick a special token; it is no character, so it is not shown.
            text = "".join(t for t in vocab.decode(tokens[0][: lengths[0]], strip=False) if t not in SPECIALS)
            truncated = eos >= 0 and not text.endswith("\n")
            results.append({"prompt": prompt, "text": text.rstrip("\n"), "truncated": bool(truncated),
                            "unknown": vocab.unknown(prompt)})
        return results

    def example_inputs(self, directory) -> list[str]:
        """Two prompts: the book's 生活平凡 and a word of the HSK sentences."""
        return ["生活平凡", "老师"]

    def predict(self, run, inputs: list[str]) -> list[dict[str, Any]]:
        """Each input is a prompt (a file's text when it names a file); no input uses `prompt`;
        `-` or `--set interactive=true` runs the read-reply loop over stdin."""
        if inputs == ["-"] or run.config.interactive:
            replies = interactive.loop(CharSession(self, run))
            return [{"interactive": True, "replies": replies}]
        prompts = []
        for item in inputs or [run.config.prompt]:
            path = Path(item)
            prompts.append(path.read_text(encoding="utf-8").strip() if item and path.is_file() else item)
        results = self.generate(run, prompts)
        unknown = sorted({c for r in results for c in r["unknown"]})
        if unknown:
            print(f"notice: unknown characters {', '.join(unknown)} (read as _UNK)", file=sys.stderr)
        return results

    def after_evaluate(self, run, split: str, results: dict[str, Any]) -> dict[str, Any]:
        """Adds the perplexity per character (2^bits) and one greedy sample."""
        results = dict(results)
        bits = float(np.asarray(results.get("bits_per_char", np.nan)))
        results["perplexity"] = float(2.0 ** bits)
        results["sample"] = self.generate(run, [run.config.prompt], method="greedy")[0]["text"]
        return results

    def serving_function(self, config, models, info):
        model = models["model"]
        return tf.function(lambda tokens: {"logits": model(tokens, training=False)},
                           input_signature=[tf.TensorSpec([None, None], tf.int32, name="tokens")])

    def export_manifest(self, run) -> dict[str, Any]:
        return {"vocabulary": str(run_vocabulary(run).save(run.export / VOCAB_FILE).name)}

