"""SGD, Adagrad, RMSprop, Adam, AdamW against their formulas written out in NumPy, and PyTorch."""

import itertools

import numpy as np
import pytest

import chainrule as cr
from chainrule import optim

STEPS = 6


def _gradient_sequence(shape, steps, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(shape) for _ in range(steps)]


def _run_chainrule(cls, start, grads, dtype=np.float64, **options):
    """Apply ``cls`` to a parameter that gets the gradients in ``grads`` one by one."""
    param = cr.tensor(start, dtype=dtype, requires_grad=True)
    opt = cls([param], **options)
    trajectory = []
    for grad in grads:
        param.grad = cr.tensor(grad, dtype=dtype)
        opt.step()
        trajectory.append(param.data.copy())
    return trajectory


# ---------------------------------------------------------------- reference formulas (NumPy)
def reference_sgd(theta, grads, lr, momentum=0.0, dampening=0.0, nesterov=False,
                  weight_decay=0.0, maximize=False):
    theta, buf, out = theta.copy(), None, []
    for t, g in enumerate(grads):
        g = -g if maximize else g.copy()
        g = g + weight_decay * theta
        if momentum:
            buf = g.copy() if t == 0 else momentum * buf + (1 - dampening) * g
            g = g + momentum * buf if nesterov else buf
        theta = theta - lr * g
        out.append(theta)
    return out


def reference_adagrad(theta, grads, lr, lr_decay=0.0, weight_decay=0.0,
                      initial_accumulator_value=0.0, eps=1e-10, maximize=False):
    theta, out = theta.copy(), []
    total = np.full_like(theta, initial_accumulator_value)
    for t, g in enumerate(grads, start=1):
        g = (-g if maximize else g) + weight_decay * theta
        step_size = lr / (1 + (t - 1) * lr_decay)
        total = total + g ** 2
        theta = theta - step_size * g / (np.sqrt(total) + eps)
        out.append(theta)
    return out


def reference_rmsprop(theta, grads, lr, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0,
                      centered=False, maximize=False):
    theta, out = theta.copy(), []
    v, mean_g, buf = np.zeros_like(theta), np.zeros_like(theta), np.zeros_like(theta)
    for g in grads:
        g = (-g if maximize else g) + weight_decay * theta
        v = alpha * v + (1 - alpha) * g ** 2
        if centered:
            mean_g = alpha * mean_g + (1 - alpha) * g
            denom = np.sqrt(v - mean_g ** 2) + eps
        else:
            denom = np.sqrt(v) + eps
        if momentum > 0:
            buf = momentum * buf + g / denom
            theta = theta - lr * buf
        else:
            theta = theta - lr * g / denom
        out.append(theta)
    return out


def reference_adam(theta, grads, lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
                   amsgrad=False, maximize=False, decoupled=False):
    beta1, beta2 = betas
    theta, out = theta.copy(), []
    m, v, v_max = np.zeros_like(theta), np.zeros_like(theta), np.zeros_like(theta)
    for t, g in enumerate(grads, start=1):
        g = -g if maximize else g
        if decoupled:
            theta = theta * (1 - lr * weight_decay)
        else:
            g = g + weight_decay * theta
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g ** 2
        m_hat = m / (1 - beta1 ** t)
        v_max = np.maximum(v_max, v)
        v_hat = (v_max if amsgrad else v) / (1 - beta2 ** t)
        theta = theta - lr * m_hat / (np.sqrt(v_hat) + eps)
        out.append(theta)
    return out


def _grid(**choices):
    keys = list(choices)
    return [dict(zip(keys, values)) for values in itertools.product(*choices.values())]


SGD_CASES = [c for c in _grid(momentum=[0.0, 0.9], dampening=[0.0, 0.3], nesterov=[False, True],
                              weight_decay=[0.0, 0.1], maximize=[False, True])
             if not (c["nesterov"] and (c["momentum"] == 0 or c["dampening"] != 0))]
ADAGRAD_CASES = _grid(lr_decay=[0.0, 0.1], weight_decay=[0.0, 0.1],
                      initial_accumulator_value=[0.0, 0.5], maximize=[False, True])
RMSPROP_CASES = _grid(momentum=[0.0, 0.8], centered=[False, True], weight_decay=[0.0, 0.1],
                      maximize=[False, True])
ADAM_CASES = _grid(weight_decay=[0.0, 0.1], amsgrad=[False, True], maximize=[False, True])


def _ids(cases):
    return ["-".join(f"{k}={v}" for k, v in case.items()) for case in cases]


