"""Cross-entropy and negative log-likelihood (chainrule/ops/cross_entropy.py) for every
reduction, with class weights, ignored targets, label smoothing, spatial targets and
probability targets, by the op specs against PyTorch's documented definitions written out in
NumPy; the gradient's closed form, unbatched inputs, extreme logits and error messages."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn.functional as F
from tests.ops.spec import OpSpec, SpecChecks

W4 = np.array([0.5, 1.0, 2.0, 1.5])
NO_EMPTY_MEAN = "the mean over no targets is 0/0"


# ---------------------------------------------------------------------------- NumPy references
def _reduce(loss, reduction):
    return {"mean": np.mean, "sum": np.sum, "none": lambda v: v}[reduction](loss)


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


# ---------------------------------------------------------------------------- the specs
def labels(scores_shape, ignore=False) -> np.ndarray:
    """Fixed class indices for scores of shape (N, C, d1, ...): shape (N, d1, ...), the first
    one ignored (-100) when ``ignore``."""
    shape = scores_shape[:1] + scores_shape[2:]
    target = (np.arange(int(np.prod(shape)), dtype=np.int64) * 7 + 3) % scores_shape[1]
    if ignore and target.size:
        target[0] = -100
    return target.reshape(shape)


def distributions(x):
    """Rows of class probabilities (along dim 1) from standard-normal draws."""
    e = np.exp(x)
    return e / e.sum(axis=1, keepdims=True)


def _with_labels(function, ignore=False, **options):
    """``function(scores, labels(scores.shape), **options)`` for chainrule or NumPy arrays."""

    def op(x):
        kwargs = {k: cr.tensor(v, dtype=x.dtype) if isinstance(v, np.ndarray) else v
                  for k, v in options.items()}
        return function(x, cr.tensor(labels(x.shape, ignore)), **kwargs)

    return op


def _torch_with_labels(name, ignore=False, **options):
    def op(torch, x):
        kwargs = {k: torch.tensor(v) if isinstance(v, np.ndarray) else v
                  for k, v in options.items()}
        target = torch.tensor(labels(tuple(x.shape), ignore))
        return getattr(torch.nn.functional, name)(x, target, **kwargs)

    return op


def _specs(reduction):
    r = {"reduction": reduction}
    empty = NO_EMPTY_MEAN if reduction == "mean" else ""

    def spec(name, shape, function, reference, torch, covers, domain=lambda x: x, ignore=False,
             **options):
        zero = () if reduction == "mean" else ((0,) + shape[1:],)
        return OpSpec(
            f"{name}-{reduction}", _with_labels(function, ignore, **options, **r),
            lambda x: reference(x, labels(x.shape, ignore), **options, **r),
            [(shape,)] + [(s,) for s in zero], covers=covers, domain=domain,
            torch=_torch_with_labels(torch, ignore, **options, **r), no_zero_size=empty)

    return [
        spec("cross_entropy", (5, 4), F.cross_entropy, np_cross_entropy, "cross_entropy",
             ("CrossEntropy",)),
        spec("cross_entropy_full", (5, 4), F.cross_entropy, np_cross_entropy, "cross_entropy",
             ("CrossEntropy",), ignore=True, weight=W4, label_smoothing=0.2),
        spec("cross_entropy_spatial", (2, 4, 3, 2), F.cross_entropy, np_cross_entropy,
             "cross_entropy", ("CrossEntropy",), ignore=True, weight=W4),
        spec("nll", (5, 4), F.nll_loss, np_nll, "nll_loss", ("NLLLoss",), np_log_softmax,
             ignore=True, weight=W4),
        OpSpec(f"cross_entropy_probs-{reduction}",
               lambda x, q: F.cross_entropy(x, q, cr.tensor(W4, dtype=x.dtype),
                                            label_smoothing=0.1, **r),
               lambda x, q: np_cross_entropy(x, q, W4, label_smoothing=0.1, **r),
               [((5, 4), (5, 4))] + ([] if reduction == "mean" else [((0, 4), (0, 4))]),
               covers=("CrossEntropy",), domain=(lambda x: x, distributions),
               no_zero_size=empty,
               torch=lambda torch, x, q: torch.nn.functional.cross_entropy(
                   x, q, torch.tensor(W4), label_smoothing=0.1, **r)),
    ]


SPECS = [spec for reduction in ("mean", "sum", "none") for spec in _specs(reduction)]


class TestSpecs(SpecChecks):
    specs = SPECS


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


def test_extreme_logits_are_finite_without_numpy_warnings():
    x = cr.tensor([[-1000.0, 1000.0, 0.0, -100.0, 100.0]], requires_grad=True)
    with warnings.catch_warnings(), np.errstate(all="raise"):
        warnings.simplefilter("error")
        loss = F.cross_entropy(x, cr.tensor([0]))
        loss.backward()
    assert np.isfinite(loss.item()) and np.isfinite(x.grad.data).all()


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


def test_shape_mismatches_name_both_shapes():
    with pytest.raises(ValueError, match=r"\(3, 4\), got target of shape \(5,\)"):
        F.cross_entropy(cr.randn(3, 4), cr.tensor([0, 1, 2, 3, 0]))
    with pytest.raises(ValueError, match=r"target of shape \(3, 5\).*input of shape \(3, 4\)"):
        F.cross_entropy(cr.randn(3, 4), cr.rand(3, 5))


def test_other_bad_arguments():
    with pytest.raises(ValueError, match=r"weight should have one entry per class \(4,\)"):
        F.cross_entropy(cr.randn(3, 4), cr.tensor([0, 1, 2]), weight=cr.ones(3))
    with pytest.raises(ValueError, match="label_smoothing"):
        F.cross_entropy(cr.randn(3, 4), cr.tensor([0, 1, 2]), label_smoothing=1.5)
