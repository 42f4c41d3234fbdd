"""nlp.names beyond conformance: encoding, sampling from a prefix, novelty and validity, bos=false."""

import json

import pytest

from tfzoo.common.run import Run
from tfzoo.common.testing import run_cli
from tfzoo.nlp.names import data as pipeline
from tfzoo.nlp.names.task import Names, is_valid, rates


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("names") / "run"
    code, _, err = run_cli("train", "nlp.names", "--tiny", "--run-dir", str(run_dir))
    assert code == 0, err
    return run_dir


def test_vocabulary_and_targets():
    vocab = pipeline.vocabulary()
    assert len(vocab) == 98 and vocab.tokens[0] == "_PAD" and vocab.tokens[96] == "_UNK"
    assert vocab.ids["A"] == ord("A") - 31
    x, y, w = pipeline.encode("ANNA", bos=False)
    assert vocab.decode(x.numpy()) == list("ANNA") and y.numpy().tolist()[-1] == 0
    assert vocab.decode(y.numpy(), strip=False) == [*"NNA", "_PAD"]
    x, y, _ = pipeline.encode("Anna", bos=True)
    assert x.numpy()[0] == vocab.ids["_GO"] and vocab.decode(y.numpy(), strip=False) == [*"Anna", "_PAD"]


def test_rates():
    assert is_valid("Anna") and not is_valid("A") and not is_valid("Anna-Lee") and not is_valid("A" * 13)
    assert rates(["Anna", "Zzq", "x1"], {"Anna"}) == {"novelty": 2 / 3, "validity": 2 / 3}


def test_predict_from_prefixes_with_count_and_temperature(run_dir):
    code, out, err = run_cli("predict", str(run_dir), "Al", "ma", "--set", "n=5", "--set", "temperature=0.7")
    assert code == 0, err
    first, second = (json.loads(line) for line in out.strip().splitlines())
    assert len(first["names"]) == 5 and all(n.startswith("Al") for n in first["names"])
    assert all(n.startswith("Ma") for n in second["names"])
    assert 0 <= first["novelty"] <= 1 and 0 <= first["validity"] <= 1
    code, out, err = run_cli("predict", str(run_dir), "--set", "method=beam", "--set", "beam=3", "--set", "n=3")
    assert code == 0, err
    assert len(json.loads(out)["names"]) == 3
    code, _, err = run_cli("predict", str(run_dir), "Zoë")
    assert code == 2 and err.strip() == "error: prefix 'Zoë': found 'ë', expected printable ASCII letters"


def test_evaluate_reports_perplexity_novelty_validity(run_dir):
    code, out, err = run_cli("evaluate", str(run_dir), "--split", "test")
    assert code == 0, err
    result = json.loads(out.strip().splitlines()[-1])
    assert 1 < result["perplexity"] < 200 and {"novelty", "validity"} <= set(result)
    assert len(result["examples"]) == 10


def test_without_bos_the_first_letter_comes_from_the_data(tmp_path):
    run_dir = tmp_path / "run"
    code, _, err = run_cli("train", "nlp.names", "--tiny", "--run-dir", str(run_dir), "--set", "bos=false",
                           "--set", "train.steps=1", "--set", "data=names:male")
    assert code == 0, err
    run = Run.open(run_dir)
    names = Names().sample(run, 30, seed=1)
    assert {n[0] for n in names} <= set(run.info["first_letters"])


@pytest.mark.slow
def test_names_are_new_and_valid(tmp_path):
    run_dir = tmp_path / "run"
    code, _, err = run_cli("train", "nlp.names", "--run-dir", str(run_dir), "--set", "units=256",
                           "--set", "train.steps=1500", "--set", "eval_every=1500")
    assert code == 0, err
    code, out, err = run_cli("evaluate", str(run_dir), "--split", "test")
    result = json.loads(out.strip().splitlines()[-1])
    assert result["novelty"] >= 0.30 and result["validity"] >= 0.95, result


def test_interactive_prefixes_from_stdin(run_dir, monkeypatch):
    import io
    import sys

    monkeypatch.setattr(sys, "stdin", io.StringIO("Al\n:temp 0.5\nbe\n:beam 2\nJo\nZë\n"))
    code, out, err = run_cli("predict", str(run_dir), "-", "--set", "n=3")
    assert code == 0, err
    lines = out.splitlines()
    assert json.loads(lines[-1]) == {"interactive": True, "replies": 4}
    assert len(lines[0].split(", ")) == 3 and all(n.startswith("Al") for n in lines[0].split(", "))
    assert all(n.startswith("Be") for n in lines[1].split(", "))
    assert len(lines[2].split(", ")) == 2  # a beam of 2 gives its 2 best
    assert "notice: unknown ë (read as _UNK)" in err
