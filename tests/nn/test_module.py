"""Module (chainrule/nn/module.py): registration by reflection, traversal order and names,
train/eval modes (which change what a network computes), gradients, repr."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn.functional as F
from chainrule import nn


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


def test_mlp_with_batchnorm_and_dropout_fits_two_spirals(spirals, train):
    cr.manual_seed(0)
    x, y = spirals()
    model = nn.Sequential(nn.Linear(2, 64), nn.BatchNorm1d(64), nn.ReLU(), nn.Dropout(0.1),
                          nn.Linear(64, 64), nn.BatchNorm1d(64), nn.ReLU(), nn.Linear(64, 2))
    train(model, x, y)
    model.eval()
    accuracy = (model(x).data.argmax(1) == y.data).mean()
    assert accuracy > 0.9
    # eval is deterministic; train mode (dropout, batch statistics) is not
    np.testing.assert_array_equal(model(x).data, model(x).data)
    model.train()
    assert not np.array_equal(model(x).data, model(x).data)
