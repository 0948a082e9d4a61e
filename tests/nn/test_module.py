"""Module mechanics: registration by reflection, traversal order and names, modes, gradients,
dtype conversion, hooks, repr, containers."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn.functional as F
from chainrule import nn
from chainrule.autograd import gradcheck


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.scale = nn.Parameter(cr.ones(3))
        self.inner = nn.Linear(3, 3)
        self.register_buffer("count", cr.zeros(1))
        self.register_buffer("scratch", cr.zeros(2), persistent=False)
        self.plain = 5

    def forward(self, x):
        return self.inner(x) * self.scale


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.first = Block()
        self.layers = nn.ModuleList([nn.Linear(3, 4), nn.Linear(4, 2)])
        self.head = nn.Sequential(nn.ReLU(), nn.Linear(2, 1))

    def forward(self, x):
        x = self.first(x)
        for layer in self.layers:
            x = layer(x)
        return self.head(x)


def test_parameters_are_found_by_reflection_in_definition_order():
    names = [name for name, _ in Net().named_parameters()]
    assert names == ["first.scale", "first.inner.weight", "first.inner.bias",
                     "layers.0.weight", "layers.0.bias", "layers.1.weight", "layers.1.bias",
                     "head.1.weight", "head.1.bias"]
    net = Net()
    assert [id(p) for p in net.parameters()] == [id(p) for _, p in net.named_parameters()]
    assert len(list(net.parameters(recurse=False))) == 0
    assert [n for n, _ in net.first.named_parameters(recurse=False)] == ["scale"]


def test_buffers_modules_and_children():
    net = Net()
    assert [n for n, _ in net.named_buffers()] == ["first.count", "first.scratch"]
    assert [n for n, _ in net.named_children()] == ["first", "layers", "head"]
    assert [n for n, _ in net.named_modules()] == [
        "", "first", "first.inner", "layers", "layers.0", "layers.1", "head", "head.0", "head.1"]
    assert list(net.children())[0] is net.first
    assert len(list(net.modules())) == 9
    assert net.first.plain == 5 and "plain" not in net.first._parameters


def test_shared_parameters_and_modules_appear_once():
    shared = nn.Linear(2, 2)
    model = nn.Sequential(shared, nn.ReLU(), shared)
    assert len(list(model.parameters())) == 2
    assert len(list(model.modules())) == 3


def test_reassigning_and_deleting_attributes_updates_the_registries():
    block = Block()
    block.scale = nn.Parameter(cr.zeros(3))
    assert block.scale.data.sum() == 0
    block.inner = None
    assert "inner" in block._modules and block.inner is None
    assert [n for n, _ in block.named_parameters()] == ["scale"]
    del block.scale
    assert not hasattr(block, "scale")
    with pytest.raises(TypeError, match="cannot assign 'int' as child module 'inner'"):
        block.inner = 3
    block.count = cr.ones(1)
    assert block._buffers["count"].data[0] == 1
    with pytest.raises(TypeError, match="buffer 'count'"):
        block.count = [1.0]


def test_assigning_before_init_and_bad_names_are_explained():
    class Broken(nn.Module):
        def __init__(self):
            self.weight = nn.Parameter(cr.ones(1))

    with pytest.raises(AttributeError, match=r"super\(\).__init__\(\)"):
        Broken()
    module = nn.Module()
    with pytest.raises(KeyError, match=r'contain "\."'):
        module.register_buffer("a.b", cr.zeros(1))
    with pytest.raises(TypeError, match="Parameter or None"):
        module.register_parameter("w", cr.zeros(1))
    with pytest.raises(NotImplementedError, match="forward"):
        module(cr.zeros(1))
    with pytest.raises(AttributeError, match="'Module' object has no attribute 'missing'"):
        module.missing


def test_train_eval_propagate():
    net = Net()
    assert all(m.training for m in net.modules())
    assert net.eval() is net
    assert not any(m.training for m in net.modules())
    net.train()
    assert all(m.training for m in net.modules())
    with pytest.raises(ValueError, match="bool"):
        net.train("no")


def test_zero_grad_and_requires_grad():
    net = Net()
    net(cr.randn(5, 3)).sum().backward()
    assert all(p.grad is not None for p in net.parameters())
    net.zero_grad(set_to_none=False)
    assert all(p.grad is not None and not p.grad.data.any() for p in net.parameters())
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())
    net.requires_grad_(False)
    assert not any(p.requires_grad for p in net.parameters())


def test_frozen_parameters_get_no_gradient_and_fine_tuning_the_head_works():
    cr.manual_seed(0)
    body = nn.Sequential(nn.Linear(4, 8), nn.Tanh())
    head = nn.Linear(8, 3)
    model = nn.Sequential(body, head)
    body.requires_grad_(False)
    before = [p.data.copy() for p in body.parameters()]
    x, y = cr.randn(32, 4), cr.randint(0, 3, (32,))
    first = None
    for _ in range(60):
        model.zero_grad()
        loss = F.cross_entropy(model(x), y)
        first = first if first is not None else loss.item()
        loss.backward()
        assert all(p.grad is None for p in body.parameters())
        with cr.no_grad():
            for p in head.parameters():
                p -= 0.5 * p.grad
    assert loss.item() < first
    for old, p in zip(before, body.parameters()):
        np.testing.assert_array_equal(old, p.data)


def test_apply_visits_children_first():
    visited = []
    nn.Sequential(nn.Linear(1, 1), nn.Sequential(nn.ReLU())).apply(
        lambda m: visited.append(type(m).__name__))
    assert visited == ["Linear", "ReLU", "Sequential", "Sequential"]


def test_num_parameters():
    net = nn.Sequential(nn.Linear(3, 4), nn.Linear(4, 2, bias=False))
    assert net.num_parameters() == 3 * 4 + 4 + 4 * 2
    net[1].requires_grad_(False)
    assert net.num_parameters(trainable_only=True) == 16


def test_to_double_and_back_keeps_parameter_identity():
    net = nn.Sequential(nn.Linear(3, 2), nn.BatchNorm1d(2))
    params = list(net.parameters())
    net(cr.randn(4, 3)).sum().backward()
    assert net.double() is net
    assert all(p.dtype == np.float64 for p in net.parameters())
    assert [id(p) for p in net.parameters()] == [id(p) for p in params]
    assert net[1].running_mean.dtype == np.float64
    assert net[1].num_batches_tracked.dtype == np.int64
    assert params[0].grad.dtype == np.float64
    assert gradcheck(net, (cr.randn(4, 3, dtype=cr.float64, requires_grad=True),))
    net.to(cr.float32)
    assert all(p.dtype == np.float32 for p in net.parameters())
    net.to("cpu")
    net.float()
    with pytest.raises(TypeError, match="floating point"):
        net.to(cr.int64)
    with pytest.raises(RuntimeError, match="CPU only"):
        net.to("cuda")


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


def test_repr_prints_the_tree_like_pytorch():
    text = repr(nn.Sequential(nn.Linear(2, 3), nn.Sequential(nn.ReLU(), nn.Dropout(0.2))))
    assert text == (
        "Sequential(\n"
        "  (0): Linear(in_features=2, out_features=3, bias=True)\n"
        "  (1): Sequential(\n"
        "    (0): ReLU()\n"
        "    (1): Dropout(p=0.2, inplace=False)\n"
        "  )\n"
        ")"
    )
    assert repr(nn.Parameter(cr.zeros(1))).startswith("Parameter containing:")


# ---------------------------------------------------------------------------- containers
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
    from collections import OrderedDict

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
