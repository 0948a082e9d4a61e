"""Pooling layers (chainrule/nn/pooling.py): they call the ops, have no parameters and print
like PyTorch's."""

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.nn.functional import (
    adaptive_avg_pool2d, avg_pool1d, avg_pool2d, max_pool1d, max_pool2d,
)


def test_pool_layers_call_the_ops_and_repr_like_torch():
    x = cr.randn(2, 3, 9, 9)
    layers = [
        (nn.MaxPool2d(3, 2, 1), lambda t: max_pool2d(t, 3, 2, 1),
         "MaxPool2d(kernel_size=3, stride=2, padding=1, dilation=1, ceil_mode=False)"),
        (nn.AvgPool2d(2), lambda t: avg_pool2d(t, 2),
         "AvgPool2d(kernel_size=2, stride=2, padding=0)"),
        (nn.AdaptiveAvgPool2d((2, 3)), lambda t: adaptive_avg_pool2d(t, (2, 3)),
         "AdaptiveAvgPool2d(output_size=(2, 3))"),
    ]
    for layer, op, text in layers:
        np.testing.assert_array_equal(layer(x).data, op(x).data)
        assert repr(layer) == text
        assert list(layer.parameters()) == []
    x1 = cr.randn(2, 3, 10)
    np.testing.assert_array_equal(nn.MaxPool1d(2)(x1).data, max_pool1d(x1, 2).data)
    np.testing.assert_array_equal(nn.AvgPool1d(3, 2)(x1).data, avg_pool1d(x1, 3, 2).data)
    np.testing.assert_array_equal(nn.AdaptiveAvgPool1d(1)(x1).data, x1.mean(-1, keepdim=True).data)
    assert repr(nn.AvgPool1d(3)) == "AvgPool1d(kernel_size=(3,), stride=(3,), padding=(0,))"


def test_pool_layer_reprs_equal_torch():
    torch = pytest.importorskip("torch")
    pairs = [(nn.MaxPool2d(2), torch.nn.MaxPool2d(2)), (nn.AvgPool2d(3, 1, 1),
                                                         torch.nn.AvgPool2d(3, 1, 1)),
             (nn.MaxPool1d(3), torch.nn.MaxPool1d(3)), (nn.AvgPool1d(3), torch.nn.AvgPool1d(3)),
             (nn.AdaptiveAvgPool2d((1, None)), torch.nn.AdaptiveAvgPool2d((1, None)))]
    for ours, theirs in pairs:
        assert repr(ours) == repr(theirs)


