"""The second-order optimizers' base (chainrule/optim/_flat.py: one flat parameter vector): a
closure is needed, one group only; Newton, NewtonCG, BFGS and L-BFGS fit a small network, reach
the Rosenbrock minimum far sooner than Adam, and agree on a regularized logistic regression."""

import numpy as np
import pytest

import chainrule as cr
from chainrule import optim
from chainrule import nn
from tests.optim.problems import ROSENBROCK_START, closure_of, rosenbrock


def test_second_order_optimizers_need_a_closure():
    x = cr.zeros(2, requires_grad=True)
    for opt in (optim.LBFGS([x]), optim.BFGS([x]), optim.Newton([x]), optim.NewtonCG([x])):
        with pytest.raises(TypeError, match="needs a closure"):
            opt.step()


def test_flat_optimizers_take_one_group():
    a, b = cr.zeros(2, requires_grad=True), cr.zeros(2, requires_grad=True)
    with pytest.raises(ValueError, match="takes a single parameter group"):
        optim.LBFGS([{"params": [a]}, {"params": [b]}])



def _data(seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((64, 4)).astype(np.float32)
    y = np.sin(x @ rng.standard_normal((4, 1))).astype(np.float32)
    return cr.tensor(x), cr.tensor(y)


@pytest.mark.parametrize("make", [
    lambda p: optim.LBFGS(p, line_search_fn="strong_wolfe"),
    lambda p: optim.BFGS(p),
    lambda p: optim.Newton(p, damping=1e-3, line_search_fn="strong_wolfe"),
    lambda p: optim.NewtonCG(p, damping=1e-3, line_search_fn="strong_wolfe"),
], ids=["lbfgs", "bfgs", "newton", "newton-cg"])
def test_second_order_optimizers_fit_a_small_network(make):
    cr.manual_seed(1)
    model = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 1))
    opt = make(list(model.parameters()))
    x, y = _data(1)
    loss_fn = nn.MSELoss()

    def closure():
        opt.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        return loss

    start = closure().item()
    for _ in range(8):
        opt.step(closure)
    assert closure().item() < 0.2 * start



def _steps_to_rosenbrock_minimum(make, max_steps, tol=1e-8):
    x = cr.tensor(ROSENBROCK_START, dtype=cr.float64, requires_grad=True)
    opt = make([x])
    closure = closure_of(opt, lambda: rosenbrock(x))
    for step in range(1, max_steps + 1):
        opt.step(closure)
        if np.linalg.norm(x.data - 1.0) < tol:
            return step
    return None


def test_second_order_methods_reach_the_rosenbrock_minimum_far_sooner_than_adam():
    # one iteration per step() for the quasi-Newton methods, so steps count iterations
    tight = dict(max_iter=1, max_eval=25, tolerance_grad=1e-12, tolerance_change=1e-14)
    steps = {
        "newton": _steps_to_rosenbrock_minimum(lambda p: optim.Newton(p), 50),
        "newton_cg": _steps_to_rosenbrock_minimum(lambda p: optim.NewtonCG(p), 50),
        "bfgs": _steps_to_rosenbrock_minimum(lambda p: optim.BFGS(p, **tight), 150),
        "lbfgs": _steps_to_rosenbrock_minimum(
            lambda p: optim.LBFGS(p, line_search_fn="strong_wolfe", **tight), 150),
    }
    assert all(count is not None for count in steps.values()), steps
    assert steps["newton"] <= 10
    adam_cap = 20 * max(steps.values())
    for lr in (0.03, 0.1):
        adam = _steps_to_rosenbrock_minimum(lambda p, lr=lr: optim.Adam(p, lr=lr), adam_cap)
        assert adam is None, f"Adam(lr={lr}) needed only {adam} steps vs {steps}"


def test_all_methods_agree_on_regularized_logistic_regression():
    rng = np.random.default_rng(6)
    features = rng.standard_normal((60, 4))
    labels = (features @ np.array([1.0, -2.0, 0.5, 0.0]) + rng.standard_normal(60) > 0)
    x = cr.tensor(features, dtype=cr.float64)
    y = cr.tensor(labels.astype(np.float64), dtype=cr.float64)

    def solve(make, steps):
        w = cr.zeros(4, dtype=cr.float64, requires_grad=True)
        opt = make([w])

        def loss_fn():
            logits = x @ w
            nll = cr.maximum(logits, 0.0) - logits * y + cr.log(1 + cr.exp(-abs(logits)))
            return nll.mean() + 0.01 * (w * w).sum()

        closure = closure_of(opt, loss_fn)
        for _ in range(steps):
            opt.step(closure)
        return w.data

    newton = solve(lambda p: optim.Newton(p), 8)
    tight = dict(max_iter=50, tolerance_change=1e-15)
    for make in (lambda p: optim.NewtonCG(p, cg_tol=1e-10),
                 lambda p: optim.Newton(p, line_search_fn="strong_wolfe"),
                 lambda p: optim.BFGS(p, **tight),
                 lambda p: optim.LBFGS(p, line_search_fn="strong_wolfe", **tight),
                 lambda p: optim.LBFGS(p, **tight)):
        np.testing.assert_allclose(solve(make, 8), newton, atol=1e-6)
