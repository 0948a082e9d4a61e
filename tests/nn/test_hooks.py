"""Module hooks (chainrule/nn/hooks.py): forward pre-hooks and hooks, full backward hooks that
see, replace or miss the input gradient, removable handles."""

from __future__ import annotations

import numpy as np

import chainrule as cr
import chainrule.nn.functional as F
from chainrule import nn


def test_forward_hooks_and_pre_hooks():
    layer = nn.Linear(3, 2)
    seen = []
    pre = layer.register_forward_pre_hook(lambda m, args: (args[0] * 0.0,))
    post = layer.register_forward_hook(lambda m, args, out: seen.append(out.shape) or out + 1.0)
    out = layer(cr.randn(4, 3))
    np.testing.assert_allclose(out.data, np.broadcast_to(layer.bias.data + 1.0, (4, 2)), rtol=1e-6)
    assert seen == [(4, 2)]
    pre.remove()
    post.remove()
    x = cr.randn(4, 3)
    np.testing.assert_allclose(layer(x).data, F.linear(x, layer.weight, layer.bias).data)
    assert seen == [(4, 2)]


def test_full_backward_hook_sees_grad_output_and_grad_input():
    layer = nn.Linear(3, 2)
    x = cr.randn(4, 3, requires_grad=True)
    calls = []
    handle = layer.register_full_backward_hook(
        lambda m, grad_input, grad_output: calls.append((grad_input, grad_output)))
    grad_out = cr.randn(4, 2)
    layer(x).backward(grad_out)
    (grad_input,), (grad_output,) = calls[0]
    np.testing.assert_allclose(grad_output.data, grad_out.data)
    np.testing.assert_allclose(grad_input.data, grad_out.data @ layer.weight.data, rtol=1e-6)
    np.testing.assert_allclose(x.grad.data, grad_input.data)
    handle.remove()
    layer(x).backward(grad_out)
    assert len(calls) == 1


def test_full_backward_hook_can_replace_the_input_gradient():
    layer = nn.Tanh()
    layer.register_full_backward_hook(lambda m, gi, go: (gi[0] * 0.0,))
    x = cr.randn(3, requires_grad=True)
    (layer(x) * 2).sum().backward()
    assert not x.grad.data.any()


def test_full_backward_hook_on_a_first_layer_gets_none_for_the_input():
    layer = nn.Linear(3, 2)
    calls = []
    layer.register_full_backward_hook(lambda m, gi, go: calls.append((gi, go[0].shape)))
    layer(cr.randn(4, 3)).sum().backward()
    assert calls == [((None,), (4, 2))]
