"""Higher-order helpers (chainrule/autograd/functional.py): hessian, hvp and jacobian against
closed forms and finite differences."""

import numpy as np
import pytest

import chainrule as cr
from chainrule.autograd import functional


def f64(values, requires_grad=True):
    return cr.tensor(values, dtype=cr.float64, requires_grad=requires_grad)


def test_hessian_matches_closed_form_for_quadratic_and_logsumexp():
    rng = np.random.default_rng(0)
    a = rng.standard_normal((4, 4))
    a = a @ a.T
    matrix = cr.tensor(a, dtype=cr.float64)
    x = f64(rng.standard_normal(4), requires_grad=False)
    h = functional.hessian(lambda t: 0.5 * (t @ (matrix @ t)), x)
    np.testing.assert_allclose(h.data, a, rtol=1e-10)
    # Hessian of logsumexp is diag(p) - p pᵀ with p = softmax(x).
    h = functional.hessian(lambda t: cr.logsumexp(t, dim=0), x)
    p = np.exp(x.data - x.data.max())
    p /= p.sum()
    np.testing.assert_allclose(h.data, np.diag(p) - np.outer(p, p), atol=1e-12)


def test_hvp_matches_hessian_times_vector():
    rng = np.random.default_rng(1)
    x = f64(rng.standard_normal(5), False)
    v = f64(rng.standard_normal(5), False)
    fn = lambda t: (cr.sin(t) * t.exp()).sum() + (t ** 2).sum() ** 2
    value, hv = functional.hvp(fn, x, v)
    hessian = functional.hessian(fn, x)
    np.testing.assert_allclose(hv.data, hessian.data @ v.data, rtol=1e-10)
    assert float(value) == pytest.approx(float(fn(x)))


def test_jacobian_matches_finite_differences():
    x = f64([0.5, -1.0, 2.0], False)
    fn = lambda t: cr.stack([t.sum() * t[0], t.exp()[1]])
    jac = functional.jacobian(fn, x)
    eps = 1e-6
    numeric = np.stack([(fn(f64(x.data + eps * e, False)).data
                         - fn(f64(x.data - eps * e, False)).data) / (2 * eps)
                        for e in np.eye(3)], axis=1)
    np.testing.assert_allclose(jac.data, numeric, atol=1e-7)


def test_hvp_of_stacked_vectors_is_each_product():
    rng = np.random.default_rng(2)
    x = f64(rng.standard_normal(4), False)
    fn = lambda t: (t.tanh() * t).sum() ** 2
    vectors = rng.standard_normal((3, 4))
    _, products = functional.hvp(fn, x, vectors)
    for vector, product in zip(vectors, products.data):
        np.testing.assert_allclose(product, functional.hvp(fn, x, vector)[1].data, rtol=1e-12)
    with pytest.raises(ValueError, match="stack of vectors"):
        functional.hvp(fn, x, np.ones((2, 3)))


def test_jacobian_with_create_graph_can_be_differentiated():
    x = f64([0.3, -0.7])
    jac = functional.jacobian(lambda t: t ** 3, x, create_graph=True)
    np.testing.assert_allclose(jac.data, np.diag(3 * x.data ** 2))
    (second,) = cr.grad(jac.sum(), x)
    np.testing.assert_allclose(second.data, 6 * x.data)  # d/dx Σ 3x² on the diagonal


@pytest.mark.parametrize("chunk_size", [None, 1, 2])
def test_hessian_and_jacobian_match_pytorch(chunk_size):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(3)
    a = rng.standard_normal((3, 5))
    x = f64(rng.standard_normal(5), False)
    ours = functional.hessian(lambda t: (cr.tensor(a, dtype=cr.float64) @ t).tanh().sum()
                              * t.sum(), x, chunk_size=chunk_size)
    theirs = torch.autograd.functional.hessian(
        lambda t: torch.tanh(torch.tensor(a) @ t).sum() * t.sum(), torch.tensor(x.data))
    np.testing.assert_allclose(ours.data, theirs.numpy(), rtol=1e-10, atol=1e-12)
    jac = functional.jacobian(lambda t: (cr.tensor(a, dtype=cr.float64) @ t).sin(), x,
                              chunk_size=chunk_size)
    expected = torch.autograd.functional.jacobian(lambda t: torch.sin(torch.tensor(a) @ t),
                                                  torch.tensor(x.data))
    np.testing.assert_allclose(jac.data, expected.numpy(), rtol=1e-12)
