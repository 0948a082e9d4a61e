import numpy as np
import pytest

from chainrule.diagnostics import plots

PNG = b"\x89PNG\r\n\x1a\n"


def test_derivatives_come_from_autograd():
    x = np.linspace(-4, 4, 81)
    functions = plots.activation_functions()
    y, dy = plots._value_and_derivative(functions["Sigmoid"], x)
    s = 1 / (1 + np.exp(-x))
    np.testing.assert_allclose(y, s, rtol=1e-12)
    np.testing.assert_allclose(dy, s * (1 - s), rtol=1e-12)
    _, dy = plots._value_and_derivative(functions["LeakyReLU(0.1)"], x[x != 0])
    np.testing.assert_allclose(dy, np.where(x[x != 0] > 0, 1.0, 0.1))
    _, dy = plots._value_and_derivative(functions["Tanh"], x)
    np.testing.assert_allclose(dy, 1 - np.tanh(x) ** 2, rtol=1e-12)


def test_loss_functions_against_closed_forms():
    e = np.linspace(0.0, 0.9, 10)
    losses = plots.loss_functions()
    loss, slope = plots._value_and_derivative(losses["cross-entropy (-log(1-e))"], e)
    np.testing.assert_allclose(loss, -np.log(1 - e), rtol=1e-12)
    np.testing.assert_allclose(slope, 1 / (1 - e), rtol=1e-12)
    _, slope = plots._value_and_derivative(losses["MSE (e²)"], e)
    np.testing.assert_allclose(slope, 2 * e)


def test_saturation_ranges():
    x = np.linspace(-6, 6, 1201)
    y, _ = plots._value_and_derivative(plots.activation_functions()["Tanh"], x)
    ((left, right),) = plots._saturated_ranges("Tanh", x, y)
    assert right == pytest.approx(np.arctanh(0.99), abs=0.01)
    assert left == pytest.approx(-np.arctanh(0.99), abs=0.01)
    assert plots._saturated_ranges("ReLU", x, y) == []


def test_figures_are_written(tmp_path):
    assert plots.plot_activations(tmp_path / "a.png").read_bytes()[:8] == PNG
    assert plots.plot_activations(tmp_path / "b.png", names=["ReLU", "Tanh"]).exists()
    assert plots.plot_losses(tmp_path / "l.png").read_bytes()[:8] == PNG
    curves = plots.plot_curves(tmp_path / "c" / "curves.png", [
        dict(series={"a": [1, 2, 3], "b": ([1, 2], [3, 1])}, title="t", xlabel="x",
             ylabel="y", logy=True, vlines=[(2, "here")]),
        dict(series={"c": ([1, 10], [0.5, 0.7])}, logx=True, xticks=[1, 10], ylim=(0, 1)),
    ])
    assert curves.read_bytes()[:8] == PNG
    heat = plots.plot_heatmap(np.array([[1.0, 0.1], [1e-3, 0.0]]), tmp_path / "h.png",
                              ["first", "second"], [1, 2], title="heat")
    assert heat.read_bytes()[:8] == PNG


def test_unknown_activation_is_an_error(tmp_path):
    with pytest.raises(ValueError, match="unknown activation"):
        plots.plot_activations(tmp_path / "a.png", names=["Swish"])