@pytest.mark.parametrize("options", SGD_CASES, ids=_ids(SGD_CASES))
def test_sgd_matches_formula(options):
    start, grads = np.linspace(-1, 1, 6).reshape(2, 3), _gradient_sequence((2, 3), STEPS)
    got = _run_chainrule(optim.SGD, start, grads, lr=0.1, **options)
    np.testing.assert_allclose(got, reference_sgd(start, grads, 0.1, **options), rtol=1e-12,
                               atol=1e-14)


@pytest.mark.parametrize("options", ADAGRAD_CASES, ids=_ids(ADAGRAD_CASES))
def test_adagrad_matches_formula(options):
    start, grads = np.linspace(-1, 1, 6).reshape(2, 3), _gradient_sequence((2, 3), STEPS)
    got = _run_chainrule(optim.Adagrad, start, grads, lr=0.1, **options)
    np.testing.assert_allclose(got, reference_adagrad(start, grads, 0.1, **options), rtol=1e-12,
                               atol=1e-14)


@pytest.mark.parametrize("options", RMSPROP_CASES, ids=_ids(RMSPROP_CASES))
def test_rmsprop_matches_formula(options):
    start, grads = np.linspace(-1, 1, 6).reshape(2, 3), _gradient_sequence((2, 3), STEPS)
    got = _run_chainrule(optim.RMSprop, start, grads, lr=0.01, **options)
    np.testing.assert_allclose(got, reference_rmsprop(start, grads, 0.01, **options), rtol=1e-10,
                               atol=1e-12)


@pytest.mark.parametrize("options", ADAM_CASES, ids=_ids(ADAM_CASES))
@pytest.mark.parametrize("cls", [optim.Adam, optim.AdamW])
def test_adam_and_adamw_match_formula(cls, options):
    start, grads = np.linspace(-1, 1, 6).reshape(2, 3), _gradient_sequence((2, 3), STEPS)
    got = _run_chainrule(cls, start, grads, lr=0.05, betas=(0.8, 0.95), **options)
    expected = reference_adam(start, grads, 0.05, betas=(0.8, 0.95),
                              decoupled=cls is optim.AdamW, **options)
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-14)


def test_adamw_default_weight_decay_is_decoupled_and_differs_from_adam_l2():
    start, grads = np.ones(3), _gradient_sequence(3, STEPS)
    assert optim.AdamW([cr.zeros(1, requires_grad=True)]).defaults["weight_decay"] == 1e-2
    adamw = _run_chainrule(optim.AdamW, start, grads, lr=0.1, weight_decay=0.5)
    adam = _run_chainrule(optim.Adam, start, grads, lr=0.1, weight_decay=0.5)
    np.testing.assert_allclose(adamw, reference_adam(start, grads, 0.1, weight_decay=0.5,
                                                     decoupled=True), rtol=1e-12)
    assert not np.allclose(adamw[-1], adam[-1])


@pytest.mark.parametrize("make", [
    lambda p: optim.SGD(p, lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.1),
    lambda p: optim.Adagrad(p, lr=0.1, lr_decay=0.01, weight_decay=0.1),
    lambda p: optim.RMSprop(p, lr=0.01, momentum=0.5, centered=True, weight_decay=0.1),
    lambda p: optim.Adam(p, lr=0.01, weight_decay=0.1, amsgrad=True),
    lambda p: optim.AdamW(p, lr=0.01),
], ids=["sgd", "adagrad", "rmsprop", "adam", "adamw"])
def test_float32_parameters_and_state_stay_float32(make):
    param = cr.randn(4, 3, requires_grad=True)
    opt = make([param])
    for _ in range(3):
        param.grad = cr.randn(4, 3)
        opt.step()
    assert param.dtype == np.float32
    for value in opt.state[param].values():
        if isinstance(value, np.ndarray):
            assert value.dtype == np.float32


@pytest.mark.parametrize("make", [
    lambda p: optim.SGD(p, lr=0.1, momentum=0.9, weight_decay=0.1),
    lambda p: optim.Adagrad(p, lr=0.1, weight_decay=0.1),
    lambda p: optim.RMSprop(p, lr=0.01, momentum=0.5, centered=True),
    lambda p: optim.Adam(p, lr=0.01, weight_decay=0.1, maximize=True),
], ids=["sgd", "adagrad", "rmsprop", "adam"])
def test_step_updates_in_place_and_never_touches_the_gradient(make):
    param = cr.randn(5, requires_grad=True)
    array = param.data
    opt = make([param])
    grad = cr.randn(5)
    saved = grad.data.copy()
    version = param._version
    for _ in range(2):
        param.grad = grad
        opt.step()
    assert param.data is array
    assert param._version > version
    np.testing.assert_array_equal(grad.data, saved)


