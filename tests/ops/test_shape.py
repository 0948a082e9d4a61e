"""Shape ops (chainrule/ops/shape.py): reshape and its forms, permute and transpose, expand,
repeat, cat and stack, split and chunk, pad, by the op specs; their error messages."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn.functional as F
from tests.ops.spec import OpSpec, SpecChecks

UNARY_SHAPES = [((3, 4),), ((2, 3, 2),), ((),), ((0, 2),)]

SPECS = [
    OpSpec("reshape", lambda a: a.reshape(-1, 2), lambda a: a.reshape(-1, 2),
           [((3, 4),), ((2, 3, 2),), ((0, 2),)], covers=("Reshape",),
           torch=lambda torch, a: a.reshape(-1, 2)),
    OpSpec("flatten", lambda a: a.flatten(1),
           lambda a: a.reshape(a.shape[0], int(np.prod(a.shape[1:]))),
           [((2, 3, 2),), ((0, 3, 2),)], covers=("Reshape",),
           torch=lambda torch, a: a.flatten(1)),
    OpSpec("transpose", lambda a: a.transpose(0, -1), lambda a: np.swapaxes(a, 0, -1),
           [((3, 4),), ((2, 3, 2),), ((0, 3),)], covers=("Permute",),
           torch=lambda torch, a: a.transpose(0, -1)),
    OpSpec("permute", lambda a: a.permute(2, 0, 1), lambda a: a.transpose(2, 0, 1),
           [((2, 3, 2),), ((2, 0, 3),)], covers=("Permute",),
           torch=lambda torch, a: a.permute(2, 0, 1)),
    OpSpec("T", lambda a: a.T, lambda a: a.T, [((3, 4),), ((0, 4),)], covers=("Permute",)),
    OpSpec("squeeze", lambda a: a.squeeze(1), lambda a: a.squeeze(1), [((3, 1, 2),), ((0, 1, 2),)],
           covers=("Reshape",), torch=lambda torch, a: a.squeeze(1)),
    OpSpec("unsqueeze", lambda a: a.unsqueeze(-1), lambda a: a[..., None], UNARY_SHAPES,
           covers=("Reshape",), torch=lambda torch, a: a.unsqueeze(-1)),
    OpSpec("expand", lambda a: a.expand(2, *a.shape[:-1], 4),
           lambda a: np.broadcast_to(a, (2,) + a.shape[:-1] + (4,)),
           [((3, 1),), ((4,),), ((0, 1),)], covers=("Expand",),
           torch=lambda torch, a: a.expand(2, *a.shape[:-1], 4)),
    OpSpec("repeat", lambda a: a.repeat(2, 1, 3), lambda a: np.tile(a, (2, 1, 3)),
           [((3, 4),), ((2, 3, 2),), ((0, 2),)], covers=("Repeat",),
           torch=lambda torch, a: a.repeat(2, 1, 3)),
    OpSpec("cat", lambda a, b: cr.cat([a, b, a], dim=1),
           lambda a, b: np.concatenate([a, b, a], axis=1), [((2, 3), (2, 1)), ((2, 0), (2, 2))],
           covers=("Cat",), torch=lambda torch, a, b: torch.cat([a, b, a], dim=1)),
    OpSpec("stack", lambda a, b: cr.stack([a, b], dim=-1), lambda a, b: np.stack([a, b], -1),
           [((2, 3), (2, 3)), ((0, 3), (0, 3))], covers=("Cat",),
           torch=lambda torch, a, b: torch.stack([a, b], dim=-1)),
    OpSpec("split", lambda a: a.split(2, dim=1)[1], lambda a: a[:, 2:4], [((3, 5),), ((0, 5),)],
           covers=("GetItem",), torch=lambda torch, a: a.split(2, dim=1)[1]),
    OpSpec("chunk", lambda a: a.chunk(3, dim=0)[2], lambda a: a[4:], [((5, 2),), ((5, 0),)],
           covers=("GetItem",), torch=lambda torch, a: a.chunk(3, dim=0)[2]),
    OpSpec("pad", lambda a: cr.pad(a, (1, 2, 0, 1), value=0.5),
           lambda a: np.pad(a, ((0, 1), (1, 2)), constant_values=0.5), [((3, 4),), ((0, 4),)],
           covers=("Pad",),
           torch=lambda torch, a: torch.nn.functional.pad(a, (1, 2, 0, 1), value=0.5)),
]


class TestSpecs(SpecChecks):
    specs = SPECS


def test_pad_is_pytorch_style_from_the_last_dimension():
    x = cr.ones(1, 2, 3)
    assert F.pad(x, (1, 2)).shape == (1, 2, 6)
    assert F.pad(x, (1, 1, 2, 0)).shape == (1, 4, 5)


def test_shape_errors_name_the_shapes():
    with pytest.raises(ValueError, match=r"cannot reshape a tensor of shape \(2, 3\).*into "
                                         r"shape \(4, 2\)"):
        cr.ones(2, 3).reshape(4, 2)
    with pytest.raises(ValueError, match=r"cat: tensor 1 has shape \(2, 4\).*tensor 0's \(3, 4\)"):
        cr.cat([cr.ones(3, 4), cr.ones(2, 4)], dim=1)
    with pytest.raises(ValueError, match=r"stack: tensor 1 has shape"):
        cr.stack([cr.ones(3), cr.ones(2)])
    with pytest.raises(ValueError, match=r"expand: cannot expand shape \(2, 3\) to|cannot be "
                                         r"broadcast"):
        cr.ones(2, 3).expand(4, 3)
    with pytest.raises(ValueError, match="split: sizes .* add up to 4 but dimension 0 has 5"):
        cr.ones(5).split([2, 2])
    with pytest.raises(ValueError, match="only mode='constant'"):
        cr.pad(cr.ones(3), (1, 1), mode="reflect")
