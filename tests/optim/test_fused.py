"""The fused path (chainrule/optim/_fused.py) against the parameter-by-parameter path: the same
values to the bit, state that still looks per parameter, and every way the layout can go stale."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn, optim
from chainrule.optim import adagrad, adam, rmsprop, sgd

CASES = [
    (optim.Adam, dict(lr=1e-2)),
    (optim.Adam, dict(lr=1e-2, weight_decay=0.1, amsgrad=True)),
    (optim.AdamW, dict(lr=1e-2, weight_decay=0.1, maximize=True)),
    (optim.SGD, dict(lr=0.1)),
    (optim.SGD, dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01)),
    (optim.SGD, dict(lr=0.1, momentum=0.9, dampening=0.1)),
    (optim.Adagrad, dict(lr=0.1, lr_decay=0.01, weight_decay=0.01)),
    (optim.RMSprop, dict(lr=1e-2, momentum=0.9, centered=True, weight_decay=0.01)),
    (optim.RMSprop, dict(lr=1e-2)),
]
MODULES = (adam, sgd, adagrad, rmsprop)


def _model(dtype=cr.float32):
    cr.manual_seed(0)
    return nn.Sequential(nn.Linear(5, 7), nn.Tanh(), nn.Linear(7, 3)).to(dtype)


def _batches(steps: int):
    rng = np.random.default_rng(1)
    return [(rng.standard_normal((8, 5)).astype(np.float32), rng.integers(0, 3, 8))
            for _ in range(steps)]


def _train(cls, options, steps=6, fused=True, monkeypatch=None, between=None):
    if not fused:
        for module in MODULES:
            monkeypatch.setattr(module, "fused_step", lambda *args: False)
    model = _model()
    optimizer = cls(model.parameters(), **options)
    for index, (x, y) in enumerate(_batches(steps)):
        optimizer.zero_grad()
        nn.functional.cross_entropy(model(cr.tensor(x)), cr.tensor(y)).backward()
        optimizer.step()
        if between is not None:
            between(index, model, optimizer)
    if not fused:
        monkeypatch.undo()
    return model, optimizer


def _same(first, second):
    (model_a, opt_a), (model_b, opt_b) = first, second
    for a, b in zip(model_a.parameters(), model_b.parameters()):
        np.testing.assert_array_equal(a.data, b.data)
    state_a, state_b = opt_a.state_dict()["state"], opt_b.state_dict()["state"]
    assert state_a.keys() == state_b.keys()
    for index in state_a:
        assert state_a[index].keys() == state_b[index].keys()
        for name, value in state_a[index].items():
            np.testing.assert_array_equal(value, state_b[index][name])


@pytest.mark.parametrize("cls, options", CASES)
def test_fused_equals_one_by_one_to_the_bit(cls, options, monkeypatch):
    fused = _train(cls, options)
    assert fused[1].__dict__.get("_fused"), "the fused path was not taken"
    _same(fused, _train(cls, options, fused=False, monkeypatch=monkeypatch))


def test_parameters_keep_their_arrays_and_state_looks_per_parameter():
    model = _model()
    arrays = [p.data for p in model.parameters()]
    held = arrays[0]  # an array the user holds, as with from_numpy: updated in place
    before = held.copy()
    optimizer = optim.Adam(model.parameters(), lr=1e-2)
    for x, y in _batches(3):
        optimizer.zero_grad()
        nn.functional.cross_entropy(model(cr.tensor(x)), cr.tensor(y)).backward()
        optimizer.step()
    assert all(p.data is a for p, a in zip(model.parameters(), arrays))
    assert not np.array_equal(held, before)
    for p in model.parameters():
        state = optimizer.state[p]
        assert state["step"] == 3
        assert state["exp_avg"].shape == p.shape and state["exp_avg"].dtype == p.dtype


def test_parameters_nobody_else_holds_become_views_of_one_buffer():
    model, optimizer = _train(optim.Adam, dict(lr=1e-2), steps=2)
    assert all(p.data.base is not None for p in model.parameters())
    assert len({id(p.data.base) for p in model.parameters()}) == 1
    (layout,) = optimizer._fused.values()
    assert layout.bound and all(p.data is view for p, view in
                                zip(model.parameters(), layout.param_views))
    for p in model.parameters():  # still arrays of the parameter's own shape, dtype and values
        assert p.data.shape == p.shape and p.data.flags.c_contiguous and p.data.flags.writeable


def test_a_held_view_of_a_parameter_keeps_it_where_it_is_and_sees_every_step():
    model = _model()
    first = next(iter(model.parameters()))
    row = first.data[0]  # a NumPy view the user keeps
    optimizer = optim.Adam(model.parameters(), lr=1e-2)
    for x, y in _batches(3):
        optimizer.zero_grad()
        nn.functional.cross_entropy(model(cr.tensor(x)), cr.tensor(y)).backward()
        optimizer.step()
        np.testing.assert_array_equal(row, first.data[0])
    (layout,) = optimizer._fused.values()
    assert not layout.bound and row.base is first.data


def test_binding_waits_until_the_holder_lets_go(monkeypatch):
    model = _model()
    held = [next(iter(model.parameters())).data]
    optimizer = optim.Adam(model.parameters(), lr=1e-2)

    def between(index, model, optimizer):
        if index == 1:
            held.clear()

    for index, (x, y) in enumerate(_batches(4)):
        optimizer.zero_grad()
        nn.functional.cross_entropy(model(cr.tensor(x)), cr.tensor(y)).backward()
        optimizer.step()
        between(index, model, optimizer)
    (layout,) = optimizer._fused.values()
    assert layout.bound
    plain = _train(optim.Adam, dict(lr=1e-2), steps=4, fused=False, monkeypatch=monkeypatch)
    _same((model, optimizer), plain)


def _reload(index, model, optimizer):
    if index == 2:  # a round trip through state_dict replaces every state array
        optimizer.load_state_dict(optimizer.state_dict())


def _reset_one_moment(index, model, optimizer):
    if index == 2:
        p = next(iter(model.parameters()))
        optimizer.state[p]["exp_avg"] = np.zeros_like(p.data)


def _replace_data(index, model, optimizer):
    if index == 2:
        p = next(iter(model.parameters()))
        p.data = p.data * 0.5


@pytest.mark.parametrize("between", [_reload, _reset_one_moment, _replace_data])
def test_a_replaced_array_is_honoured(between, monkeypatch):
    fused = _train(optim.Adam, dict(lr=1e-2), between=between)
    plain = _train(optim.Adam, dict(lr=1e-2), fused=False, monkeypatch=monkeypatch,
                   between=between)
    _same(fused, plain)


def test_a_parameter_without_gradient_goes_one_by_one(monkeypatch):
    def run(fused):
        if not fused:
            monkeypatch.setattr(adam, "fused_step", lambda *args: False)
        model = _model()
        optimizer = optim.Adam(model.parameters(), lr=1e-2)
        for index, (x, y) in enumerate(_batches(5)):
            optimizer.zero_grad()
            nn.functional.cross_entropy(model(cr.tensor(x)), cr.tensor(y)).backward()
            if index % 2:
                model[2].bias.grad = None  # skipped this step: its step count falls behind
            optimizer.step()
        monkeypatch.undo()
        return model, optimizer

    fused, plain = run(True), run(False)
    _same(fused, plain)
    assert fused[1].state[fused[0][2].bias]["step"] == 3


def test_mixed_dtypes_go_one_by_one(monkeypatch):
    def run(fused):
        if not fused:
            monkeypatch.setattr(adam, "fused_step", lambda *args: False)
        cr.manual_seed(0)
        a = cr.randn(4, requires_grad=True)
        b = cr.randn(3, dtype=cr.float64, requires_grad=True)
        optimizer = optim.Adam([a, b], lr=0.1)
        for _ in range(3):
            optimizer.zero_grad()
            ((a * a).sum() + (b * b * b).sum()).backward()
            optimizer.step()
        monkeypatch.undo()
        return a.data.copy(), b.data.copy()

    for x, y in zip(run(True), run(False)):
        np.testing.assert_array_equal(x, y)
