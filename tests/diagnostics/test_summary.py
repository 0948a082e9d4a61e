"""chainrule.summary (chainrule/diagnostics/summary.py): layers, output shapes, parameter counts
(trainable and frozen) and activation memory, as text and as HTML."""

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.diagnostics.summary import ModelSummary, summary


def _model():
    return nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(),
                         nn.Sequential(nn.Linear(4 * 6 * 6, 10), nn.Dropout(0.5)))


def test_shapes_counts_and_memory():
    model = _model()
    model[0].weight.requires_grad = False
    report = cr.summary(model, (2, 1, 8, 8))
    assert isinstance(report, ModelSummary) and cr.summary is summary
    by_name = {layer.name: layer for layer in report.layers}
    assert by_name["0"].output_shape == (2, 4, 6, 6)
    assert by_name["3"].output_shape == (2, 144)
    assert by_name["4.0"].output_shape == (2, 10) and by_name["4.0"].depth == 2
    assert by_name["0"].params == 4 * 9 + 4 and by_name["0"].trainable == 4
    expected_total = sum(int(np.prod(p.shape)) for p in model.parameters())
    assert report.total_params == expected_total
    assert report.frozen_params == 4 * 9
    assert report.trainable_params == expected_total - 36
    # forward activations: the outputs of the leaf modules, float32
    # conv, batch norm and relu (2×4×6×6 each), flatten (2×144), linear and dropout (2×10 each)
    leaf_elements = 3 * 2 * 4 * 6 * 6 + 2 * 144 + 2 * 2 * 10
    assert report.activation_bytes == 4 * leaf_elements
    assert report.param_bytes == 4 * expected_total


def test_text_and_html():
    model = _model()
    report = summary(model, (3, 1, 8, 8))
    text = str(report)
    assert "Conv2d" in text and "[3, 4, 6, 6]" in text and "Total params" in text
    assert f"{report.total_params:,}" in text
    html = report._repr_html_()
    assert html.startswith("<div>") and "<table>" in html and "Forward activations" in html
    assert "BatchNorm2d" in html


def test_depth_and_mode_are_kept():
    model = _model()
    model.train()
    report = summary(model, (2, 1, 8, 8), depth=1)
    assert [layer.name for layer in report.layers] == ["0", "1", "2", "3", "4"]
    assert report.layers[-1].params == 144 * 10 + 10  # counts its hidden children
    assert model.training and model[1].training
    # eval() during the pass: batch-norm running statistics stay untouched
    np.testing.assert_array_equal(model[1].running_mean.data, np.zeros(4, dtype=np.float32))


def test_bad_input_size():
    with pytest.raises(ValueError, match="batch dimension"):
        summary(_model(), (0, 1, 8, 8))
    given = cr.randn(5, 4, dtype=cr.float64)
    report = summary(nn.Sequential(nn.Linear(4, 3, dtype=cr.float64)), given)
    assert report.input_shape == (5, 4) and report.param_bytes == 8 * 15
