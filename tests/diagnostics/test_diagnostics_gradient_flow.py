import math

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn, optim
from chainrule.diagnostics import GradientFlow, gradient_flow


def _mlp(depth: int, activation=nn.Tanh, width: int = 16, init=None):
    layers = [nn.Linear(8, width), activation()]
    for _ in range(depth - 2):
        layers += [nn.Linear(width, width), activation()]
    layers.append(nn.Linear(width, 3))
    model = nn.Sequential(*layers)
    if init is not None:
        for module in model.modules():
            if isinstance(module, nn.Linear):
                init(module.weight)
    return model


def _backward(model, n: int = 32):
    x = cr.randn(n, 8)
    y = cr.randint(0, 3, (n,))
    nn.functional.cross_entropy(model(x), y).backward()


def test_norms_and_ratios_match_numpy():
    model = _mlp(3)
    _backward(model)
    report = gradient_flow(model, lr=0.1)
    params = dict(model.named_parameters())
    for row in report.parameters:
        grad, weight = params[row.name].grad.data, params[row.name].data
        assert row.grad_norm == pytest.approx(np.linalg.norm(grad), rel=1e-6)
        assert row.grad_mean_abs == pytest.approx(np.abs(grad).mean(), rel=1e-6)
        assert row.weight_norm == pytest.approx(np.linalg.norm(weight), rel=1e-6)
        assert row.update_ratio == pytest.approx(0.1 * np.linalg.norm(grad)
                                                 / np.linalg.norm(weight), rel=1e-6)
    layer = report.layers[0]
    assert layer.name == "0"
    expected = math.sqrt(np.sum(params["0.weight"].grad.data.astype(np.float64) ** 2)
                         + np.sum(params["0.bias"].grad.data.astype(np.float64) ** 2))
    assert layer.grad_norm == pytest.approx(expected, rel=1e-6)
    assert layer.num_parameters == params["0.weight"].data.size + params["0.bias"].data.size
    assert [lay.name for lay in report.layers] == ["0", "2", "4"]
    assert report.ratio_source == "lr"


def test_measured_update_ratio_after_a_step():
    model = _mlp(3)
    optimizer = optim.SGD(model.parameters(), lr=0.5)
    _backward(model)
    before = gradient_flow(model)
    assert math.isnan(before.parameters[0].update_ratio)
    old = {n: p.data.copy() for n, p in model.named_parameters()}
    optimizer.step()
    after = gradient_flow(model, previous=before)
    assert after.ratio_source == "measured"
    for row in after.parameters:
        new = dict(model.named_parameters())[row.name].data
        expected = np.linalg.norm(new - old[row.name]) / np.linalg.norm(old[row.name])
        assert row.update_ratio == pytest.approx(expected, rel=1e-5)
    first = after.layers[0]
    moved = math.sqrt(sum(np.sum((dict(model.named_parameters())[n].data - old[n]) ** 2)
                          for n in ("0.weight", "0.bias")))
    size = math.sqrt(sum(np.sum(old[n] ** 2) for n in ("0.weight", "0.bias")))
    assert first.update_ratio == pytest.approx(moved / size, rel=1e-5)


def test_verdicts():
    cr.manual_seed(0)
    healthy = _mlp(3)
    _backward(healthy)
    assert gradient_flow(healthy).verdict == "healthy"

    cr.manual_seed(0)
    deep_sigmoid = _mlp(14, nn.Sigmoid, init=nn.init.xavier_normal_)
    _backward(deep_sigmoid)
    report = gradient_flow(deep_sigmoid)
    assert report.verdict == "vanishing"
    assert report.first_last_ratio < 1e-3
    assert "< 0.001" in report.reason

    cr.manual_seed(0)
    large = _mlp(8, nn.ReLU, width=64, init=lambda w: nn.init.normal_(w, 0.0, 1.0))
    _backward(large)
    report = gradient_flow(large)
    assert report.verdict == "exploding"
    assert "> 1000" in report.reason


def test_non_finite_gradient_is_exploding():
    model = _mlp(3)
    _backward(model)
    model[2].weight.grad.data[0, 0] = np.nan
    report = gradient_flow(model)
    assert report.verdict == "exploding"
    assert "non-finite" in report.reason


def test_thresholds_are_parameters():
    model = _mlp(3)
    _backward(model)
    report = gradient_flow(model, explode_threshold=1e-12)
    assert report.verdict == "exploding"
    with pytest.raises(ValueError, match="vanish_ratio must be in"):
        gradient_flow(model, vanish_ratio=2.0)


def test_frozen_parameters_are_left_out():
    model = _mlp(3)
    model[0].requires_grad_(False)
    _backward(model)
    report = gradient_flow(model)
    assert [lay.name for lay in report.layers] == ["2", "4"]


def test_without_backward_the_error_says_what_to_do():
    with pytest.raises(RuntimeError, match=r"call loss\.backward\(\)"):
        gradient_flow(_mlp(3))


def test_table_and_plot(tmp_path):
    model = _mlp(3)
    _backward(model)
    report = gradient_flow(model, lr=0.01)
    text = report.table()
    assert "grad norm" in text and "verdict: healthy" in text and "lr*|g|/|w|" in text
    assert "0.weight" in report.table(per_parameter=True)
    path = report.plot(tmp_path / "flow.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_gradient_flow_callback_in_a_loop(tmp_path):
    model = _mlp(4)
    optimizer = optim.SGD(model.parameters(), lr=0.1)
    flow = GradientFlow(model, every=2)
    for _ in range(6):
        optimizer.zero_grad()
        _backward(model)
        flow.on_after_backward()
        optimizer.step()
    assert flow.steps == [1, 3, 5]
    assert flow.grad_norms.shape == (3, 4)
    assert np.isnan(flow.update_ratios[0]).all() and np.isfinite(flow.update_ratios[1:]).all()
    assert flow.verdicts == ["healthy"] * 3
    assert "first grad norm" in flow.table()
    assert flow.plot(tmp_path / "heat.png").exists()


def test_gradient_flow_callback_with_fit(tmp_path):
    train = pytest.importorskip("chainrule.train")
    from chainrule.data import DataLoader, TensorDataset

    x = np.random.default_rng(0).normal(size=(64, 8)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int64)
    model = _mlp(3)
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
