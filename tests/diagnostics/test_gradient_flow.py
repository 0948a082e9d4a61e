import math

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn, optim
from chainrule.diagnostics import gradient_flow
from chainrule.diagnostics.gradient_flow import weight_layer_labels


def test_norms_and_ratios_match_numpy(mlp, backward):
    model = mlp(3)
    backward(model)
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


def test_measured_update_ratio_after_a_step(mlp, backward):
    model = mlp(3)
    optimizer = optim.SGD(model.parameters(), lr=0.5)
    backward(model)
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


def test_verdicts(mlp, backward):
    cr.manual_seed(0)
    healthy = mlp(3)
    backward(healthy)
    assert gradient_flow(healthy).verdict == "healthy"

    cr.manual_seed(0)
    deep_sigmoid = mlp(14, nn.Sigmoid, init=nn.init.xavier_normal_)
    backward(deep_sigmoid)
    report = gradient_flow(deep_sigmoid)
    assert report.verdict == "vanishing"
    assert report.first_last_ratio < 1e-3
    assert "< 0.001" in report.reason

    cr.manual_seed(0)
    large = mlp(8, nn.ReLU, width=64, init=lambda w: nn.init.normal_(w, 0.0, 1.0))
    backward(large)
    report = gradient_flow(large)
    assert report.verdict == "exploding"
    assert "> 1000" in report.reason


def test_non_finite_gradient_is_exploding(mlp, backward):
    model = mlp(3)
    backward(model)
    model[2].weight.grad.data[0, 0] = np.nan
    report = gradient_flow(model)
    assert report.verdict == "exploding"
    assert "non-finite" in report.reason


def test_thresholds_are_parameters(mlp, backward):
    model = mlp(3)
    backward(model)
    report = gradient_flow(model, explode_threshold=1e-12)
    assert report.verdict == "exploding"
    with pytest.raises(ValueError, match="vanish_ratio must be in"):
        gradient_flow(model, vanish_ratio=2.0)


def test_frozen_parameters_are_left_out(mlp, backward):
    model = mlp(3)
    model[0].requires_grad_(False)
    backward(model)
    report = gradient_flow(model)
    assert [lay.name for lay in report.layers] == ["2", "4"]


def test_without_backward_the_error_says_what_to_do(mlp):
    with pytest.raises(RuntimeError, match=r"call loss\.backward\(\)"):
        gradient_flow(mlp(3))


def test_table_and_plot(tmp_path, mlp, backward):
    model = mlp(3)
    backward(model)
    report = gradient_flow(model, lr=0.01)
    text = report.table()
    assert "grad norm" in text and "verdict: healthy" in text and "lr*|g|/|w|" in text
    assert "0.weight" in report.table(per_parameter=True)
    path = report.plot(tmp_path / "flow.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_report_displays_as_html_with_its_figure():
    import chainrule as cr
    from chainrule import nn
    from chainrule.diagnostics import gradient_flow as flow

    model = nn.Sequential(nn.Linear(4, 8), nn.Sigmoid(), nn.Linear(8, 1))
    model(cr.randn(16, 4)).pow(2).mean().backward()
    report = flow(model, lr=0.1)
    page = report._repr_html_()
    assert page.count("<tr>") == 1 + len(report.layers)
    assert f"verdict: {report.verdict}" in page and "data:image/png;base64," in page
    assert report._repr_png_()[:4] == b"\x89PNG"


def test_weight_layer_labels_count_weight_layers_from_the_input():
    model = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 8),
                          nn.ReLU(), nn.Linear(8, 2))
    model(cr.randn(16, 4)).pow(2).mean().backward()
    labels = weight_layer_labels(gradient_flow(model).layers)
    assert labels == {"0": "weight layer 1", "3": "weight layer 2", "5": "weight layer 3"}
