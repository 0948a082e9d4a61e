"""GaussNewton (chainrule/optim/gauss_newton.py): G equals JᵀH_L J built by brute force, linear
least squares in one step, CG equals the direct solve, it trains the moons MLP, its closure and
options are checked, and fit drives it."""

import numpy as np
import pytest

import chainrule as cr
from chainrule import models, optim
from chainrule.autograd import functional
from chainrule.data import datasets
from chainrule.nn import functional as F
from chainrule.optim import _flat
from chainrule.optim.gauss_newton import gauss_newton_matrix, gauss_newton_product


def _tiny(seed=0, samples=5, classes=3):
    rng = np.random.default_rng(seed)
    cr.manual_seed(seed)
    net = models.mlp(2, (3,), classes, activation="tanh").to(cr.float64)
    x = cr.tensor(rng.standard_normal((samples, 2)), dtype=cr.float64)
    y = cr.tensor(rng.integers(0, classes, samples))
    return net, x, y


def _brute_force_ggn(net, x, y):
    """JᵀH_L J with J from functional.jacobian on the flat parameters and H_L in closed form:
    cross-entropy's mean over N samples has blocks (diag(p) − ppᵀ)/N."""
    params = list(net.parameters())
    start = _flat.clone_params(params)
    sizes = [p.data.size for p in params]

    def output_of(flat):
        pieces, offset = [], 0
        for p, size in zip(params, sizes):
            pieces.append(flat[offset:offset + size].reshape(p.shape))
            offset += size
        h = (x @ pieces[0].T + pieces[1]).tanh()
        return h @ pieces[2].T + pieces[3]

    flat = cr.tensor(np.concatenate([a.reshape(-1) for a in start]), dtype=cr.float64)
    jacobian = functional.jacobian(output_of, flat).data.reshape(-1, flat.shape[0])
    np.testing.assert_allclose(output_of(flat).data, net(x).data)  # the same network
    logits = net(x).data
    p = np.exp(logits - logits.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    blocks = [np.diag(row) - np.outer(row, row) for row in p]
    loss_hessian = np.zeros((p.size, p.size))
    for n, block in enumerate(blocks):
        c = p.shape[1]
        loss_hessian[n * c:(n + 1) * c, n * c:(n + 1) * c] = block / len(p)
    return jacobian.T @ loss_hessian @ jacobian


def test_the_gauss_newton_matrix_is_j_transpose_h_j():
    net, x, y = _tiny()
    out = net(x)
    loss = F.cross_entropy(out, y)
    params = list(net.parameters())
    matrix = gauss_newton_matrix(loss, out, params)
    expected = _brute_force_ggn(net, x, y)
    np.testing.assert_allclose(matrix, expected, rtol=1e-10, atol=1e-13)
    assert np.linalg.eigvalsh(matrix).min() > -1e-12  # positive semi-definite
    product = gauss_newton_product(loss, out, params)
    vector = np.random.default_rng(1).standard_normal(len(matrix))
    np.testing.assert_allclose(product(vector), expected @ vector, rtol=1e-9, atol=1e-12)


def test_linear_least_squares_is_solved_in_one_step():
    rng = np.random.default_rng(2)
    features = rng.standard_normal((20, 4))
    targets = rng.standard_normal(20)
    for solver in ("direct", "cg"):
        w = cr.zeros(4, dtype=cr.float64, requires_grad=True)
        opt = optim.GaussNewton([w], damping=0.0, solver=solver, cg_tol=1e-14)
        x, y = cr.tensor(features, dtype=cr.float64), cr.tensor(targets, dtype=cr.float64)

        def closure():
            opt.zero_grad()
            output = x @ w
            loss = ((output - y) ** 2).mean()
            loss.backward()
            return loss, output

        opt.step(closure)
        np.testing.assert_allclose(w.data, np.linalg.lstsq(features, targets, rcond=None)[0],
                                   rtol=1e-8)


def _closure(opt, net, x, y):
    def closure():
        opt.zero_grad()
        output = net(x)
        loss = F.cross_entropy(output, y)
        loss.backward()
        return loss, output
    return closure


def test_cg_takes_the_direct_step_on_a_small_network():
    steps = {}
    for solver in ("direct", "cg"):
        net, x, y = _tiny(seed=3, samples=8)
        opt = optim.GaussNewton(net.parameters(), damping=0.5, adaptive_damping=False,
                                solver=solver, max_cg_iter=200, cg_tol=1e-14)
        before = _flat.clone_params(list(net.parameters()))
        opt.step(_closure(opt, net, x, y))
        steps[solver] = np.concatenate([(p.data - b).reshape(-1) for p, b in
                                        zip(net.parameters(), before)])
    np.testing.assert_allclose(steps["cg"], steps["direct"], rtol=1e-7, atol=1e-12)


def test_fixed_damping_takes_the_damped_gauss_newton_step():
    net, x, y = _tiny(seed=4)
    params = list(net.parameters())
    out = net(x)
    loss = F.cross_entropy(out, y)
    gradient = np.concatenate([g.data.reshape(-1) for g in cr.grad(loss, params,
                                                                  retain_graph=True)])
    matrix = gauss_newton_matrix(loss, out, params)
    before = _flat.clone_params(params)
    opt = optim.GaussNewton(params, lr=0.5, damping=0.3, adaptive_damping=False)
    opt.step(_closure(opt, net, x, y))
    step = np.concatenate([(p.data - b).reshape(-1) for p, b in zip(params, before)])
    np.testing.assert_allclose(step, -0.5 * np.linalg.solve(matrix + 0.3 * np.eye(len(matrix)),
                                                           gradient), rtol=1e-9)


@pytest.mark.parametrize("solver", ["direct", "cg"])
def test_it_trains_the_moons_mlp_to_a_low_loss_in_few_iterations(solver):
    train, _ = datasets.moons(n_samples=250, seed=0)
    x, y = train.tensors
    x = x.to(cr.float64)
    cr.manual_seed(0)
    net = models.mlp(2, (32, 32), 2).to(cr.float64)
    opt = optim.GaussNewton(net.parameters(), solver=solver, max_cg_iter=100)
    losses = []
    while len(losses) < 30 and (not losses or losses[-1] > 0.05):  # the target
        losses.append(float(opt.step(_closure(opt, net, x, y))))
    assert all(b <= a for a, b in zip(losses, losses[1:]))  # never up
    assert losses[-1] <= 0.05, losses


def test_bad_closures_and_options_are_refused():
    w = cr.zeros(2, requires_grad=True)
    opt = optim.GaussNewton([w])
    with pytest.raises(TypeError, match=r"returns \(loss, output\)"):
        opt.step(lambda: (w ** 2).sum())
    with pytest.raises(TypeError, match="needs a closure"):
        opt.step()
    with pytest.raises(ValueError, match="the loss must be a scalar, got shape"):
        opt.step(lambda: (w ** 2, w))
    with pytest.raises(ValueError, match="Invalid solver"):
        optim.GaussNewton([w], solver="qr")
    with pytest.raises(ValueError, match="solver='cg'"):
        optim.GaussNewton([cr.zeros(3000, requires_grad=True)], solver="direct")
    large = optim.GaussNewton([cr.zeros(3000, requires_grad=True)])
    small = optim.GaussNewton([cr.zeros(50, requires_grad=True)])
    assert large.param_groups[0]["solver"] == "cg"  # auto: matrix-free above max_params
    assert small.param_groups[0]["solver"] == "direct"
    with pytest.raises(TypeError, match="adaptive_damping"):
        optim.GaussNewton([w], adaptive_damping="yes")


def test_fit_gives_gauss_newton_the_output():
    train, _ = datasets.moons(n_samples=100, seed=1)
    cr.manual_seed(1)
    net = models.mlp(2, (8,), 2)
    opt = optim.GaussNewton(net.parameters())
    loader = cr.data.DataLoader(train, batch_size=len(train))
    history = cr.train.fit(net, F.cross_entropy, opt, loader, epochs=5)
    losses = history["train_loss"]
    assert losses[-1] < losses[0] and opt.state[next(iter(net.parameters()))]["n_iter"] == 5
