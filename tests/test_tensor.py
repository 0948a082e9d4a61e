"""Tensor: creation, dtypes, conversion, repr, in-place ops."""

import numpy as np
import pytest

import chainrule as cr


def test_float_data_defaults_to_float32():
    assert cr.tensor(1.5).dtype == np.float32
    assert cr.tensor([1.0, 2.0]).dtype == np.float32
    assert cr.tensor(np.zeros(3, dtype=np.float64)).dtype == np.float32
    assert cr.tensor([1, 2]).dtype == np.int64
    assert cr.tensor([True, False]).dtype == np.bool_
    assert cr.tensor([1.0], dtype=cr.float64).dtype == np.float64
    assert cr.tensor([1.0], dtype=np.float64).dtype == np.float64
    assert cr.tensor([1.0], dtype="float64").dtype == np.float64


def test_tensor_copies_but_from_numpy_shares():
    array = np.arange(3.0, dtype=np.float32)
    copied, shared = cr.tensor(array), cr.from_numpy(array)
    array[0] = 10
    assert copied.data[0] == 0 and shared.data[0] == 10
    assert cr.from_numpy(np.zeros(2, dtype=np.float64)).dtype == np.float64
    with pytest.raises(TypeError, match="numpy.ndarray"):
        cr.from_numpy([1, 2])


def test_python_scalars_never_upcast_float32():
    x = cr.ones(3)
    for result in (x * 0.1, x + 1e-3, 2.5 - x, x / 3.0, x ** 2.0, x * 2, 1 / x):
        assert result.dtype == np.float32
    assert (cr.ones(2, dtype=cr.float64) * 0.1).dtype == np.float64
    assert (cr.ones(2) * cr.ones(2, dtype=cr.float64)).dtype == np.float64
    assert (cr.ones(2) + cr.tensor([1, 2])).dtype == np.float32


def test_integer_tensors_cannot_require_grad():
    with pytest.raises(RuntimeError, match="only floating-point tensors can require gradients"):
        cr.tensor([1, 2], requires_grad=True)
    with pytest.raises(RuntimeError, match="floating-point"):
        cr.arange(3).requires_grad_()


def test_properties_and_conversion():
    x = cr.tensor(np.arange(6.0).reshape(2, 3))
    assert x.shape == (2, 3) and x.ndim == 2 and x.size == 6 and x.numel() == 6
    assert x.size() == (2, 3) and x.size(1) == 3
    assert x.T.shape == (3, 2)
    np.testing.assert_array_equal(np.asarray(x), np.arange(6.0).reshape(2, 3))
    assert x.tolist() == [[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]]
    assert cr.tensor([2.5]).item() == 2.5
    assert float(cr.tensor(2.5)) == 2.5 and int(cr.tensor(3)) == 3
    assert bool(cr.tensor([1.0])) is True
    assert x.numpy() is x.data
    assert x.detach().data is x.data
    assert x.to(cr.float64).dtype == np.float64 and x.double().dtype == np.float64
    assert x.long().dtype == np.int64 and x.float().dtype == np.float32
    assert len(x) == 2 and [row.shape for row in x] == [(3,), (3,)]


def test_one_element_conversions_raise_clearly():
    x = cr.ones(2, 2)
    with pytest.raises(ValueError, match="4 elements .* cannot be converted to a Python scalar"):
        x.item()
    with pytest.raises(ValueError, match="cannot be converted"):
        float(x)
    with pytest.raises(RuntimeError, match="ambiguous"):
        bool(x)
    with pytest.raises(RuntimeError, match="detach"):
        cr.ones(2, requires_grad=True).numpy()


def test_repr_is_readable():
    assert repr(cr.tensor([1.0, 2.0])) == "tensor([1., 2.])"
    x = cr.tensor([1.0], requires_grad=True)
    assert "requires_grad=True" in repr(x)
    assert "grad_fn=MulBackward" in repr(x * 2)
    assert "dtype=float64" in repr(cr.tensor([1.0], dtype=cr.float64))


def test_creation_functions():
    assert cr.zeros(2, 3).shape == (2, 3) and cr.zeros((2, 3)).shape == (2, 3)
    np.testing.assert_array_equal(cr.ones(2).data, np.ones(2, np.float32))
    np.testing.assert_array_equal(cr.full((2,), 7.0).data, [7.0, 7.0])
    assert cr.full((2,), 7.0).dtype == np.float32
    assert cr.empty(3).shape == (3,)
    np.testing.assert_array_equal(cr.arange(5).data, np.arange(5))
    assert cr.arange(0.0, 1.0, 0.25).dtype == np.float32
    np.testing.assert_allclose(cr.linspace(0, 1, 5).data, np.linspace(0, 1, 5))
    np.testing.assert_array_equal(cr.eye(3).data, np.eye(3))
    assert cr.zeros_like(cr.ones(2, dtype=cr.float64)).dtype == np.float64
    assert cr.ones_like(cr.ones(2, 2)).shape == (2, 2)
    r = cr.randint(0, 5, (100,))
    assert r.dtype == np.int64 and r.data.min() >= 0 and r.data.max() < 5
    assert cr.rand(3).dtype == np.float32 and cr.randn(3, dtype=cr.float64).dtype == np.float64
    with pytest.raises(ValueError, match="non-negative"):
        cr.zeros(-1)


