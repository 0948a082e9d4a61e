"""Regression and binary losses (chainrule/ops/loss.py): l1, mse, smooth_l1, huber,
binary_cross_entropy and binary_cross_entropy_with_logits, for every reduction, by the op specs
against NumPy closed forms (PyTorch's definitions); exact 0 and 1, extreme logits, errors."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn.functional as F
from chainrule import nn
from tests.ops.spec import OpSpec, SpecChecks, probability, torch_function

W4 = np.array([1.0, 2.0, 0.5, 1.0])
POS_WEIGHT3, WEIGHT3 = np.array([3.0, 1.0, 0.5]), np.array([1.0, 0.5, 2.0])
NO_EMPTY_MEAN = "the mean over no elements is NaN"


def _reduce(loss, reduction):
    return {"mean": np.mean, "sum": np.sum, "none": lambda v: v}[reduction](loss)


def np_l1(x, y, reduction="mean"):
    return _reduce(np.abs(x - y), reduction)


def np_mse(x, y, reduction="mean"):
    return _reduce((x - y) ** 2, reduction)


def np_smooth_l1(x, y, reduction="mean", beta=1.0):
    d = np.abs(x - y)
    return _reduce(np.where(d < beta, 0.5 * d ** 2 / beta, d - 0.5 * beta), reduction)


def np_huber(x, y, reduction="mean", delta=1.0):
    d = np.abs(x - y)
    return _reduce(np.where(d < delta, 0.5 * d ** 2, delta * (d - 0.5 * delta)), reduction)


def np_bce(p, y, weight=None, reduction="mean"):
    with np.errstate(divide="ignore"):
        loss = -(y * np.maximum(np.log(p), -100) + (1 - y) * np.maximum(np.log(1 - p), -100))
    return _reduce(loss * (1 if weight is None else weight), reduction)


def np_bce_logits(x, y, weight=None, reduction="mean", pos_weight=None):
    log_sigmoid = -np.logaddexp(0, -x)
    log_one_minus = -np.logaddexp(0, x)
    pw = 1.0 if pos_weight is None else pos_weight
    loss = -(pw * y * log_sigmoid + (1 - y) * log_one_minus)
    return _reduce(loss * (1 if weight is None else weight), reduction)


def binary(x):
    """A 0/1 target."""
    return (x > 0).astype(np.float64)


def _constant(values):
    return lambda x: cr.tensor(values, dtype=x.dtype)


def _loss_specs(reduction):
    r = {"reduction": reduction}
    shapes = [((3, 4), (3, 4))] + ([] if reduction == "mean" else [((0, 4), (0, 4))])
    empty = NO_EMPTY_MEAN if reduction == "mean" else ""

    def spec(name, op, reference, covers=(), domain=(lambda x: x, lambda x: x), torch=None):
        return OpSpec(f"{name}-{reduction}", op, reference, shapes, covers=covers, domain=domain,
                      torch=torch, no_zero_size=empty)

    return [
        spec("l1", lambda x, y: F.l1_loss(x, y, **r), lambda x, y: np_l1(x, y, **r),
             torch=torch_function("l1_loss", **r)),
        spec("mse", lambda x, y: F.mse_loss(x, y, **r), lambda x, y: np_mse(x, y, **r),
             torch=torch_function("mse_loss", **r)),
        spec("smooth_l1", lambda x, y: F.smooth_l1_loss(x, y, beta=0.7, **r),
             lambda x, y: np_smooth_l1(x, y, beta=0.7, **r),
             torch=torch_function("smooth_l1_loss", beta=0.7, **r)),
        spec("huber", lambda x, y: F.huber_loss(x, y, delta=0.7, **r),
             lambda x, y: np_huber(x, y, delta=0.7, **r),
             torch=torch_function("huber_loss", delta=0.7, **r)),
        spec("bce", lambda p, y: F.binary_cross_entropy(p, y, **r), lambda p, y: np_bce(p, y, **r),
             ("BinaryCrossEntropy",), (probability, probability),
             torch_function("binary_cross_entropy", **r)),
        spec("bce_logits", lambda x, y: F.binary_cross_entropy_with_logits(x, y, **r),
             lambda x, y: np_bce_logits(x, y, **r), domain=(lambda x: x, binary),
             torch=torch_function("binary_cross_entropy_with_logits", **r)),
    ]


SPECS = [spec for reduction in ("mean", "sum", "none") for spec in _loss_specs(reduction)] + [
    OpSpec("bce_weighted", lambda p, y: F.binary_cross_entropy(p, y, _constant(W4)(p)),
           lambda p, y: np_bce(p, y, W4), [((3, 4), (3, 4))], covers=("BinaryCrossEntropy",),
           domain=(probability, binary), no_zero_size=NO_EMPTY_MEAN,
           torch=lambda torch, p, y: torch.nn.functional.binary_cross_entropy(
               p, y, torch.tensor(W4))),
    OpSpec("bce_logits_multilabel",
           lambda x, y: F.binary_cross_entropy_with_logits(
               x, y, _constant(WEIGHT3)(x), pos_weight=_constant(POS_WEIGHT3)(x)),
           lambda x, y: np_bce_logits(x, y, WEIGHT3, pos_weight=POS_WEIGHT3),
           [((6, 3), (6, 3))], domain=(lambda x: x, binary), no_zero_size=NO_EMPTY_MEAN,
           torch=lambda torch, x, y: torch.nn.functional.binary_cross_entropy_with_logits(
               x, y, torch.tensor(WEIGHT3), pos_weight=torch.tensor(POS_WEIGHT3))),
    OpSpec("smooth_l1_beta0", lambda x, y: F.smooth_l1_loss(x, y, beta=0.0),
           lambda x, y: np_l1(x, y), [((3, 4), (3, 4))], no_zero_size=NO_EMPTY_MEAN,
           torch=torch_function("smooth_l1_loss", beta=0.0)),
]


class TestSpecs(SpecChecks):
    specs = SPECS


# ---------------------------------------------------------------------------- extremes
def test_bce_of_exact_zero_and_one_is_finite():
    p = cr.tensor([0.0, 1.0, 0.0, 1.0], requires_grad=True)
    y = cr.tensor([1.0, 0.0, 0.0, 1.0])
    with warnings.catch_warnings(), np.errstate(all="raise"):
        warnings.simplefilter("error")
        loss = F.binary_cross_entropy(p, y, reduction="none")
        loss.sum().backward()
    np.testing.assert_allclose(loss.data, [100.0, 100.0, 0.0, 0.0])
    assert np.isfinite(p.grad.data).all()


def test_bce_with_logits_of_extreme_logits_is_finite_without_numpy_warnings():
    x = cr.tensor([[-1000.0, 1000.0, 0.0, -100.0, 100.0]], requires_grad=True)
    with warnings.catch_warnings(), np.errstate(all="raise"):
        warnings.simplefilter("error")
        loss = F.binary_cross_entropy_with_logits(x, cr.tensor([[1.0, 0.0, 1.0, 0.0, 1.0]]))
        loss.backward()
    assert np.isfinite(loss.item()) and np.isfinite(x.grad.data).all()


def test_bce_with_logits_at_extremes_matches_the_limit():
    x = cr.tensor([1000.0, -1000.0, 1000.0, -1000.0])
    y = cr.tensor([1.0, 0.0, 0.0, 1.0])
    np.testing.assert_allclose(F.binary_cross_entropy_with_logits(x, y, reduction="none").data,
                               [0.0, 0.0, 1000.0, 1000.0])


# ---------------------------------------------------------------------------- learning
def test_multilabel_training_with_bce_with_logits_learns_independent_labels():
    cr.manual_seed(0)
    x = cr.randn(64, 3)
    y = (x.data[:, :2] > 0).astype(np.float32)  # label j is "feature j positive"
    model = nn.Linear(3, 2)
    for _ in range(200):
        model.zero_grad()
        loss = F.binary_cross_entropy_with_logits(model(x), cr.tensor(y))
        loss.backward()
        with cr.no_grad():
            for p in model.parameters():
                p -= 0.5 * p.grad
    predicted = model(x).data > 0
    assert (predicted == (y > 0.5)).mean() > 0.95


# ---------------------------------------------------------------------------- errors
def test_int_targets_for_bce_say_float_is_expected():
    with pytest.raises(TypeError, match=r"floating-point target.*int64.*target.float\(\)"):
        F.binary_cross_entropy(cr.rand(3), cr.tensor([0, 1, 1]))
    with pytest.raises(TypeError, match="floating-point target"):
        F.binary_cross_entropy_with_logits(cr.randn(3), cr.tensor([0, 1, 1]))


def test_shape_mismatches_name_both_shapes():
    with pytest.raises(ValueError, match=r"target shape \(3,\) differs from input shape \(3, 1\)"):
        F.mse_loss(cr.randn(3, 1), cr.randn(3))


def test_other_bad_arguments():
    with pytest.raises(ValueError, match="between 0 and 1"):
        F.binary_cross_entropy(cr.tensor([1.5]), cr.tensor([1.0]))
    with pytest.raises(ValueError, match="reduction"):
        F.mse_loss(cr.randn(2), cr.randn(2), reduction="average")
