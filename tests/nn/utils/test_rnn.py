"""nn.utils.rnn (chainrule/nn/utils/rnn.py): pad_sequence, pack_padded_sequence (sorted and
not), pad_packed_sequence (batch_first, padding_value, total_length) and pack_sequence give
PyTorch's tensors, batch sizes and indices; gradients flow through packing and padding; the
argument errors."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule.autograd import gradcheck
from chainrule.nn.utils.rnn import (
    PackedSequence, pack_padded_sequence, pack_sequence, pad_packed_sequence, pad_sequence,
)

LENGTHS = [3, 5, 1, 3]


def _sequences(rng):
    return [rng.standard_normal((n, 2)) for n in LENGTHS]


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("side", ["right", "left"])
def test_pad_sequence_matches_pytorch(batch_first, side):
    torch = pytest.importorskip("torch")
    sequences = _sequences(np.random.default_rng(0))
    ours = pad_sequence([cr.tensor(s) for s in sequences], batch_first, -1.0, side)
    theirs = torch.nn.utils.rnn.pad_sequence([torch.tensor(s, dtype=torch.float32)
                                              for s in sequences], batch_first, -1.0, side)
    np.testing.assert_array_equal(ours.data, theirs.numpy())


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("enforce_sorted", [True, False])
def test_pack_and_pad_match_pytorch(batch_first, enforce_sorted):
    torch = pytest.importorskip("torch")
    lengths = sorted(LENGTHS, reverse=True) if enforce_sorted else LENGTHS
    x = np.random.default_rng(1).standard_normal((4, 5, 2) if batch_first else (5, 4, 2))
    ours = pack_padded_sequence(cr.tensor(x), lengths, batch_first, enforce_sorted)
    theirs = torch.nn.utils.rnn.pack_padded_sequence(torch.tensor(x, dtype=torch.float32),
                                                     lengths, batch_first, enforce_sorted)
    assert isinstance(ours, PackedSequence)
    np.testing.assert_array_equal(ours.data.data, theirs.data.numpy())
    np.testing.assert_array_equal(ours.batch_sizes.data, theirs.batch_sizes.numpy())
    for mine, reference in [(ours.sorted_indices, theirs.sorted_indices),
                            (ours.unsorted_indices, theirs.unsorted_indices)]:
        assert (mine is None) == (reference is None)
        if mine is not None:
            np.testing.assert_array_equal(mine.data, reference.numpy())
    padded, out_lengths = pad_packed_sequence(ours, batch_first, 9.0, total_length=6)
    expected, expected_lengths = torch.nn.utils.rnn.pad_packed_sequence(
        theirs, batch_first, 9.0, total_length=6)
    np.testing.assert_array_equal(padded.data, expected.numpy())
    np.testing.assert_array_equal(out_lengths.data, expected_lengths.numpy())


def test_pack_sequence_matches_pytorch():
    torch = pytest.importorskip("torch")
    sequences = _sequences(np.random.default_rng(2))
    ours = pack_sequence([cr.tensor(s) for s in sequences], enforce_sorted=False)
    theirs = torch.nn.utils.rnn.pack_sequence([torch.tensor(s, dtype=torch.float32)
                                               for s in sequences], enforce_sorted=False)
    np.testing.assert_array_equal(ours.data.data, theirs.data.numpy())
    np.testing.assert_array_equal(ours.batch_sizes.data, theirs.batch_sizes.numpy())


def test_gradients_flow_through_packing_and_padding():
    x = cr.randn(5, 4, 2, dtype=cr.float64, requires_grad=True)

    def round_trip(x):
        packed = pack_padded_sequence(x, LENGTHS, enforce_sorted=False)
        return pad_packed_sequence(packed)[0] * 2.0

    assert gradcheck(round_trip, [x])
    round_trip(x).sum().backward()
    expected = np.zeros((5, 4, 2))
    for b, n in enumerate(LENGTHS):
        expected[:n, b] = 2.0  # padding positions never reach the packed data
    np.testing.assert_array_equal(x.grad.data, expected)


@pytest.mark.parametrize("call, error, match", [
    (lambda: pack_padded_sequence(cr.zeros(5, 4, 2), LENGTHS), RuntimeError,
     "must be sorted in decreasing order"),
    (lambda: pack_padded_sequence(cr.zeros(5, 3, 2), LENGTHS), ValueError, "4 lengths"),
    (lambda: pack_padded_sequence(cr.zeros(5, 2, 2), [6, 1]), ValueError, "longer than"),
    (lambda: pack_padded_sequence(cr.zeros(5, 2, 2), [2, 0]), ValueError, "greater than 0"),
    (lambda: pad_sequence([cr.zeros(2, 3), cr.zeros(2, 4)]), ValueError, "every sequence"),
    (lambda: pad_sequence([]), ValueError, "non-empty"),
    (lambda: pad_packed_sequence(cr.zeros(3)), TypeError, "expects a PackedSequence"),
    (lambda: pad_packed_sequence(pack_sequence([cr.zeros(3)]), total_length=2), ValueError,
     "shorter than the longest"),
])
def test_bad_arguments_are_refused(call, error, match):
    with pytest.raises(error, match=match):
        call()
