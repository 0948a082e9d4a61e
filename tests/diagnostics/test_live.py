"""LivePlot (chainrule/diagnostics/live.py): redraws the curves after each epoch, and needs no
display outside a notebook."""

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn, optim
from chainrule.data import DataLoader, TensorDataset
from chainrule.diagnostics import LivePlot, live
from chainrule.train import fit


def test_outside_a_notebook_it_only_saves(tmp_path):
    cr.manual_seed(0)
    x = cr.randn(32, 3)
    y = cr.tensor(np.asarray(x.data) @ np.array([[1.0], [-2.0], [0.5]], dtype=np.float32))
    model = nn.Linear(3, 1)
    loader = DataLoader(TensorDataset(x, y), batch_size=8)
    plot = LivePlot(every=2, path=tmp_path / "curves.png")
    assert not live.in_notebook()
    history = fit(model, "mse", optim.SGD(model.parameters(), lr=0.05), loader, epochs=3,
                  callbacks=[plot], metrics=())
    assert len(history) == 3
    assert plot.draws == 2  # epoch 2, then the last epoch (3) at the end of training
    assert plot.handle is None
    assert (tmp_path / "curves.png").read_bytes()[:4] == b"\x89PNG"
    with pytest.raises(ValueError, match="positive"):
        LivePlot(every=0)
