"""Progress output (chainrule/train/callbacks/progress.py): the progress bar and the epoch table,
quiet when not on a terminal."""

import io

from chainrule import optim
from chainrule.train import EpochTable, ProgressBar, fit


def test_progress_bar_and_table_output(loaders, net):
    train, val = loaders
    bar_stream, table_stream, quiet_stream = io.StringIO(), io.StringIO(), io.StringIO()
    model = net()
    fit(model, "cross_entropy", optim.SGD(model.parameters(), lr=0.1), train, val, epochs=3,
        callbacks=[ProgressBar(file=bar_stream, disable=False, batches=True),
                   EpochTable(file=table_stream), ProgressBar(file=quiet_stream)])
    bar = bar_stream.getvalue()
    assert "3/3" in bar and "val_acc=" in bar and "lr=0.1" in bar
    lines = table_stream.getvalue().splitlines()
    assert lines[0].split() == ["epoch", "loss", "acc", "val_loss", "val_acc", "lr", "time"]
    assert [line.split()[0] for line in lines[1:]] == ["1", "2", "3"]
    assert quiet_stream.getvalue() == ""  # not a terminal: the bar stays quiet
