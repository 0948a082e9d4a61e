"""History: columns, CSV round trip, best epoch."""

import math

import pytest

from chainrule.train import History


def _history():
    return History([
        {"epoch": 1, "train_loss": 1.5, "val_loss": 1.2, "lr": 0.1, "time": 0.5},
        {"epoch": 2, "train_loss": 0.75, "val_loss": 0.9, "lr": 0.1, "time": 0.25},
        {"epoch": 3, "train_loss": 0.5, "val_loss": 1.0, "lr": 0.01, "time": 0.25},
    ])


def test_columns_and_dict_access():
    history = _history()
    assert history.columns == ["epoch", "train_loss", "val_loss", "lr", "time"]
    assert history["val_loss"] == [1.2, 0.9, 1.0]
    assert history.as_dict()["epoch"] == [1, 2, 3]
    assert "lr" in history and "val_accuracy" not in history
    with pytest.raises(KeyError, match="no column 'val_accuracy'"):
        history["val_accuracy"]


def test_best_epoch_by_monitor():
    history = _history()
    assert history.best("val_loss")["epoch"] == 2
    assert history.best("train_loss", mode="max")["epoch"] == 1
    history.append({"epoch": 4, "val_loss": math.nan})
    assert history.best("val_loss")["epoch"] == 2


def test_csv_round_trip_keeps_values_exactly(tmp_path):
    history = _history()
    history.append({"epoch": 4, "train_loss": 1 / 3})  # a missing column stays empty
    history.to_csv(tmp_path / "h.csv")
    back = History.from_csv(tmp_path / "h.csv")
    assert back.rows[:3] == history.rows[:3]
    assert back.rows[3]["train_loss"] == 1 / 3 and back.rows[3]["val_loss"] is None
    lines = (tmp_path / "h.csv").read_text().splitlines()
    assert lines[0] == "epoch,train_loss,val_loss,lr,time" and len(lines) == 5


def test_displays_itself_in_a_notebook():
    history = _history()
    png = history._repr_png_()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    page = history._repr_html_()
    assert "3 epochs" in page and "data:image/png;base64," in page
    assert page.count("<tr>") == 1 + len(history)  # header + one row per epoch
    assert "<th>val_loss</th>" in page and "<td>0.9</td>" in page
    axes = history.figure().axes
    assert [a.get_ylabel() for a in axes] == ["loss"]  # lr and time are not curves
    assert {line.get_label() for line in axes[0].lines} == {"train_loss", "val_loss"}
    assert History()._repr_png_() is None
