import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.diagnostics import activation_stats


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def test_statistics_match_numpy():
    model = nn.Sequential(nn.Linear(4, 6), nn.ReLU(), nn.Linear(6, 5), nn.Tanh(),
                          nn.Linear(5, 3), nn.Sigmoid())
    x = cr.randn(50, 4)
    report = activation_stats(model, x)
    assert [s.name for s in report.layers] == ["1", "3", "5"]
    assert [s.kind for s in report.layers] == ["ReLU", "Tanh", "Sigmoid"]

    w = {n: p.data.astype(np.float64) for n, p in model.named_parameters()}
    z1 = x.data @ w["0.weight"].T + w["0.bias"]
    h1 = np.maximum(z1, 0)
    z2 = h1 @ w["2.weight"].T + w["2.bias"]
    h2 = np.tanh(z2)
    h3 = _sigmoid(h2 @ w["4.weight"].T + w["4.bias"])
    relu, tanh, sigmoid = report.layers
    assert relu.mean == pytest.approx(h1.mean(), rel=1e-5)
    assert relu.std == pytest.approx(h1.std(), rel=1e-5)
    assert relu.frac_dead == pytest.approx(np.mean(np.all(z1 <= 0, axis=0)))
    assert np.isnan(relu.frac_saturated)
    assert tanh.frac_saturated == pytest.approx(np.mean(np.abs(h2) >= 1 - 1e-2))
    assert np.isnan(tanh.frac_dead)
    assert sigmoid.mean == pytest.approx(h3.mean(), rel=1e-5)
    assert report["5"] is sigmoid


def test_saturated_and_dead_extremes():
    big = nn.Linear(3, 4)
    nn.init.constant_(big.weight, 100.0)
    nn.init.zeros_(big.bias)
    x = cr.tensor(np.abs(np.random.default_rng(0).normal(size=(20, 3))) + 0.5)
    assert activation_stats(nn.Sequential(big, nn.Sigmoid()), x).layers[0].frac_saturated == 1.0

    dead = nn.Linear(3, 4)
    nn.init.zeros_(dead.weight)
    with cr.no_grad():
        dead.bias.copy_(cr.tensor([-1.0, -1.0, 1.0, -1.0]))
    stats = activation_stats(nn.Sequential(dead, nn.ReLU()), x).layers[0]
    assert stats.frac_dead == pytest.approx(0.75)


def test_hooks_removed_mode_kept_and_batch_pairs():
    model = nn.Sequential(nn.Linear(3, 4), nn.Dropout(0.5), nn.ReLU())
    model.eval()
    x, y = cr.randn(8, 3), cr.randint(0, 2, (8,))
    report = activation_stats(model, (x, y))
    assert len(report.layers) == 1
    assert not model.training
    assert all(not m._forward_hooks for m in model.modules())
    assert "dead" in report.table()


def test_custom_layer_types_and_errors(tmp_path):
    model = nn.Sequential(nn.Linear(3, 4), nn.Linear(4, 2))
    with pytest.raises(ValueError, match="found no activation module"):
        activation_stats(model, cr.randn(4, 3))
    report = activation_stats(model, np.ones((4, 3), np.float32), layers=(nn.Linear,))
    assert [s.kind for s in report.layers] == ["Linear", "Linear"]
    with pytest.raises(KeyError, match="no activation layer named"):
        report["missing"]
    path = report.plot(tmp_path / "hist.png", title="two linear layers")
    assert path.read_bytes()[:4] == b"\x89PNG"


def test_report_displays_as_html_with_its_histograms():
    import chainrule as cr
    from chainrule import nn
    from chainrule.diagnostics import activation_stats as stats

    model = nn.Sequential(nn.Linear(3, 5), nn.ReLU(), nn.Linear(5, 2), nn.Sigmoid())
    report = stats(model, cr.randn(32, 3))
    page = report._repr_html_()
    assert page.count("<tr>") == 1 + 2 and "<td>ReLU</td>" in page
    assert "data:image/png;base64," in page and report._repr_png_()[:4] == b"\x89PNG"