# ---------------------------------------------------------------- PyTorch, step for step
TORCH_CASES = [
    ("SGD", dict(lr=0.1)),
    ("SGD", dict(lr=0.1, momentum=0.9, dampening=0.2, weight_decay=0.05, maximize=True)),
    ("SGD", dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.05)),
    ("Adagrad", dict(lr=0.1, lr_decay=0.05, weight_decay=0.05, initial_accumulator_value=0.2)),
    ("RMSprop", dict(lr=0.01, alpha=0.9, weight_decay=0.05)),
    ("RMSprop", dict(lr=0.01, momentum=0.7, centered=True, maximize=True)),
    ("Adam", dict(lr=0.01, betas=(0.8, 0.99), weight_decay=0.05)),
    ("Adam", dict(lr=0.01, amsgrad=True, maximize=True)),
    ("AdamW", dict(lr=0.01, weight_decay=0.1, amsgrad=True)),
]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("name,options", TORCH_CASES, ids=[f"{n}-{i}" for i, (n, _) in
                                                           enumerate(TORCH_CASES)])
def test_matches_torch_step_for_step(name, options, dtype):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    start = [rng.standard_normal((3, 4)).astype(dtype), rng.standard_normal(4).astype(dtype)]
    ours = [cr.tensor(a, dtype=dtype, requires_grad=True) for a in start]
    theirs = [torch.tensor(a.copy(), requires_grad=True) for a in start]
    opt = getattr(optim, name)(ours, **options)
    reference = getattr(torch.optim, name)(theirs, **options)
    for _ in range(8):
        for p, q in zip(ours, theirs):
            g = rng.standard_normal(p.shape).astype(dtype)
            p.grad = cr.tensor(g, dtype=dtype)
            q.grad = torch.tensor(g)
        opt.step()
        reference.step()
        tolerance = dict(rtol=1e-12, atol=1e-13) if dtype == "float64" else dict(rtol=2e-5,
                                                                                 atol=2e-6)
        for p, q in zip(ours, theirs):
            np.testing.assert_allclose(p.data, q.detach().numpy(), **tolerance)


# ---------------------------------------------------------------- convergence
def _quadratic_problem(seed=0, size=5):
    rng = np.random.default_rng(seed)
    basis = np.linalg.qr(rng.standard_normal((size, size)))[0]
    matrix = basis @ np.diag(np.linspace(1.0, 4.0, size)) @ basis.T
    target = rng.standard_normal(size)
    return matrix, target


@pytest.mark.parametrize("make,steps", [
    (lambda p: optim.SGD(p, lr=0.2), 200),
    (lambda p: optim.SGD(p, lr=0.1, momentum=0.5, nesterov=True), 200),
    (lambda p: optim.Adagrad(p, lr=0.5), 400),
    (lambda p: optim.RMSprop(p, lr=0.01, alpha=0.9), 600),
    (lambda p: optim.Adam(p, lr=0.05), 600),
    (lambda p: optim.AdamW(p, lr=0.05, weight_decay=0.0), 600),
], ids=["sgd", "nesterov", "adagrad", "rmsprop", "adam", "adamw"])
def test_minimizes_a_convex_quadratic(make, steps):
    matrix, target = _quadratic_problem()
    a, b = cr.tensor(matrix, dtype=cr.float64), cr.tensor(target, dtype=cr.float64)
    x = cr.zeros(5, dtype=cr.float64, requires_grad=True)
    opt = make([x])
    for _ in range(steps):
        opt.zero_grad()
        diff = x - b
        ((diff @ a) @ diff * 0.5).backward()
        opt.step()
    np.testing.assert_allclose(x.data, target, atol=2e-2)


def test_logistic_regression_with_adam_reaches_the_separating_weights():
    rng = np.random.default_rng(0)
    features = rng.standard_normal((200, 3))
    true_w = np.array([2.0, -1.0, 0.5])
    labels = (features @ true_w + 0.1 * rng.standard_normal(200) > 0).astype(np.float64)
    x, y = cr.tensor(features, dtype=cr.float64), cr.tensor(labels, dtype=cr.float64)
    w = cr.zeros(3, dtype=cr.float64, requires_grad=True)
    opt = optim.Adam([w], lr=0.1)
    for _ in range(300):
        opt.zero_grad()
        logits = x @ w
        loss = (cr.maximum(logits, 0.0) - logits * y + cr.log(1 + cr.exp(-abs(logits)))).mean()
        loss.backward()
        opt.step()
    accuracy = ((features @ w.data > 0) == (labels > 0)).mean()
    assert accuracy > 0.95
    cosine = w.data @ true_w / np.linalg.norm(w.data) / np.linalg.norm(true_w)
    assert cosine > 0.95
