"""CSVLogger (chainrule/train/callbacks/csv_logger.py): a row after every epoch, the history's."""

import os
import stat

from chainrule import optim
from chainrule.train import CSVLogger, History, LambdaCallback, fit


def test_csv_logger_writes_every_epoch(tmp_path, loaders, net):
    train, val = loaders
    model = net()
    rows = []
    logger = CSVLogger(tmp_path / "log" / "history.csv")
    spy = LambdaCallback(on_epoch_end=lambda s: rows.append(
        len(History.from_csv(logger.path))))
    spy.order = 10
    history = fit(model, "cross_entropy", optim.SGD(model.parameters(), lr=0.1), train, val,
                  epochs=3, callbacks=[logger, spy])
    assert rows == [1, 2, 3]
    assert History.from_csv(logger.path).rows == history.rows


def test_csv_logger_file_has_the_permissions_of_a_plain_new_file(tmp_path, loaders, net):
    train, val = loaders
    model = net()
    logger = CSVLogger(tmp_path / "history.csv")
    modes = []
    spy = LambdaCallback(on_epoch_end=lambda s: modes.append(
        stat.S_IMODE(os.stat(logger.path).st_mode)))
    spy.order = 10
    fit(model, "cross_entropy", optim.SGD(model.parameters(), lr=0.1), train, val, epochs=2,
        callbacks=[logger, spy])
    plain = tmp_path / "plain.txt"
    plain.write_text("x")
    expected = stat.S_IMODE(os.stat(plain).st_mode)
    assert modes == [expected, expected]  # during training too, not only at the end
