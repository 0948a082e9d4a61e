"""Embedding lookup (chainrule/ops/embedding.py): rows picked by indices, the gradient summed
into repeated rows, padding_idx rows without gradient, scale_grad_by_freq, max_norm's in-place
renormalization, by the op specs and against PyTorch; the argument errors."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn.functional as F
from tests.ops.spec import OpSpec, SpecChecks

INDICES = np.array([[1, 3, 1], [0, 4, 1]])  # 1 repeats; 2 is never used


def _lookup(**options):
    def op(weight):
        indices = INDICES % weight.shape[0] if weight.shape[0] else np.zeros((2, 0), np.int64)
        return F.embedding(cr.tensor(indices), weight, **options)

    return op


def _reference(weight):
    indices = INDICES % weight.shape[0] if weight.shape[0] else np.zeros((2, 0), np.int64)
    return weight[indices]


def _torch(**options):
    def run(torch, weight):
        indices = INDICES % weight.shape[0]
        return torch.nn.functional.embedding(torch.tensor(indices), weight, **options)

    return run


SPECS = [
    OpSpec("embedding", _lookup(), _reference, [((5, 3),), ((5, 0),), ((0, 2),)],
           covers=("EmbeddingLookup", "IndexAdd"), torch=_torch()),
]


class TestSpecs(SpecChecks):
    specs = SPECS


# padding_idx and scale_grad_by_freq change the gradient on purpose (it is no longer the
# derivative), so they are checked against PyTorch and by hand instead of finite differences.
@pytest.mark.parametrize("options", [dict(padding_idx=1), dict(scale_grad_by_freq=True),
                                     dict(scale_grad_by_freq=True, padding_idx=-1)])
def test_gradient_options_match_pytorch(options):
    torch = pytest.importorskip("torch")
    values = np.random.default_rng(1).standard_normal((5, 3))
    grad_output = np.random.default_rng(2).standard_normal(INDICES.shape + (3,))
    weight = cr.tensor(values, dtype=cr.float64, requires_grad=True)
    reference = torch.tensor(values, requires_grad=True)
    out = F.embedding(cr.tensor(INDICES), weight, **options)
    torch_options = dict(options)
    if torch_options.get("padding_idx") == -1:
        torch_options["padding_idx"] = 4
    expected = torch.nn.functional.embedding(torch.tensor(INDICES), reference, **torch_options)
    np.testing.assert_array_equal(out.data, expected.detach().numpy())
    out.backward(cr.tensor(grad_output, dtype=cr.float64))
    expected.backward(torch.tensor(grad_output))
    np.testing.assert_allclose(weight.grad.data, reference.grad.numpy(), rtol=1e-14)
    # the recorded path (for double backward) gives the same gradient
    weight.grad = None
    (grad,) = cr.grad(F.embedding(cr.tensor(INDICES), weight, **options), [weight],
                      cr.tensor(grad_output, dtype=cr.float64, requires_grad=True),
                      create_graph=True)
    np.testing.assert_allclose(grad.data, reference.grad.numpy(), rtol=1e-14)
    assert grad.requires_grad


def test_padding_row_gets_no_gradient_and_repeats_add_up():
    weight = cr.randn(5, 2, requires_grad=True)
    F.embedding(cr.tensor([[1, 1, 0], [1, 3, 0]]), weight, padding_idx=0).sum().backward()
    expected = np.zeros((5, 2))
    expected[1], expected[3] = 3.0, 1.0
    np.testing.assert_array_equal(weight.grad.data, expected)


def test_max_norm_renormalizes_the_rows_used_in_place_as_pytorch():
    torch = pytest.importorskip("torch")
    values = np.random.default_rng(0).standard_normal((6, 4)) * 3
    weight, reference = cr.tensor(values), torch.tensor(values, dtype=torch.float32)
    indices = [[0, 2], [2, 5]]
    out = F.embedding(cr.tensor(indices), weight, max_norm=1.5, norm_type=1.0)
    expected = torch.nn.functional.embedding(torch.tensor(indices), reference, max_norm=1.5,
                                             norm_type=1.0)
    np.testing.assert_allclose(out.data, expected.numpy(), rtol=1e-6)
    np.testing.assert_allclose(weight.data, reference.numpy(), rtol=1e-6)
    assert np.abs(weight.data[[0, 2, 5]]).sum(1).max() <= 1.5 + 1e-5
    np.testing.assert_array_equal(weight.data[1], values[1].astype(np.float32))


@pytest.mark.parametrize("call, error, match", [
    (lambda w: F.embedding(cr.tensor([0.5]), w), TypeError, "integer indices, got dtype float32"),
    (lambda w: F.embedding(cr.tensor([4]), w), IndexError, r"indices must be in \[0, 4\)"),
    (lambda w: F.embedding(cr.tensor([-1]), w), IndexError, "from -1 to -1"),
    (lambda w: F.embedding(cr.tensor([0]), cr.zeros(4)), ValueError, "weight must be 2-D"),
    (lambda w: F.embedding(cr.tensor([0]), w, padding_idx=4), ValueError, "padding_idx"),
    (lambda w: F.embedding(cr.tensor([0]), w, sparse=True), ValueError, "sparse gradient"),
])
def test_bad_arguments_say_what_was_expected(call, error, match):
    with pytest.raises(error, match=match):
        call(cr.zeros(4, 2))
