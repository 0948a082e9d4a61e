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


# ---------------------------------------------------------------------------- Linear → ReLU fused
def _node_names(output) -> list[str]:
    names, stack, seen = [], [output.grad_fn], set()
    while stack:
        node = stack.pop()
        if node is None or not hasattr(node, "next") or id(node) in seen:
            continue
        seen.add(id(node))
        names.append(type(node).__name__)
        stack.extend(edge for edge in node.next if edge is not None)
    return names


def _mlp():
    cr.manual_seed(0)
    return nn.Sequential(nn.Linear(5, 8), nn.ReLU(), nn.Linear(8, 8), nn.ReLU(),
                         nn.Linear(8, 3), nn.ReLU())


def _run(model, x):
    model.zero_grad()
    out = model(x)
    (out * cr.arange(3, dtype=out.dtype)).sum().backward()
    return out.detach().numpy(), [p.grad.numpy().copy() for p in model.parameters()], out


@pytest.mark.parametrize("dtype", [cr.float32, cr.float64])
def test_sequential_fuses_linear_relu_with_the_same_values_and_gradients(dtype):
    model = _mlp().to(dtype)
    x = cr.randn(4, 5, dtype=dtype)
    fused_out, fused_grads, out = _run(model, x)
    assert _node_names(out).count("LinearRelu") == 3 and "Relu" not in _node_names(out)
    handles = [m.register_forward_hook(lambda *args: None) for m in model if
               isinstance(m, nn.ReLU)]  # a hook keeps each pair apart
    plain_out, plain_grads, out = _run(model, x)
    assert "LinearRelu" not in _node_names(out) and _node_names(out).count("Relu") == 3
    for handle in handles:
        handle.remove()
    np.testing.assert_array_equal(fused_out, plain_out)
    for fused, plain in zip(fused_grads, plain_grads):
        np.testing.assert_array_equal(fused, plain)


def test_a_hook_on_the_linear_sees_its_output_and_subclasses_are_not_fused():
    model = _mlp()
    seen = []
    model[0].register_forward_hook(lambda module, args, output: seen.append(output))
    model(cr.randn(2, 5))
    assert len(seen) == 1 and seen[0].grad_fn.name() == "LinearBackward"

    class Shifted(nn.ReLU):
        def forward(self, x):
            return super().forward(x) + 1.0

    shifted = nn.Sequential(nn.Linear(5, 2), Shifted())
    out = shifted(cr.zeros(1, 5))
    np.testing.assert_array_equal(
        out.detach().numpy(), np.maximum(shifted[0](cr.zeros(1, 5)).detach().numpy(), 0) + 1.0)


def test_fused_sequential_has_a_second_derivative():
    cr.manual_seed(1)
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 1)).double()
    x = cr.randn(5, 3, dtype=cr.float64, requires_grad=True)
    assert cr.autograd.gradgradcheck(lambda t: model(t).tanh(), (x,))
