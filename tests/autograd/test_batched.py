"""Batched vector-Jacobian products (chainrule/autograd/batched.py): k vectors through one walk
of the graph equal k separate backward passes, for first- and second-order graphs, with hooks,
in chunks; the Hessian by blocks equals the one built column by column."""

import numpy as np
import pytest

import chainrule as cr
from chainrule import models, nn
from chainrule.autograd import batched
from chainrule.autograd.batched import batched_grad, chunked_grad, hessian_matrix
from chainrule.nn import functional as F
from chainrule.optim import _flat
from tests.ops.spec import assert_batched_equals_per_vector


def _mlp_loss(activation="tanh", loss="cross_entropy", samples=12, seed=0):
    rng = np.random.default_rng(seed)
    cr.manual_seed(seed)
    net = models.mlp(3, (5, 4), 3, activation=activation).to(cr.float64)
    x = cr.tensor(rng.standard_normal((samples, 3)), dtype=cr.float64)
    out = net(x)
    if loss == "cross_entropy":
        value = F.cross_entropy(out, cr.tensor(rng.integers(0, 3, samples)))
    else:
        value = F.mse_loss(out, cr.tensor(rng.standard_normal((samples, 3)), dtype=cr.float64))
    return list(net.parameters()), out, value


def _column_by_column(grads, params):
    size = _flat.numel(params)
    unit = np.zeros(size)
    rows = []
    for k in range(size):
        unit[k] = 1.0
        rows.append(_flat.hessian_vector_product(list(grads), params, unit))
        unit[k] = 0.0
    return np.array(rows)


@pytest.mark.parametrize("activation", ["tanh", "relu", "sigmoid"])
@pytest.mark.parametrize("loss", ["cross_entropy", "mse"])
def test_first_and_second_order_graphs_of_an_mlp(activation, loss):
    params, out, value = _mlp_loss(activation, loss)
    rng = np.random.default_rng(1)
    assert_batched_equals_per_vector([out], params, rng, count=4)
    grads = cr.grad(value, params, create_graph=True)
    assert_batched_equals_per_vector(list(grads), params, rng, count=4)


@pytest.mark.parametrize("chunk_size", [None, 1, 7, 1000])
def test_hessian_by_blocks_equals_the_column_by_column_hessian(chunk_size):
    params, _, value = _mlp_loss("tanh")
    grads = cr.grad(value, params, create_graph=True)
    expected = _column_by_column(grads, params)
    got = hessian_matrix(grads, params, chunk_size=chunk_size)
    np.testing.assert_allclose(got, 0.5 * (expected + expected.T), rtol=1e-10, atol=1e-13)
    np.testing.assert_array_equal(got, got.T)


def test_hessian_matches_finite_differences_of_the_gradient():
    rng = np.random.default_rng(0)
    cr.manual_seed(0)
    net = models.mlp(3, (5, 4), 3, activation="tanh").to(cr.float64)
    x = cr.tensor(rng.standard_normal((12, 3)), dtype=cr.float64)
    y = cr.tensor(rng.integers(0, 3, 12))
    params = list(net.parameters())
    start = _flat.clone_params(params)

    def gradient_at(k, step):
        _flat.set_params(params, start)
        _flat.add_to_params(params, step, np.eye(_flat.numel(params))[k])
        return np.concatenate([g.data.reshape(-1) for g in
                               cr.grad(F.cross_entropy(net(x), y), params)])

    grads = cr.grad(F.cross_entropy(net(x), y), params, create_graph=True)
    hessian = hessian_matrix(grads, params)
    eps = 1e-6
    for k in rng.choice(_flat.numel(params), 8, replace=False):
        column = (gradient_at(k, eps) - gradient_at(k, -eps)) / (2 * eps)
        np.testing.assert_allclose(hessian[:, k], column, atol=1e-7)


def test_a_conv_net_uses_the_per_vector_fallback_and_agrees():
    rng = np.random.default_rng(2)
    cr.manual_seed(2)
    net = nn.Sequential(nn.Conv2d(1, 2, 3), nn.Tanh(), nn.Flatten(), nn.Linear(2 * 3 * 3, 2))
    net = net.to(cr.float64)
    x = cr.tensor(rng.standard_normal((2, 1, 5, 5)), dtype=cr.float64)
    params = list(net.parameters())
    value = (net(x) ** 2).sum()
    grads = cr.grad(value, params, create_graph=True)
    assert_batched_equals_per_vector(list(grads), params, rng, count=3)
    np.testing.assert_allclose(hessian_matrix(grads, params),
                               0.5 * (_column_by_column(grads, params)
                                      + _column_by_column(grads, params).T), atol=1e-12)


def test_hooks_on_intermediate_tensors_run_once_per_vector():
    x = cr.tensor([1.0, 2.0, 3.0], dtype=cr.float64, requires_grad=True)
    hidden = x * 2.0
    seen = []
    hidden.register_hook(lambda g: seen.append(g.data.copy()) or g * 3.0)
    out = hidden.sin()
    vectors = np.arange(6.0).reshape(2, 3)
    (got,) = batched_grad([out], [x], [vectors])
    assert len(seen) == 2
    np.testing.assert_allclose(got, vectors * np.cos(2 * x.data) * 6.0)


def test_chunks_give_the_same_products_and_unused_inputs():
    params, out, _ = _mlp_loss("relu")
    unused = cr.zeros(2, dtype=cr.float64, requires_grad=True)
    vectors = np.random.default_rng(3).standard_normal((9,) + out.shape)
    whole = batched_grad([out], params + [unused], [vectors], allow_unused=True)
    pieces = chunked_grad([out], params + [unused], [vectors], chunk_size=4, allow_unused=True)
    assert whole[-1] is None and pieces[-1] is None
    for a, b in zip(whole[:-1], pieces[:-1]):
        np.testing.assert_allclose(a, b, rtol=1e-13)
    with pytest.raises(RuntimeError, match="allow_unused=True"):
        batched_grad([out], [unused], [vectors])


def test_bad_vectors_are_refused_with_the_expected_shape():
    params, out, _ = _mlp_loss()
    with pytest.raises(ValueError, match=r"expected \(k, \*output.shape\)"):
        batched_grad([out], params, [np.ones(out.shape)])
    with pytest.raises(ValueError, match="one array"):
        batched_grad([out], params, [])
    with pytest.raises(ValueError, match="chunk_size"):
        chunked_grad([out], params, [np.ones((2,) + out.shape)], chunk_size=0)
    empty = batched_grad([out], params, [np.ones((0,) + out.shape)])
    assert [e.shape for e in empty] == [(0,) + p.shape for p in params]


def test_the_walk_stops_where_nothing_wanted_lies_behind():
    # d(loss)/d(output) for many vectors: the network behind the output is not walked
    params, out, value = _mlp_loss()
    (loss_grad,) = cr.grad(value, out, create_graph=True)
    walked = []
    original = batched._node_backward

    def spy(node, grads):
        walked.append(type(node).__name__)
        return original(node, grads)

    batched._node_backward = spy
    try:
        batched_grad([loss_grad], [out], [np.ones((2,) + out.shape)])
    finally:
        batched._node_backward = original
    assert "Linear" not in walked and walked


def test_auto_chunk_bounds_the_arrays():
    params, out, value = _mlp_loss(samples=50)
    grads = cr.grad(value, params, create_graph=True)
    chunk = batched.auto_chunk(list(grads), 10 ** 9)
    assert 1 <= chunk <= batched.CHUNK_ELEMENTS // (50 * 5)
