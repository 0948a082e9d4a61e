"""Errors name the op and both shapes, and tell what to do."""

import numpy as np
import pytest

import chainrule as cr


def test_matmul_mismatch_names_both_shapes():
    with pytest.raises(ValueError, match=r"matmul: shapes \(2, 3\) and \(4, 5\) are not aligned"):
        cr.ones(2, 3) @ cr.ones(4, 5)
    with pytest.raises(ValueError, match=r"matmul: shapes \(2, 3\) and \(4,\).*only dimension"):
        cr.ones(2, 3) @ cr.ones(4)
    with pytest.raises(ValueError, match=r"batch dimensions of shapes \(2, 3, 4\) and \(3, 4, 5\)"):
        cr.ones(2, 3, 4) @ cr.ones(3, 4, 5)
    with pytest.raises(ValueError, match="at least 1 dimension"):
        cr.ones(2) @ cr.tensor(3.0)


@pytest.mark.parametrize("op,symbol", [("add", "+"), ("sub", "-"), ("mul", "*"), ("div", "/")])
def test_elementwise_mismatch_names_op_and_shapes(op, symbol):
    a, b = cr.ones(2, 3), cr.ones(4)
    with pytest.raises(ValueError, match=rf"{op}: shapes \(2, 3\) and \(4,\) cannot be broadcast"):
        eval(f"a {symbol} b")


def test_other_shape_errors():
    with pytest.raises(ValueError, match=r"cannot reshape a tensor of shape \(2, 3\).*into shape \(4, 2\)"):
        cr.ones(2, 3).reshape(4, 2)
    with pytest.raises(IndexError, match="dim 2 is out of range for a tensor with 2 dimension"):
        cr.ones(2, 3).sum(dim=2)
    with pytest.raises(ValueError, match=r"cat: tensor 1 has shape \(2, 4\).*tensor 0's \(3, 4\)"):
        cr.cat([cr.ones(3, 4), cr.ones(2, 4)], dim=1)
    with pytest.raises(ValueError, match=r"stack: tensor 1 has shape"):
        cr.stack([cr.ones(3), cr.ones(2)])
    with pytest.raises(ValueError, match=r"expand: cannot expand shape \(2, 3\) to|cannot be broadcast"):
        cr.ones(2, 3).expand(4, 3)
    with pytest.raises(IndexError, match=r"invalid for a tensor of shape \(2, 3\)"):
        cr.ones(2, 3)[5]
    with pytest.raises(ValueError, match="split: sizes .* add up to 4 but dimension 0 has 5"):
        cr.ones(5).split([2, 2])
    with pytest.raises(TypeError, match="unexpected keyword"):
        cr.ones(3).sum(axes=0)
    with pytest.raises(TypeError, match="mean needs a floating-point tensor"):
        cr.arange(3).mean()
    with pytest.raises(ValueError, match="only mode='constant'"):
        cr.pad(cr.ones(3), (1, 1), mode="reflect")


def test_numpy_style_aliases():
    x = cr.tensor(np.arange(6.0).reshape(2, 3))
    np.testing.assert_array_equal(x.sum(axis=0, keepdims=True).data, [[3.0, 5.0, 7.0]])
    np.testing.assert_array_equal(x.mean(axis=1).data, [1.0, 4.0])
    np.testing.assert_allclose(x.var(axis=1, ddof=0).data, np.var(x.data, axis=1))
    with pytest.raises(TypeError, match="dim or axis, not both"):
        x.sum(dim=0, axis=0)
