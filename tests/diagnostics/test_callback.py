"""The GradientFlow callback (chainrule/diagnostics/callback.py): records every few steps in a
hand-written loop and in fit, then tabulates and plots; its errors."""

import numpy as np
import pytest

from chainrule import nn, optim
from chainrule.diagnostics import GradientFlow, callback


def test_gradient_flow_callback_in_a_loop(tmp_path, mlp, backward):
    model = mlp(4)
    optimizer = optim.SGD(model.parameters(), lr=0.1)
    flow = GradientFlow(model, every=2)
    for _ in range(6):
        optimizer.zero_grad()
        backward(model)
        flow.on_after_backward()
        optimizer.step()
    assert flow.steps == [1, 3, 5]
    assert flow.grad_norms.shape == (3, 4)
    assert np.isnan(flow.update_ratios[0]).all() and np.isfinite(flow.update_ratios[1:]).all()
    assert flow.verdicts == ["healthy"] * 3
    assert "first grad norm" in flow.table()
    assert flow.plot(tmp_path / "heat.png").exists()


def test_gradient_flow_callback_with_fit(tmp_path, mlp):
    train = pytest.importorskip("chainrule.train")
    from chainrule.data import DataLoader, TensorDataset

    x = np.random.default_rng(0).normal(size=(64, 8)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int64)
    model = mlp(3)
    flow = GradientFlow(path=tmp_path / "flow.png")
    train.fit(model, "cross_entropy", optim.SGD(model.parameters(), lr=0.1),
              DataLoader(TensorDataset(x, y), 16), epochs=2, callbacks=[flow])
    assert len(flow.steps) == 8
    assert (tmp_path / "flow.png").exists()
    assert isinstance(flow, train.Callback)


def test_gradient_flow_callback_errors():
    with pytest.raises(ValueError, match="every must be at least 1"):
        GradientFlow(every=0)
    with pytest.raises(RuntimeError, match=r"GradientFlow\(model=\.\.\.\)"):
        GradientFlow().on_after_backward(object())
    with pytest.raises(RuntimeError, match="no record yet"):
        GradientFlow().plot("x.png")


def test_heat_map_rows_are_the_weight_layers_counted_from_the_input(tmp_path, backward,
                                                                     monkeypatch):
    model = nn.Sequential(nn.Linear(8, 16), nn.BatchNorm1d(16), nn.Tanh(), nn.Linear(16, 16),
                          nn.BatchNorm1d(16), nn.Tanh(), nn.Linear(16, 3))
    flow = GradientFlow(model)
    for _ in range(2):
        model.zero_grad()
        backward(model)
        flow.on_after_backward()
    drawn = {}

    def spy(matrix, path, row_labels, col_values, **options):
        drawn.update(matrix=matrix, rows=list(row_labels))
        return path

    monkeypatch.setattr(callback, "plot_heatmap", spy)
    flow.plot(tmp_path / "heat.png")
    assert drawn["rows"] == ["weight layer 1", "weight layer 2", "weight layer 3"]
    weight_columns = [flow.layers.index(name) for name in ("0", "3", "6")]
    np.testing.assert_array_equal(drawn["matrix"], flow.grad_norms[:, weight_columns].T)
