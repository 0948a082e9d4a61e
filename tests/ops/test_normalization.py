"""Normalization (chainrule/ops/normalization.py): batch_norm with batch or running statistics,
with and without an affine transform, and layer_norm, by the op specs; argument errors."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn.functional as F
from tests.ops.spec import OpSpec, SpecChecks

EPS = 1e-5
RUNNING_MEAN, RUNNING_VAR = np.array([0.1, -0.2, 0.3]), np.array([0.5, 1.5, 2.0])


def _channels(values, ndim):
    return values.reshape((1, -1) + (1,) * (ndim - 2))


def _np_batch_norm(x, weight=None, bias=None, mean=None, var=None):
    """Batch statistics (biased variance) over every dim but 1, unless mean and var are given."""
    axes = (0,) + tuple(range(2, x.ndim))
    if mean is None:
        mean, var = x.mean(axis=axes, keepdims=True), x.var(axis=axes, keepdims=True)
    else:
        mean, var = _channels(mean, x.ndim), _channels(var, x.ndim)
    out = (x - mean) / np.sqrt(var + EPS)
    if weight is not None:
        out = out * _channels(weight, x.ndim) + _channels(bias, x.ndim)
    return out


def _batch_norm_eval(x, weight, bias):
    mean = cr.tensor(RUNNING_MEAN, dtype=x.dtype)
    var = cr.tensor(RUNNING_VAR, dtype=x.dtype)
    return F.batch_norm(x, mean, var, weight, bias, training=False)


def _np_layer_norm(x, weight, bias):
    mean, var = x.mean(axis=(-2, -1), keepdims=True), x.var(axis=(-2, -1), keepdims=True)
    return (x - mean) / np.sqrt(var + EPS) * weight + bias


SPECS = [
    OpSpec("batch_norm", lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True),
           _np_batch_norm, [((5, 3), (3,), (3,)), ((4, 3, 2, 2), (3,), (3,))],
           covers=("Normalize",), tolerance=(1e-9, 1e-11),
           torch=lambda torch, x, w, b: torch.nn.functional.batch_norm(x, None, None, w, b,
                                                                      training=True),
           no_zero_size="batch statistics need more than one value per channel (PyTorch raises)"),
    OpSpec("batch_norm_no_affine", lambda x: F.batch_norm(x, None, None, training=True),
           _np_batch_norm, [((6, 3),), ((2, 3, 4),)], covers=("Normalize",),
           tolerance=(1e-9, 1e-11),
           no_zero_size="batch statistics need more than one value per channel (PyTorch raises)"),
    OpSpec("batch_norm_eval", _batch_norm_eval,
           lambda x, w, b: _np_batch_norm(x, w, b, RUNNING_MEAN, RUNNING_VAR),
           [((5, 3), (3,), (3,)), ((4, 3, 2, 2), (3,), (3,)), ((0, 3), (3,), (3,))],
           covers=("Normalize",),
           torch=lambda torch, x, w, b: torch.nn.functional.batch_norm(
               x, torch.tensor(RUNNING_MEAN), torch.tensor(RUNNING_VAR), w, b, training=False)),
    OpSpec("layer_norm", lambda x, w, b: F.layer_norm(x, (3, 4), w, b), _np_layer_norm,
           [((2, 3, 4), (3, 4), (3, 4)), ((0, 3, 4), (3, 4), (3, 4))], covers=("Normalize",),
           tolerance=(1e-9, 1e-11),
           torch=lambda torch, x, w, b: torch.nn.functional.layer_norm(x, (3, 4), w, b)),
]


class TestSpecs(SpecChecks):
    specs = SPECS


def test_batch_norm_weight_of_the_wrong_shape_is_named():
    with pytest.raises(ValueError, match=r"weight has shape \(4,\) but the input has 3 channels"):
        F.batch_norm(cr.randn(4, 3), None, None, weight=cr.ones(4), training=True)


def test_layer_norm_shape_error():
    with pytest.raises(ValueError, match=r"normalized_shape \(5,\) must match the last "
                                         r"dimensions of the input, whose shape is \(2, 4\)"):
        F.layer_norm(cr.randn(2, 4), (5,))


@pytest.mark.parametrize("op", ["batch_norm", "layer_norm"])
def test_parameters_of_another_dtype_are_an_error_as_in_pytorch(op):
    x = cr.randn(4, 3)  # float32
    double = cr.ones(3, dtype=cr.float64)
    calls = {"batch_norm": lambda: F.batch_norm(x, double * 0, double, training=False),
             "layer_norm": lambda: F.layer_norm(x, (3,), double)}
    with pytest.raises(TypeError, match=f"{op}: input dtype float32 does not match .* float64"):
        calls[op]()
