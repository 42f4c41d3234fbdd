"""nlp.char-lm beyond conformance: any text through the CLI, bits per character, generation, the loop."""

import io
import json
import math
import os
import subprocess
import sys

import numpy as np
import pytest

from tfzoo.common.run import Run
from tfzoo.common.testing import run_cli
from tfzoo.nlp.charlm import data as pipeline
from tfzoo.nlp.charlm.config import CharLMConfig


@pytest.fixture(scope="module")
def run_dir(gbk_poems, tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("charlm") / "run"
    code, out, err = run_cli("train", "nlp.char-lm", "--tiny", "--data", f"text:{gbk_poems}?encoding=gb18030",
                             "--run-dir", str(run_dir), "--set", "seq_len=8")
    assert code == 0, err
    return run_dir


def test_trains_on_a_gbk_text_and_reports_bits_per_char(run_dir):
    info = json.loads((run_dir / "info.json").read_text())
    assert info["vocabulary"][:4] == ["_PAD", "_GO", "_EOS", "_UNK"] and "明" in info["vocabulary"]
    assert (run_dir / "vocab.txt").read_text(encoding="utf-8").splitlines()[4:6] == \
        [t.replace("\n", "\\n") for t in info["vocabulary"][4:6]]
    code, out, err = run_cli("evaluate", str(run_dir), "--split", "test")
    assert code == 0, err
    result = json.loads(out.strip().splitlines()[-1])
    assert result["bits_per_char"] == pytest.approx(result["loss"] / math.log(2), rel=1e-5)
    assert result["perplexity"] == pytest.approx(2 ** result["bits_per_char"], rel=1e-5)
    # An untrained model is near the uniform rate over its vocabulary.
    assert 0.5 * math.log2(len(info["vocabulary"])) < result["bits_per_char"] < 2 * math.log2(len(info["vocabulary"]))


def test_predict_prompts_methods_and_unknown_characters(run_dir):
    code, out, err = run_cli("predict", str(run_dir), "明月", "--set", "n=6")
    assert code == 0, err
    result = json.loads(out)
    assert result["prompt"] == "明月" and len(result["text"]) <= 6 and not result["unknown"]
    for sets in (["method=sample", "temperature=0.7", "top_k=3"], ["method=beam", "beam=3"]):
        code, out, err = run_cli("predict", str(run_dir), "明月", *[a for s in sets for a in ("--set", s)])
        assert code == 0, err
        assert json.loads(out)["prompt"] == "明月"
    code, out, err = run_cli("predict", str(run_dir), "明X月")
    assert code == 0 and "notice: unknown characters X" in err and json.loads(out)["unknown"] == ["X"]


def test_interactive_loop_reads_stdin(run_dir, monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.StringIO("明月\n:temp 0.8\n低头\n:beam 2\n明Q\n:reset\n:temp x\n明\n"))
    code, out, err = run_cli("predict", str(run_dir), "-")
    assert code == 0, err
    lines = out.splitlines()  # one line per reply (an untrained model's may be empty), then the summary
    assert json.loads(lines[-1]) == {"interactive": True, "replies": 4} and len(lines) == 5
    assert "notice: unknown Q (read as _UNK)" in err and "notice: history cleared" in err
    assert "notice: sample, temperature 0.8" in err and "notice: beam, beam width 2" in err
    assert "notice: :temp 'x': expected" in err
    monkeypatch.setattr(sys, "stdin", io.StringIO("明月\n:quit\n明月\n"))
    code, out, _ = run_cli("predict", str(run_dir), "--set", "interactive=true")
    assert code == 0 and json.loads(out.strip().splitlines()[-1])["replies"] == 1


def test_interactive_loop_through_a_real_pipe(run_dir):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    proc = subprocess.run([sys.executable, "-m", "tfzoo.common.cli", "predict", str(run_dir), "--interactive"],
                          input="明月\n:beam 2\n故乡\n", capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout.strip().splitlines()[-1])["replies"] == 2


def test_greedy_generation_is_reproducible_and_export_serves(run_dir):
    from tfzoo.nlp.charlm.task import CharLM

    run = Run.open(run_dir)
    a = CharLM().generate(run, ["明月", "故乡"])
    b = CharLM().generate(run, ["明月", "故乡"])
    assert a == b
    code, out, err = run_cli("export", str(run_dir))
    assert code == 0, err
    import tensorflow as tf

    serve = tf.saved_model.load(out.strip()).signatures["serving_default"]
    vocab = len(run.info["vocabulary"])
    assert serve(tokens=tf.constant([[4, 5, 6]], tf.int32))["logits"].shape == (1, 3, vocab)
    assert (run_dir / "export/vocab.txt").is_file()


def test_windows_and_the_book_preset(gbk_poems):
    config = CharLMConfig.book()
    assert (config.seq_len, config.stride, config.last_only, config.train.batch_size, config.train.steps) == \
        (4, 1, True, 1, 10_000)
    from dataclasses import replace

    config = replace(config, data=f"text:{gbk_poems}?encoding=gb18030")
    split = pipeline.load_split(config, "train")
    windows = np.stack(list(split.dataset.as_numpy_iterator()))
    text = pipeline.stream(config.data, "train")
    assert windows.shape == (len(text) - 4, 5)
    assert "".join(map(chr, windows[1])) == text[1:6]
    from tfzoo.nlp.charlm.task import CharLM

    info = {"vocabulary": pipeline.vocabulary(config).tokens}
    x, y, w = CharLM().eval_map(config, info, windows[0])
    assert w.numpy().tolist() == [0, 0, 0, 1] and (x.numpy()[1:] == y.numpy()[:-1]).all()


@pytest.mark.slow
def test_the_lstm_learns_below_the_unigram_rate(tmp_path):
    from collections import Counter

    run_dir = tmp_path / "run"
    code, _, err = run_cli("train", "nlp.char-lm", "--run-dir", str(run_dir), "--set", "units=(128,128)",
                           "--set", "embedding=64", "--set", "train.steps=600", "--set", "eval_every=600")
    assert code == 0, err
    code, out, err = run_cli("evaluate", str(run_dir), "--split", "test")
    text = pipeline.stream("hsk-zh", "train")
    counts = Counter(text)
    unigram_bits = -sum(n / len(text) * math.log2(n / len(text)) for n in counts.values())
    assert json.loads(out.strip().splitlines()[-1])["bits_per_char"] < unigram_bits - 0.5


def test_evaluate_other_text_with_the_runs_vocabulary(run_dir, tmp_path):
    other = tmp_path / "other.txt"
    other.write_text("\n".join(["明月几时有，把酒问青天。"] * 40), encoding="utf-8")  # 几, 时, 有... are unknown
    code, out, err = run_cli("evaluate", str(run_dir), "--data", f"text:{other}", "--split", "test")
    assert code == 0, err
    result = json.loads(out.strip().splitlines()[-1])
    assert math.isfinite(result["bits_per_char"])
    assert "几" not in json.loads((run_dir / "info.json").read_text())["vocabulary"]
