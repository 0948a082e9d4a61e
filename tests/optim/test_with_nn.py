"""Optimizers over chainrule.nn models, and the regularization example."""

import pathlib
import runpy

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn, optim

ROOT = pathlib.Path(__file__).resolve().parents[2]


def _data(seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((64, 4)).astype(np.float32)
    y = np.sin(x @ rng.standard_normal((4, 1))).astype(np.float32)
    return cr.tensor(x), cr.tensor(y)


@pytest.mark.parametrize("make", [
    lambda p: optim.SGD(p, lr=0.1, momentum=0.9),
    lambda p: optim.Adagrad(p, lr=0.3),
    lambda p: optim.RMSprop(p, lr=0.02),
    lambda p: optim.Adam(p, lr=0.05),
    lambda p: optim.AdamW(p, lr=0.05),
], ids=["sgd", "adagrad", "rmsprop", "adam", "adamw"])
def test_training_an_mlp_with_a_frozen_first_layer(make):
    cr.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 16), nn.Tanh(), nn.Linear(16, 1))
    for p in model[0].parameters():
        p.requires_grad_(False)
    frozen = [p.data.copy() for p in model[0].parameters()]
    opt = make(model.parameters())
    x, y = _data()
    loss_fn = nn.MSELoss()
    losses = []
    for _ in range(100):
        opt.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    # with the first layer frozen, the best loss is that of least squares on its features
    with cr.no_grad():
        features = model[1](model[0](x)).data.astype(np.float64)
    design = np.hstack([features, np.ones((features.shape[0], 1))])
    solution = np.linalg.lstsq(design, y.data.astype(np.float64), rcond=None)[0]
    best = float(np.mean((design @ solution - y.data) ** 2))
    assert losses[-1] - best < 0.3 * (losses[0] - best)
    for before, p in zip(frozen, model[0].parameters()):
        np.testing.assert_array_equal(p.data, before)
    assert all(p.dtype == np.float32 for p in model.parameters())


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


def test_regularization_example_runs_and_l1_gives_sparsity(capsys):
    runpy.run_path(str(ROOT / "examples" / "regularization.py"), run_name="__main__")
    lines = capsys.readouterr().out.splitlines()
    rows = {line[:22].strip(): line.split() for line in lines if line[:1].isalpha()}
    plain, l1 = rows["no regularization"], rows["L1 penalty 0.1"]
    decay = next(v for k, v in rows.items() if k.startswith("weight decay"))
    test_mse = lambda row: float(row[-5])  # noqa: E731
    assert test_mse(l1) < test_mse(decay) < test_mse(plain)
    assert int(l1[-1].split("/")[0]) > int(plain[-1].split("/")[0]) + 5
