"""nn.utils.parameters: gradient clipping (against PyTorch), parameter vectors, penalties."""

from __future__ import annotations

import math

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.autograd import gradcheck
from chainrule.nn import utils


def _with_grads(scale: float = 1.0):
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    model(cr.randn(5, 3) * scale).sum().backward()
    return model


@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.0, math.inf])
def test_clip_grad_norm_scales_to_max_norm_and_returns_the_total(norm_type):
    model = _with_grads(10.0)
    grads = [p.grad.data.astype(np.float64) for p in model.parameters()]
    if norm_type == math.inf:
        total = max(np.abs(g).max() for g in grads)
    else:
        total = sum((np.abs(g) ** norm_type).sum() for g in grads) ** (1 / norm_type)
    returned = utils.clip_grad_norm_(model.parameters(), 0.5, norm_type)
    assert returned.item() == pytest.approx(total, rel=1e-5)
    coefficient = min(1.0, 0.5 / (total + 1e-6))
    for g, p in zip(grads, model.parameters()):
        np.testing.assert_allclose(p.grad.data, g * coefficient, rtol=1e-5)


def test_clip_grad_norm_leaves_small_gradients_alone_and_matches_pytorch():
    torch = pytest.importorskip("torch")
    model = _with_grads(0.01)
    before = [p.grad.data.copy() for p in model.parameters()]
    tensors = [torch.tensor(g, requires_grad=False) for g in before]
    params = [torch.zeros_like(t, requires_grad=True) for t in tensors]
    for p, t in zip(params, tensors):
        p.grad = t.clone()
    expected = torch.nn.utils.clip_grad_norm_(params, 100.0)
    total = utils.clip_grad_norm_(model, 100.0)
    assert total.item() == pytest.approx(expected.item(), rel=1e-5)
    for old, p in zip(before, model.parameters()):
        np.testing.assert_array_equal(p.grad.data, old)
    for p in params:
        p.grad = p.grad * 1000
    expected = torch.nn.utils.clip_grad_norm_(params, 0.1)
    for p in model.parameters():
        p.grad.data *= 1000
    total = utils.clip_grad_norm_(model.parameters(), 0.1)
    assert total.item() == pytest.approx(expected.item(), rel=1e-5)
    for ours, theirs in zip(model.parameters(), params):
        np.testing.assert_allclose(ours.grad.data, theirs.grad.numpy(), rtol=1e-5)


def test_clip_grad_norm_non_finite():
    w = nn.Parameter(cr.zeros(2))
    w.grad = cr.tensor([np.inf, 1.0])
    with pytest.raises(RuntimeError, match="non-finite"):
        utils.clip_grad_norm_([w], 1.0, error_if_nonfinite=True)
    assert utils.clip_grad_norm_([nn.Parameter(cr.zeros(1))], 1.0).item() == 0.0


def test_clip_grad_value():
    model = _with_grads(10.0)
    utils.clip_grad_value_(model.parameters(), 0.1)
    assert all(np.abs(p.grad.data).max() <= 0.1 for p in model.parameters())
    with pytest.raises(ValueError, match="non-negative"):
        utils.clip_grad_value_(model.parameters(), -1)


def test_parameters_vector_round_trip_and_gradient():
    model = nn.Sequential(nn.Linear(3, 4), nn.Linear(4, 2))
    vector = utils.parameters_to_vector(model.parameters())
    assert vector.shape == (3 * 4 + 4 + 4 * 2 + 2,)
    np.testing.assert_array_equal(vector.data[:12], model[0].weight.data.reshape(-1))
    held = model[0].weight
    utils.vector_to_parameters(vector * 2.0, model.parameters())
    assert model[0].weight is held
    np.testing.assert_array_equal(utils.parameters_to_vector(model.parameters()).data,
                                  vector.data * 2)
    (utils.parameters_to_vector(model.parameters()) ** 2).sum().backward()
    np.testing.assert_allclose(model[1].bias.grad.data, 2 * model[1].bias.data)
    with pytest.raises(ValueError, match="has 3 elements but the parameters have 26"):
        utils.vector_to_parameters(cr.zeros(3), model.parameters())


def test_l1_penalty_sums_absolute_values_and_differentiates_to_the_sign():
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 2))
    every = utils.l1_penalty(model, 0.1)
    expected = 0.1 * sum(np.abs(p.data).sum() for p in model.parameters())
    assert every.item() == pytest.approx(expected, rel=1e-5)
    only = utils.l1_penalty(model, 1.0, only_weights=True)
    assert only.item() == pytest.approx(np.abs(model[0].weight.data).sum()
                                        + np.abs(model[2].weight.data).sum(), rel=1e-5)
    only.backward()
    np.testing.assert_array_equal(model[0].weight.grad.data, np.sign(model[0].weight.data))
    assert model[0].bias.grad is None
    w = cr.randn(3, 2, dtype=cr.float64, requires_grad=True)
    assert gradcheck(lambda t: utils.l1_penalty([t], 0.5) + utils.l2_penalty([t], 0.3), (w,))


def test_l1_penalty_descent_shrinks_every_weight_by_the_same_amount():
    layer = nn.Linear(50, 1)
    before = np.abs(layer.weight.data.copy())
    for _ in range(10):
        layer.zero_grad()
        utils.l1_penalty(layer, 1.0).backward()
        with cr.no_grad():
            for p in layer.parameters():
                p -= 0.01 * p.grad
    large = before > 0.12  # never crossed zero in 10 steps of 0.01
    np.testing.assert_allclose(np.abs(layer.weight.data)[large], before[large] - 0.1, atol=1e-6)
