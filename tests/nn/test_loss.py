"""Losses: a declarative table of (function, input/target makers, options) checked against NumPy
closed forms (PyTorch's definitions), float64 gradcheck/gradgradcheck, the module wrappers and
PyTorch itself; then the error messages and the numerical extremes.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn.functional as F
from chainrule import nn
from chainrule.autograd import gradcheck, gradgradcheck

RNG = np.random.default_rng(5)


# ---------------------------------------------------------------------------- NumPy references
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


def np_log_softmax(x, axis=1):
    shifted = x - x.max(axis=axis, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))


def np_nll(logp, target, weight=None, ignore_index=-100, reduction="mean"):
    classes = logp.shape[1]
    w = np.ones(classes) if weight is None else weight
    valid = target != ignore_index
    safe = np.where(valid, target, 0)
    picked = np.take_along_axis(logp, safe[:, None], axis=1)[:, 0]
    w_n = w[safe] * valid
    loss = -picked * w_n
    if reduction == "mean":
        return loss.sum() / w_n.sum()
    return _reduce(loss, reduction)


def np_cross_entropy(x, target, weight=None, ignore_index=-100, reduction="mean",
                     label_smoothing=0.0):
    """PyTorch's documented definition, written out."""
    logp = np_log_softmax(x)
    classes = x.shape[1]
    w = np.ones(classes) if weight is None else weight
    w_b = w.reshape((1, classes) + (1,) * (x.ndim - 2))
    if target.dtype.kind == "f":
        q = target * (1 - label_smoothing) + label_smoothing / classes
        loss = -(logp * q * w_b).sum(axis=1)
        if reduction == "mean":
            return loss.sum() / (x.size // classes)
        return _reduce(loss, reduction)
    nll = np_nll(logp, target, weight, ignore_index, reduction)
    valid = target != ignore_index
    smooth = -(logp * w_b).sum(axis=1) * valid
    if reduction == "mean":
        smooth = smooth.sum() / (w[np.where(valid, target, 0)] * valid).sum()
    else:
        smooth = _reduce(smooth, reduction)
    return (1 - label_smoothing) * nll + label_smoothing / classes * smooth


# ---------------------------------------------------------------------------- the table
def normal(*shape):
    return lambda: RNG.standard_normal(shape)


def probabilities(*shape):
    return lambda: 1 / (1 + np.exp(-RNG.standard_normal(shape)))


def labels(classes, *shape, ignore=False):
    def make():
        t = RNG.integers(0, classes, shape)
        if ignore:
            t.flat[0] = -100
        return t
    return make


def binary(*shape):
    return lambda: RNG.integers(0, 2, shape).astype(np.float64)


def distributions(*shape):
    def make():
        p = RNG.random(shape) + 0.1
        return p / p.sum(axis=1, keepdims=True)
    return make


@dataclass
class Case:
    name: str
    function: Callable
    reference: Callable
    make_input: Callable
    make_target: Callable
    kwargs: dict = field(default_factory=dict)
    module: Callable | None = None  # builds the nn loss module with the same options
    torch_name: str | None = None
    target_grad: bool = False  # differentiable in the target too

    def arrays(self):
        return self.make_input(), self.make_target()


W4 = np.array([0.5, 1.0, 2.0, 1.5])
CASES = []
for reduction in ("mean", "sum", "none"):
    r = {"reduction": reduction}
    CASES += [
        Case(f"l1-{reduction}", F.l1_loss, np_l1, normal(3, 4), normal(3, 4), r,
             lambda r=r: nn.L1Loss(**r), "l1_loss", target_grad=True),
        Case(f"mse-{reduction}", F.mse_loss, np_mse, normal(3, 4), normal(3, 4), r,
             lambda r=r: nn.MSELoss(**r), "mse_loss", target_grad=True),
        Case(f"smooth_l1-{reduction}", F.smooth_l1_loss, np_smooth_l1, normal(3, 4), normal(3, 4),
             {**r, "beta": 0.7}, lambda r=r: nn.SmoothL1Loss(beta=0.7, **r), "smooth_l1_loss",
             target_grad=True),
        Case(f"huber-{reduction}", F.huber_loss, np_huber, normal(3, 4), normal(3, 4),
             {**r, "delta": 0.7}, lambda r=r: nn.HuberLoss(delta=0.7, **r), "huber_loss",
             target_grad=True),
        Case(f"bce-{reduction}", F.binary_cross_entropy, np_bce, probabilities(3, 4),
             probabilities(3, 4), r, lambda r=r: nn.BCELoss(**r), "binary_cross_entropy",
             target_grad=True),
        Case(f"bce_logits-{reduction}", F.binary_cross_entropy_with_logits, np_bce_logits,
             normal(3, 4), binary(3, 4), r, lambda r=r: nn.BCEWithLogitsLoss(**r),
             "binary_cross_entropy_with_logits", target_grad=True),
        Case(f"cross_entropy-{reduction}", F.cross_entropy, np_cross_entropy, normal(5, 4),
             labels(4, 5), r, lambda r=r: nn.CrossEntropyLoss(**r), "cross_entropy"),
        Case(f"cross_entropy_full-{reduction}", F.cross_entropy, np_cross_entropy, normal(5, 4),
             labels(4, 5, ignore=True), {**r, "weight": W4, "label_smoothing": 0.2},
             lambda r=r: nn.CrossEntropyLoss(cr.tensor(W4, dtype=cr.float64),
                                             label_smoothing=0.2, **r), "cross_entropy"),
        Case(f"cross_entropy_spatial-{reduction}", F.cross_entropy, np_cross_entropy,
             normal(2, 4, 3, 2), labels(4, 2, 3, 2, ignore=True), {**r, "weight": W4},
             lambda r=r: nn.CrossEntropyLoss(cr.tensor(W4, dtype=cr.float64), **r),
             "cross_entropy"),
        Case(f"cross_entropy_probs-{reduction}", F.cross_entropy, np_cross_entropy, normal(5, 4),
             distributions(5, 4), {**r, "weight": W4, "label_smoothing": 0.1},
             lambda r=r: nn.CrossEntropyLoss(cr.tensor(W4, dtype=cr.float64),
                                             label_smoothing=0.1, **r), "cross_entropy",
             target_grad=True),
        Case(f"nll-{reduction}", F.nll_loss, np_nll, lambda: np_log_softmax(normal(5, 4)()),
             labels(4, 5, ignore=True), {**r, "weight": W4},
             lambda r=r: nn.NLLLoss(cr.tensor(W4, dtype=cr.float64), **r), "nll_loss"),
    ]
CASES += [
    Case("bce_weighted", F.binary_cross_entropy, np_bce, probabilities(3, 4), binary(3, 4),
         {"weight": np.array([1.0, 2.0, 0.5, 1.0])},
         lambda: nn.BCELoss(cr.tensor([1.0, 2.0, 0.5, 1.0], dtype=cr.float64)),
         "binary_cross_entropy"),
    Case("bce_logits_multilabel", F.binary_cross_entropy_with_logits, np_bce_logits,
         normal(6, 3), binary(6, 3), {"pos_weight": np.array([3.0, 1.0, 0.5]),
                                      "weight": np.array([1.0, 0.5, 2.0])},
         lambda: nn.BCEWithLogitsLoss(cr.tensor([1.0, 0.5, 2.0], dtype=cr.float64),
                                      pos_weight=cr.tensor([3.0, 1.0, 0.5], dtype=cr.float64)),
         "binary_cross_entropy_with_logits", target_grad=True),
    Case("smooth_l1_beta0", F.smooth_l1_loss, lambda x, y, beta: np_l1(x, y), normal(3, 4),
         normal(3, 4), {"beta": 0.0},
         lambda: nn.SmoothL1Loss(beta=0.0), "smooth_l1_loss"),
]
IDS = [c.name for c in CASES]


def _chainrule_kwargs(case: Case) -> dict:
    return {k: cr.tensor(v, dtype=cr.float64) if isinstance(v, np.ndarray) else v
            for k, v in case.kwargs.items()}


def _tensors(case: Case, x, t, requires_grad=True):
    target_dtype = cr.float64 if t.dtype.kind == "f" else None
    return (cr.tensor(x, dtype=cr.float64, requires_grad=requires_grad),
            cr.tensor(t, dtype=target_dtype,
                      requires_grad=requires_grad and case.target_grad))


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_forward_matches_numpy_reference(case):
    x, t = case.arrays()
    ours = case.function(*_tensors(case, x, t, False), **_chainrule_kwargs(case))
    np.testing.assert_allclose(ours.data, case.reference(x, t, **case.kwargs), rtol=1e-10,
                               atol=1e-12)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_gradcheck_and_gradgradcheck(case):
    x, t = case.arrays()
    x_t, t_t = _tensors(case, x, t)
    kwargs = _chainrule_kwargs(case)
    assert gradcheck(lambda a, b: case.function(a, b, **kwargs), (x_t, t_t))
    assert gradgradcheck(lambda a, b: case.function(a, b, **kwargs), (x_t, t_t))


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_module_computes_the_function(case):
    x, t = case.arrays()
    x_t, t_t = _tensors(case, x, t, False)
    module = case.module()
    np.testing.assert_allclose(module(x_t, t_t).data,
                               case.function(x_t, t_t, **_chainrule_kwargs(case)).data)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_matches_pytorch_value_and_gradient(case):
    torch = pytest.importorskip("torch")
    x, t = case.arrays()
    x_t, t_t = _tensors(case, x, t)
    out = case.function(x_t, t_t, **_chainrule_kwargs(case))
    grad_out = np.random.default_rng(0).standard_normal(out.shape)
    out.backward(cr.tensor(grad_out, dtype=cr.float64))
    x_torch = torch.tensor(x, requires_grad=True)
    t_torch = torch.tensor(t, requires_grad=case.target_grad)
    kwargs = {k: torch.tensor(v) if isinstance(v, np.ndarray) else v
              for k, v in case.kwargs.items()}
    expected = getattr(torch.nn.functional, case.torch_name)(x_torch, t_torch, **kwargs)
    expected.backward(torch.tensor(grad_out))
    np.testing.assert_allclose(out.data, expected.detach().numpy(), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(x_t.grad.data, x_torch.grad.numpy(), rtol=1e-8, atol=1e-12)
    if case.target_grad:
        np.testing.assert_allclose(t_t.grad.data, t_torch.grad.numpy(), rtol=1e-8, atol=1e-10)


# ---------------------------------------------------------------------------- specifics
def test_cross_entropy_gradient_is_softmax_minus_onehot_over_n():
    x = cr.randn(6, 5, requires_grad=True)
    target = cr.tensor([0, 4, 2, 2, 1, 3])
    F.cross_entropy(x, target).backward()
    probabilities = np.exp(np_log_softmax(x.data.astype(np.float64)))
    probabilities[np.arange(6), target.data] -= 1
    np.testing.assert_allclose(x.grad.data, probabilities / 6, rtol=1e-5, atol=1e-7)
    assert x.grad.dtype == np.float32


def test_cross_entropy_equals_nll_of_log_softmax():
    x, target = cr.randn(7, 3), cr.randint(0, 3, (7,))
    np.testing.assert_allclose(F.cross_entropy(x, target).data,
                               F.nll_loss(F.log_softmax(x, dim=1), target).data, rtol=1e-6)


def test_cross_entropy_unbatched_input():
    x = cr.randn(5, dtype=cr.float64)
    loss = F.cross_entropy(x, cr.tensor(3))
    np.testing.assert_allclose(loss.data, -np_log_softmax(x.data[None])[0, 3])
    assert F.cross_entropy(x, cr.tensor(3), reduction="none").shape == ()


def test_cross_entropy_all_targets_ignored_gives_nan_like_pytorch():
    loss = F.cross_entropy(cr.randn(2, 3), cr.tensor([-100, -100]))
    assert np.isnan(loss.item())


def test_bce_of_exact_zero_and_one_is_finite():
    p = cr.tensor([0.0, 1.0, 0.0, 1.0], requires_grad=True)
    y = cr.tensor([1.0, 0.0, 0.0, 1.0])
    with warnings.catch_warnings(), np.errstate(all="raise"):
        warnings.simplefilter("error")
        loss = F.binary_cross_entropy(p, y, reduction="none")
        loss.sum().backward()
    np.testing.assert_allclose(loss.data, [100.0, 100.0, 0.0, 0.0])
    assert np.isfinite(p.grad.data).all()


@pytest.mark.parametrize("function, target", [
    (F.binary_cross_entropy_with_logits, cr.tensor([[1.0, 0.0, 1.0, 0.0, 1.0]])),
    (F.cross_entropy, cr.tensor([0])),
])
def test_extreme_logits_are_finite_without_numpy_warnings(function, target):
    x = cr.tensor([[-1000.0, 1000.0, 0.0, -100.0, 100.0]], requires_grad=True)
    with warnings.catch_warnings(), np.errstate(all="raise"):
        warnings.simplefilter("error")
        loss = function(x, target)
        loss.backward()
    assert np.isfinite(loss.item()) and np.isfinite(x.grad.data).all()


def test_bce_with_logits_at_extremes_matches_the_limit():
    x = cr.tensor([1000.0, -1000.0, 1000.0, -1000.0])
    y = cr.tensor([1.0, 0.0, 0.0, 1.0])
    np.testing.assert_allclose(F.binary_cross_entropy_with_logits(x, y, reduction="none").data,
                               [0.0, 0.0, 1000.0, 1000.0])


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
def test_class_index_out_of_range_names_index_and_classes():
    with pytest.raises(IndexError, match=r"target 7 is out of bounds.*\[0, 4\).*4 classes"):
        F.cross_entropy(cr.randn(3, 4), cr.tensor([0, 7, 1]))
    with pytest.raises(IndexError, match=r"target -3 is out of bounds"):
        F.nll_loss(cr.randn(3, 4), cr.tensor([0, -3, 1]))


def test_float_targets_where_indices_are_expected_say_so():
    with pytest.raises(TypeError, match=r"expected class indices of dtype int64.*float32"):
        F.cross_entropy(cr.randn(3, 4), cr.tensor([0.0, 1.0, 2.0]))
    with pytest.raises(TypeError, match="int64"):
        F.nll_loss(cr.randn(3, 4), cr.tensor([0.0, 1.0, 2.0]))


def test_int_targets_for_bce_say_float_is_expected():
    with pytest.raises(TypeError, match=r"floating-point target.*int64.*target.float\(\)"):
        F.binary_cross_entropy(cr.rand(3), cr.tensor([0, 1, 1]))
    with pytest.raises(TypeError, match="floating-point target"):
        F.binary_cross_entropy_with_logits(cr.randn(3), cr.tensor([0, 1, 1]))


def test_shape_mismatches_name_both_shapes():
    with pytest.raises(ValueError, match=r"target shape \(3,\) differs from input shape \(3, 1\)"):
        F.mse_loss(cr.randn(3, 1), cr.randn(3))
    with pytest.raises(ValueError, match=r"\(3, 4\), got target of shape \(5,\)"):
        F.cross_entropy(cr.randn(3, 4), cr.tensor([0, 1, 2, 3, 0]))
    with pytest.raises(ValueError, match=r"target of shape \(3, 5\).*input of shape \(3, 4\)"):
        F.cross_entropy(cr.randn(3, 4), cr.rand(3, 5))


def test_other_bad_arguments():
    with pytest.raises(ValueError, match="between 0 and 1"):
        F.binary_cross_entropy(cr.tensor([1.5]), cr.tensor([1.0]))
    with pytest.raises(ValueError, match="reduction"):
        F.mse_loss(cr.randn(2), cr.randn(2), reduction="average")
    with pytest.raises(ValueError, match="reduction"):
        nn.CrossEntropyLoss(reduction="avg")
    with pytest.raises(ValueError, match=r"weight should have one entry per class \(4,\)"):
        F.cross_entropy(cr.randn(3, 4), cr.tensor([0, 1, 2]), weight=cr.ones(3))
    with pytest.raises(ValueError, match="label_smoothing"):
        F.cross_entropy(cr.randn(3, 4), cr.tensor([0, 1, 2]), label_smoothing=1.5)
