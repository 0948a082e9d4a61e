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


def _crossing_series():
    """Lines that fill every corner of the axes, so no corner is free for a legend."""
    x = np.linspace(0, 1, 50)
    return {"rising": (x, x), "falling": (x, 1 - x), "top": (x, np.full_like(x, 0.98)),
            "bottom": (x, np.full_like(x, 0.02)), "middle": (x, np.full_like(x, 0.5))}


@pytest.mark.parametrize("series", [
    _crossing_series(),
    {"a": ([1, 2, 3, 4], [1.0, 0.9, 0.2, 0.1]), "b": ([1, 2, 3, 4], [0.1, 0.2, 0.9, 1.0])},
])
def test_legends_cover_no_data_point(series):
    fig = plots.curves_figure([dict(series=series, title="t"), dict(series=series)])
    fig.draw_without_rendering()
    for axis in fig.axes:
        legend = axis.get_legend()
        box = legend.get_window_extent()
        for line in axis.get_lines():
            points = line.get_transform().transform(line.get_xydata())
            inside = ((points[:, 0] >= box.x0) & (points[:, 0] <= box.x1)
                      & (points[:, 1] >= box.y0) & (points[:, 1] <= box.y1))
            assert not inside.any(), (line.get_label(), points[inside])
        assert not plots.legend_covers_data(axis, legend)


def test_legend_covers_data_sees_a_covered_point():
    fig, axis = plots.new_figure()
    axis.plot([0, 1], [1, 1], label="under the legend")
    axis.plot([0, 1], [0, 0.5], label="other")
    legend = axis.legend(loc="upper left")
    fig.draw_without_rendering()
    assert plots.legend_covers_data(axis, legend)


def test_epoch_axes_have_integer_major_ticks():
    fig = plots.curves_figure([dict(series={"loss": [3.0, 2.0, 1.5]}, xlabel="epoch")])
    fig.draw_without_rendering()
    ticks = [t for t in fig.axes[0].get_xticks()
             if fig.axes[0].get_xlim()[0] <= t <= fig.axes[0].get_xlim()[1]]
    assert ticks and all(float(t).is_integer() for t in ticks)


def test_heatmap_names_the_first_and_last_row(tmp_path, monkeypatch):
    labels = [f"weight layer {k}" for k in range(1, 31)]
    seen = {}
    save = plots.save_figure

    def keep(fig, path, dpi=110):
        seen["fig"] = fig
        return save(fig, path, dpi)

    monkeypatch.setattr(plots, "save_figure", keep)
    plots.plot_heatmap(np.ones((30, 5)), tmp_path / "h.png", labels, [1, 2, 3, 4, 5], "t")
    shown = [t.get_text() for t in seen["fig"].axes[0].get_yticklabels()]
    assert shown[0] == "weight layer 1" and shown[-1] == "weight layer 30"
    assert len(shown) <= 16 and set(shown) <= set(labels)
