"""Containers and shape modules (chainrule/nn/container.py): Sequential (indexing, slicing,
growth, names), ModuleList, ModuleDict, Identity, Flatten, Unflatten."""

from __future__ import annotations

from collections import OrderedDict

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn


def test_sequential_indexing_slicing_and_growth():
    a, b, c = nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1)
    model = nn.Sequential(a, b)
    model.append(c)
    assert len(model) == 3 and list(model) == [a, b, c]
    assert model[0] is a and model[-1] is c
    head = model[1:]
    assert isinstance(head, nn.Sequential) and list(head) == [b, c]
    x = cr.randn(4, 2)
    np.testing.assert_allclose(model(x).data, c(b(a(x))).data)
    with pytest.raises(IndexError, match="out of range"):
        model[3]
    del model[1]
    assert [n for n, _ in model.named_children()] == ["0", "1"]
    named = nn.Sequential(OrderedDict([("fc", nn.Linear(2, 2)), ("act", nn.ReLU())]))
    assert [n for n, _ in named.named_parameters()] == ["fc.weight", "fc.bias"]


def test_module_list_and_dict():
    layers = nn.ModuleList([nn.Linear(1, 1)])
    layers.append(nn.Linear(1, 2))
    layers.extend([nn.ReLU()])
    assert len(layers) == 3 and isinstance(layers[1], nn.Linear)
    assert [n for n, _ in layers.named_parameters()] == ["0.weight", "0.bias", "1.weight",
                                                         "1.bias"]
    heads = nn.ModuleDict({"cls": nn.Linear(2, 3)})
    heads["reg"] = nn.Linear(2, 1)
    assert list(heads.keys()) == ["cls", "reg"] and "reg" in heads
    assert [n for n, _ in heads.named_parameters()][-1] == "reg.bias"
    with pytest.raises(KeyError, match="keys are"):
        heads["missing"]


def test_identity_flatten_unflatten():
    x = cr.randn(2, 3, 4, 5)
    assert nn.Identity(7, key=1)(x) is x
    assert nn.Flatten()(x).shape == (2, 60)
    assert nn.Flatten(0, 1)(x).shape == (6, 4, 5)
    assert nn.Unflatten(1, (3, 20))(nn.Flatten()(x)).shape == (2, 3, 20)
    np.testing.assert_array_equal(nn.Unflatten(1, (3, 4, 5))(nn.Flatten()(x)).data, x.data)
    with pytest.raises(ValueError, match="has 12 elements but dimension 1"):
        nn.Unflatten(1, (3, 4))(cr.randn(2, 60))