def test_manual_seed_makes_random_calls_reproducible():
    cr.manual_seed(123)
    first = (cr.rand(4).data, cr.randn(2, 2).data, cr.randint(0, 10, (3,)).data)
    cr.manual_seed(123)
    second = (cr.rand(4).data, cr.randn(2, 2).data, cr.randint(0, 10, (3,)).data)
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)
    cr.manual_seed(124)
    assert not np.array_equal(cr.rand(4).data, first[0])


def test_inplace_ops_change_data_and_version():
    x = cr.ones(3)
    data = x.data
    x.add_(1).mul_(3).sub_(cr.ones(3), alpha=2)
    assert x.data is data
    np.testing.assert_array_equal(x.data, np.full(3, 4.0))
    assert x._version == 3
    x.div_(2)
    x.zero_()
    np.testing.assert_array_equal(x.data, 0)
    x.copy_(cr.tensor([1.0, 2.0, 3.0]))
    np.testing.assert_array_equal(x.data, [1, 2, 3])
    x[1] = 9.0
    np.testing.assert_array_equal(x.data, [1, 9, 3])
    x += 1
    np.testing.assert_array_equal(x.data, [2, 10, 4])
    assert x.data is data


def test_inplace_on_leaf_that_requires_grad_is_refused_unless_no_grad():
    w = cr.ones(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf tensor that requires grad .* in-place"):
        w.add_(1)
    with cr.no_grad():
        w -= 0.5
    np.testing.assert_array_equal(w.data, 0.5)
    assert w.requires_grad and w.is_leaf


def test_inplace_on_non_leaf_is_recorded():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    y.mul_(x)  # y = 2x², dy/dx = 4x
    y[0] = y[0] * 3  # first element now 6x²
    y.sum().backward()
    np.testing.assert_allclose(x.grad.data, [12 * 1.0, 4 * 2.0])


def test_modifying_a_saved_tensor_in_place_is_detected_at_backward():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    y = x * 1.0
    z = y.sin()
    y.add_(1)
    with pytest.raises(RuntimeError, match="modified by an in-place operation.*SinBackward|input 0 of Sin"):
        z.sum().backward()


def test_modifying_a_parameter_after_forward_is_detected():
    w = cr.tensor([[1.0, 2.0]], requires_grad=True)
    x = cr.ones(3, 1)
    loss = (x @ w).sum()
    with cr.no_grad():
        w.sub_(0.1)
    with pytest.raises(RuntimeError, match="version 1; expected version 0"):
        loss.backward()


def test_modifying_a_saved_output_in_place_is_detected():
    x = cr.tensor([0.5, 1.0], requires_grad=True)
    y = x.exp()
    with cr.no_grad():
        y.mul_(2)
    with pytest.raises(RuntimeError, match="output of Exp"):
        y.sum().backward()


def test_comparisons_give_bool_tensors():
    x = cr.tensor([1.0, 2.0, 3.0])
    assert (x > 1.5).dtype == np.bool_
    np.testing.assert_array_equal((x >= 2).data, [False, True, True])
    np.testing.assert_array_equal((x == 2).data, [False, True, False])
    np.testing.assert_array_equal((x != 2).data, [True, False, True])
    np.testing.assert_array_equal(((x < 3) & (x > 1)).data, [False, True, False])
    np.testing.assert_array_equal((~(x < 2)).data, [False, True, True])


def test_numpy_array_on_the_left_defers_to_tensor():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    y = np.array([3.0, 4.0], dtype=np.float32) * x
    assert isinstance(y, cr.Tensor) and y.requires_grad


def test_argmax_argmin_all_any():
    x = cr.tensor([[1.0, 5.0, 2.0], [7.0, 0.0, 3.0]])
    assert int(x.argmax()) == 3 and int(x.argmin()) == 4
    np.testing.assert_array_equal(x.argmax(dim=1).data, [1, 0])
    np.testing.assert_array_equal(x.argmin(axis=0).data, [0, 1, 0])
    assert x.argmax(dim=1).dtype == np.int64
    assert bool((x > -1).all()) and not bool((x > 6).all()) and bool((x > 6).any())
    values, indices = x.max(dim=1)
    np.testing.assert_array_equal(values.data, [5.0, 7.0])
    np.testing.assert_array_equal(indices.data, [1, 0])
    np.testing.assert_array_equal(x.max(axis=1).data, [5.0, 7.0])  # NumPy style: values only


def test_fill_with_a_tensor_value_sends_the_gradient_to_the_value():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    y = x * 1.0
    value = cr.tensor(3.0, requires_grad=True)
    y.fill_(value)
    (y * cr.tensor([1.0, 2.0])).sum().backward()
    np.testing.assert_array_equal(y.data, [3.0, 3.0])
    assert float(value.grad) == 3.0  # used at both positions, weighted 1 and 2
