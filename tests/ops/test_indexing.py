"""Indexing (chainrule/ops/indexing.py): ``x[index]`` and its scatter-add backward, ``x[index] =
value``, in-place writes through views (CopySlices), by the op specs; one_hot; index errors."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn.functional as F
from tests.ops.spec import OpSpec, SpecChecks


def _set_row(x, value):
    out = x.clone()
    out[1:] = value
    return out


def _np_set_row(x, value):
    out = x.copy()
    out[1:] = value
    return out


def _scale_a_view_in_place(x):
    out = x * 1.0
    out[:, 1:].mul_(x[:, :1])  # through a view of a non-leaf: the base takes CopySlices
    return out


def _np_scale_a_view_in_place(x):
    out = x.copy()
    out[:, 1:] *= x[:, :1]
    return out


# GetItem's backward is IndexAdd and IndexAdd's is GetItem: the double backward covers both.
SPECS = [
    OpSpec("index_basic", lambda a: a[1:, None, ::2], lambda a: a[1:, None, ::2],
           [((3, 4),), ((3, 0),)], covers=("GetItem", "IndexAdd"),
           torch=lambda torch, a: a[1:, None, ::2]),
    OpSpec("index_int_repeat", lambda a: a[[0, 2, 0, 0]], lambda a: a[[0, 2, 0, 0]],
           [((3, 4),), ((3, 0),)], covers=("GetItem", "IndexAdd"),
           torch=lambda torch, a: a[[0, 2, 0, 0]]),
    OpSpec("index_mask", lambda a: a[a.data > 0], lambda a: a[a > 0], [((3, 4),), ((0, 4),)],
           covers=("GetItem", "IndexAdd")),
    OpSpec("index_ellipsis", lambda a: a[..., 1], lambda a: a[..., 1],
           [((2, 3, 2),), ((0, 3, 2),)], covers=("GetItem", "IndexAdd"),
           torch=lambda torch, a: a[..., 1]),
    OpSpec("index_pair_arrays", lambda a: a[[0, 1, 1], [2, 2, 3]],
           lambda a: a[[0, 1, 1], [2, 2, 3]], [((3, 4),), ((3, 4, 0),)],
           covers=("GetItem", "IndexAdd"), torch=lambda torch, a: a[[0, 1, 1], [2, 2, 3]]),
    OpSpec("index_put", _set_row, _np_set_row, [((3, 4), (4,)), ((3, 4), (2, 1)), ((3, 0), (0,))],
           covers=("IndexPut",)),
    OpSpec("in_place_through_a_view", _scale_a_view_in_place, _np_scale_a_view_in_place,
           [((3, 4),), ((2, 3, 2),), ((0, 3),)], covers=("CopySlices",)),
]


class TestSpecs(SpecChecks):
    specs = SPECS


def test_in_place_through_a_view_of_a_zero_size_tensor():
    x = cr.zeros(0, 3, dtype=cr.float64, requires_grad=True)
    out = _scale_a_view_in_place(x)
    out.sum().backward()
    assert out.shape == (0, 3) and x.grad.shape == (0, 3)


def test_index_out_of_range_names_the_shape():
    with pytest.raises(IndexError, match=r"invalid for a tensor of shape \(2, 3\)"):
        cr.ones(2, 3)[5]


# ---------------------------------------------------------------------------- one_hot
def test_one_hot():
    out = F.one_hot(cr.tensor([2, 0, 1]), 4)
    assert out.dtype == np.int64
    np.testing.assert_array_equal(out.data, np.eye(4, dtype=np.int64)[[2, 0, 1]])
    assert F.one_hot(cr.tensor([[1, 3]])).shape == (1, 2, 4)
    with pytest.raises(ValueError, match=r"class index 5 is out of range for num_classes=4"):
        F.one_hot(cr.tensor([5]), 4)
    with pytest.raises(TypeError, match="index tensors"):
        F.one_hot(cr.tensor([1.0]), 2)


def test_one_hot_matches_pytorch():
    torch = pytest.importorskip("torch")
    labels = np.array([[0, 3], [2, 1]])
    np.testing.assert_array_equal(
        F.one_hot(cr.tensor(labels), 5).data,
        torch.nn.functional.one_hot(torch.tensor(labels), 5).numpy())
