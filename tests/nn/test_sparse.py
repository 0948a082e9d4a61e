"""Embedding (chainrule/nn/sparse.py): PyTorch's initialization (N(0, 1), the padding row
zeros), values and gradients as PyTorch's, the padding row fixed by training, from_pretrained
(frozen by default), and the argument errors."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn


def test_initialization_is_standard_normal_with_a_zero_padding_row():
    cr.manual_seed(0)
    table = nn.Embedding(1000, 50, padding_idx=-1)
    assert table.padding_idx == 999 and table.weight.shape == (1000, 50)
    values = table.weight.data
    assert not values[999].any()
    assert abs(values[:999].std() - 1.0) < 0.02 and abs(values[:999].mean()) < 0.02


def test_matches_pytorch_and_the_padding_row_stays_fixed():
    torch = pytest.importorskip("torch")
    ours = nn.Embedding(6, 3, padding_idx=2)
    theirs = torch.nn.Embedding(6, 3, padding_idx=2)
    ours.load_state_dict({"weight": cr.from_numpy(theirs.weight.detach().numpy().copy())})
    indices = [[0, 2, 5], [2, 2, 1]]
    out, expected = ours(cr.tensor(indices)), theirs(torch.tensor(indices))
    np.testing.assert_array_equal(out.data, expected.detach().numpy())
    (out * out).sum().backward()
    (expected * expected).sum().backward()
    np.testing.assert_allclose(ours.weight.grad.data, theirs.weight.grad.numpy(), rtol=1e-6)
    before = ours.weight.data[2].copy()
    cr.optim.SGD(ours.parameters(), lr=0.5).step()
    np.testing.assert_array_equal(ours.weight.data[2], before)


def test_from_pretrained_copies_and_freezes():
    vectors = cr.randn(4, 2)
    table = nn.Embedding.from_pretrained(vectors)
    assert not table.weight.requires_grad
    np.testing.assert_array_equal(table(cr.tensor([3, 1])).data, vectors.data[[3, 1]])
    vectors.data[0] = 7.0
    assert table.weight.data[0, 0] != 7.0
    assert nn.Embedding.from_pretrained(vectors, freeze=False).weight.requires_grad
    assert "Embedding(4, 2)" == repr(table)


@pytest.mark.parametrize("make, error, match", [
    (lambda: nn.Embedding(4, 2, padding_idx=4), ValueError, "padding_idx must be an int within"),
    (lambda: nn.Embedding(4, 2, sparse=True), ValueError, "sparse gradients"),
    (lambda: nn.Embedding(-1, 2), ValueError, "num_embeddings must be an int >= 0"),
    (lambda: nn.Embedding(4, 2, _weight=cr.zeros(3, 2)), ValueError, r"_weight must have shape"),
    (lambda: nn.Embedding.from_pretrained(cr.zeros(3)), ValueError, "embeddings must be 2-D"),
])
def test_bad_arguments_are_refused(make, error, match):
    with pytest.raises(error, match=match):
        make()
