"""CSV files (chainrule/data/datasets/tabular.py): from_csv with text labels, regression and
integer classes; bad rows name the file, line and value."""

import numpy as np
import pytest

from chainrule.data import DataError, datasets


def _csv(tmp_path, text, name="data.csv"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_from_csv_text_labels_by_name(tmp_path):
    rows = [(1.0, 2.5, "cat"), (0.5, -1.0, "dog"), (3.0, 4.0, "cat"), (2.0, 0.0, "bird")] * 5
    text = "a,species,b\n" + "".join(f"{a},{s},{b}\n\n" for a, b, s in rows)
    train, test = datasets.from_csv(_csv(tmp_path, text), target="species", test_fraction=0.25)
    assert train.classes == ["bird", "cat", "dog"] and train.num_classes == 3
    x = np.concatenate([train.arrays[0], test.arrays[0]])
    y = np.concatenate([train.arrays[1], test.arrays[1]])
    assert x.dtype == np.float32 and y.dtype == np.int64 and len(x) == 20
    expected = {(a, b): ["bird", "cat", "dog"].index(s) for a, b, s in rows}
    for features, label in zip(x, y):
        assert expected[tuple(features.tolist())] == label


def test_from_csv_regression_and_integer_classes(tmp_path):
    path = _csv(tmp_path, "x,y\n" + "".join(f"{k},{k * 0.5 + 0.25}\n" for k in range(10)))
    train, test = datasets.from_csv(path, target=-1, test_fraction=0.0)
    assert train.num_classes is None and train.arrays[1].shape == (10, 1)
    np.testing.assert_allclose(train.arrays[1][:, 0], train.arrays[0][:, 0] * 0.5 + 0.25)
    assert len(test) == 0
    path = _csv(tmp_path, "f,label\n" + "".join(f"{k},{k % 3}\n" for k in range(9)), "c.csv")
    train, _ = datasets.from_csv(path, target="label", test_fraction=0.0)
    assert train.num_classes == 3 and train.arrays[1].dtype == np.int64
    train, _ = datasets.from_csv(path, target=0, header=True, task="regression", test_fraction=0)
    assert train.arrays[1].dtype == np.float32


@pytest.mark.parametrize("text, pattern", [
    ("a,b,y\n1,2,0\n3,oops,1\n", r"data.csv, line 3, column 'b'.*'oops'"),
    ("a,b,y\n1,2,0\n1,,1\n", r"line 3, column 'b'.*empty"),
    ("a,b,y\n1,2,0\n\n1,2\n", r"line 4: expected 3 fields.*found 2"),
    ("a,b,y\n1,nan,0\n", r"line 2.*not a finite"),
    ("a,b,y\n1,2,0\n1,2,2.5\n", r"line 3, column 'y'.*whole.*'2.5'"),
    ("a,b,y\n1,2,0\n1,2,-1\n", r"line 3, column 'y'.*whole.*'-1'"),
    ("a,b,y\n", "no data rows"),
])
def test_from_csv_bad_rows_name_file_line_and_value(tmp_path, text, pattern):
    path = _csv(tmp_path, text)
    task = "classification" if "whole" in pattern else "auto"
    with pytest.raises(DataError, match=pattern):
        datasets.from_csv(path, target="y", task=task)


def test_from_csv_bad_target_and_missing_file(tmp_path):
    path = _csv(tmp_path, "a,b\n1,2\n")
    with pytest.raises(DataError, match="no column named 'z'.*'a', 'b'"):
        datasets.from_csv(path, target="z")
    with pytest.raises(DataError, match="no such file"):
        datasets.from_csv(tmp_path / "missing.csv")
    path = _csv(tmp_path, "a,b\n1,x\n", "r.csv")
    with pytest.raises(DataError, match="line 2.*'x'"):
        datasets.from_csv(path, task="regression")
