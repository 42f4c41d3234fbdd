"""read_metrics: the one reader of metrics.jsonl (MetricsLog.read, plots.curves, the tasks' figures)."""

import json
import warnings

import pytest

from tfzoo.common.errors import DataError
from tfzoo.common.logging import MetricsLog, read_metrics


def _log(tmp_path):
    log = MetricsLog(tmp_path / "metrics.jsonl")
    for step in (1, 2):
        log.write(step=step, split="train", values={"loss": 1.0 / step})
    log.write(step=2, split="val", values={"loss": 0.7}, stage="all")
    return log


def test_round_trip_split_filter_and_blank_lines(tmp_path):
    log = _log(tmp_path)
    with log.path.open("a") as f:
        f.write("\n   \n")  # blank lines are skipped wherever they are
    records = read_metrics(log.path)
    assert [(r["step"], r["split"]) for r in records] == [(1, "train"), (2, "train"), (2, "val")]
    assert log.read() == records
    assert [r["loss"] for r in read_metrics(log.path, split="train")] == [1.0, 0.5]
    assert [r["stage"] for r in read_metrics(log.path, split="val")] == ["all"]
    assert read_metrics(log.path, split="test") == []
    assert read_metrics(tmp_path / "missing.jsonl") == []  # a run that has logged nothing yet


def test_a_cut_off_last_line_is_dropped_with_one_warning(tmp_path):
    log = _log(tmp_path)
    with log.path.open("a") as f:
        f.write(json.dumps({"step": 3, "split": "train", "loss": 0.3})[:17])  # killed mid-write: no newline
    with pytest.warns(RuntimeWarning, match=r"metrics.jsonl:4: ignoring a cut-off last line") as caught:
        records = read_metrics(log.path, split="train")
    assert len(caught) == 1
    assert [r["step"] for r in records] == [1, 2]
    # A whole last line without its newline is a record like any other.
    log.path.write_text(log.path.read_text().rsplit("\n", 1)[0] + "\n" + json.dumps({"step": 3, "split": "train"}))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert [r["step"] for r in read_metrics(log.path, split="train")] == [1, 2, 3]


def test_a_bad_line_that_is_not_the_cut_off_end_is_an_error(tmp_path):
    path = tmp_path / "metrics.jsonl"
    path.write_text('{"step": 1, "loss": 1.0}\nnot json\n{"step": 2, "loss": 0.5}\n')
    with pytest.raises(DataError, match=r"metrics.jsonl:2: found 'not json'"):
        read_metrics(path)
    path.write_text('{"step": 1}\n{"loss": 0.5}\n')  # complete (newline-ended) but without a step
    with pytest.raises(DataError, match=r"metrics.jsonl:2: .*expected a JSON object with 'step'"):
        read_metrics(path)
