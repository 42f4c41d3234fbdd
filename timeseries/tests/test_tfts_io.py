"""tfts data API: CSVReader / NumpyReader, the regular grid, windows and exogenous encodings."""

import numpy as np
import pytest

from tfzoo.common.errors import ConfigError, DataError
from tfzoo.timeseries.tfts import io


def write(tmp_path, text, name="series.csv"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_headerless_default_and_header_skipped(tmp_path):
    plain = io.CSVReader(write(tmp_path, "1,10\n2,11.5\n3,12\n")).read()
    np.testing.assert_array_equal(plain[io.TIMES], [1, 2, 3])
    np.testing.assert_allclose(plain[io.VALUES][:, 0], [10, 11.5, 12])
    headed = io.CSVReader(write(tmp_path, "t,y\n1,10\n2,11.5\n3,12\n", "h.csv")).read()
    np.testing.assert_array_equal(headed[io.VALUES], plain[io.VALUES])
    forced = io.CSVReader(write(tmp_path, "# comment line\n1,10\n", "c.csv"), skip_header_lines=1).read()
    assert forced[io.VALUES].shape == (1, 1)


def test_multivariate_string_exogenous_and_missing(tmp_path):
    path = write(tmp_path, "time,a,b,kind,x\n0,1,2,low,0.5\n1,,3,high,\n2,NaN,4,low,1\n")
    reader = io.CSVReader(path, column_names=(io.TIMES, io.VALUES, io.VALUES, "kind", "x"))
    data = reader.read()
    assert data[io.VALUES].shape == (3, 2)
    assert np.isnan(data[io.VALUES][1, 0]) and np.isnan(data[io.VALUES][2, 0])
    assert list(data["kind"]) == ["low", "high", "low"]
    assert data["x"].dtype == np.float64 and np.isnan(data["x"][1])
    features = (io.Categorical("kind", ("low", "high")), io.Numeric("x"))
    encoded = io.encode_exogenous(features, data, 3)
    np.testing.assert_array_equal(encoded, [[1, 0, 0.5], [0, 1, 0], [1, 0, 1]])
    arrays = io.batch_arrays(data, features)
    assert arrays[io.MASK].tolist() == [[True, True], [False, True], [False, True]]
    assert arrays[io.VALUES][1, 0] == 0.0  # masked, not NaN


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("1,10\n1,11\n", ":2: duplicate time 1"),
        ("1,10\n3,11\n2,12\n", ":3: unsorted time 2"),
        ("1,10\n2,abc\n", ":2: values 'abc' is not a number"),
        ("1,10\n2,11,5\n", ":2: 3 columns; expected 2"),
        ("1,10\n,11\n", ":2: empty times"),
        ("1,10\n2,inf\n", ":2: values 'inf' is not finite"),
    ],
)
def test_bad_rows_name_file_and_line(tmp_path, text, fragment):
    path = write(tmp_path, text)
    with pytest.raises(DataError) as err:
        io.CSVReader(path).read()
    message = str(err.value)
    assert str(path) in message and fragment in message and "\n" not in message


def test_missing_file_and_bad_column_names(tmp_path):
    with pytest.raises(DataError, match="file not found"):
        io.CSVReader(tmp_path / "nope.csv").read()
    with pytest.raises(ConfigError):
        io.CSVReader(tmp_path / "x.csv", column_names=("a", "b"))


def test_numpy_reader_and_regular_grid():
    reader = io.NumpyReader({io.TIMES: [0, 2, 6], io.VALUES: [1.0, 2.0, 3.0], "flag": [0, 1, 0]})
    whole = io.WholeSeriesInput(reader).read()
    np.testing.assert_array_equal(whole[io.TIMES], [0, 2, 4, 6])  # the gap at 4 becomes a missing row
    assert np.isnan(whole[io.VALUES][2, 0]) and np.isnan(whole["flag"][2])
    with pytest.raises(DataError, match="row 1: duplicate"):
        io.NumpyReader({io.TIMES: [0, 0], io.VALUES: [1, 2]}).read()


def test_random_windows_and_missing_exogenous_error():
    t = np.arange(20)
    reader = io.NumpyReader({io.TIMES: t, io.VALUES: np.stack([t, -t], 1).astype(float)})
    inp = io.RandomWindowInput(reader, batch_size=3, window_size=5, seed=1)
    batch = next(iter(inp.dataset()))
    assert batch[io.VALUES].shape == (3, 5, 2) and batch[io.MASK].dtype.name == "bool"
    times = batch[io.TIMES].numpy()
    np.testing.assert_array_equal(np.diff(times, axis=1), 1.0)  # contiguous
    with pytest.raises(DataError, match="exogenous feature 'promo' is missing for the 3 forecast steps"):
        io.encode_exogenous((io.Numeric("promo"),), {}, 3, source="predict", purpose="the 3 forecast steps")
