"""CSVLogger (chainrule/train/callbacks/csv_logger.py): a row after every epoch, the history's."""

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
