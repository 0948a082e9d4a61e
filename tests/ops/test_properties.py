"""Property tests (hypothesis): broadcasting and reductions agree with NumPy for any shapes."""

import numpy as np
from hypothesis import given, settings, strategies as st
from hypothesis.extra import numpy as hnp

import chainrule as cr

shapes = hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=4)


@settings(max_examples=60, deadline=None)
@given(hnp.mutually_broadcastable_shapes(num_shapes=2, max_dims=4, max_side=4),
       st.sampled_from(["add", "sub", "mul", "maximum"]))
def test_binary_broadcasting_matches_numpy_and_grads_have_input_shapes(shapes_pair, op):
    shape_a, shape_b = shapes_pair.input_shapes
    rng = np.random.default_rng(0)
    a_np = rng.standard_normal(shape_a)
    b_np = rng.standard_normal(shape_b)
    a = cr.tensor(a_np, dtype=cr.float64, requires_grad=True)
    b = cr.tensor(b_np, dtype=cr.float64, requires_grad=True)
    out = getattr(cr, op)(a, b)
    reference = {"add": np.add, "sub": np.subtract, "mul": np.multiply, "maximum": np.maximum}
    np.testing.assert_allclose(out.data, reference[op](a_np, b_np))
    assert out.shape == shapes_pair.result_shape
    out.sum().backward()
    assert a.grad.shape == shape_a and b.grad.shape == shape_b
    if op == "add":
        # d/da sum(a + b) counts how many times each element of a was used.
        uses = np.prod(shapes_pair.result_shape) / max(np.prod(shape_a), 1)
        np.testing.assert_allclose(a.grad.data, np.full(shape_a, uses))


@settings(max_examples=60, deadline=None)
@given(shapes, st.data(), st.booleans(), st.sampled_from(["sum", "mean", "amax"]))
def test_reductions_match_numpy_for_any_dims(shape, data, keepdim, name):
    ndim = len(shape)
    dims = data.draw(st.one_of(st.none(), st.lists(st.integers(-max(ndim, 1), max(ndim, 1) - 1),
                                                    min_size=1, max_size=max(ndim, 1),
                                                    unique_by=lambda d: d % max(ndim, 1))))
    axis = None if dims is None else tuple(dims)
    x_np = np.random.default_rng(1).standard_normal(shape)
    reduced_sizes = (x_np.size if axis is None else
                     int(np.prod([shape[d % ndim] for d in axis])) if ndim else 1)
    if name != "sum" and reduced_sizes == 0:
        return  # the mean or max of nothing is undefined
    if ndim == 0 and axis is not None:
        axis = None
    x = cr.tensor(x_np, dtype=cr.float64, requires_grad=True)
    out = getattr(x, name)(dim=axis, keepdim=keepdim)
    reference = {"sum": np.sum, "mean": np.mean, "amax": np.max}[name](x_np, axis=axis,
                                                                        keepdims=keepdim)
    np.testing.assert_allclose(out.data, reference)
    out.sum().backward()
    assert x.grad.shape == x_np.shape
    if name == "sum":
        np.testing.assert_array_equal(x.grad.data, np.ones(shape))
