"""Adam and AdamW (chainrule/optim/adam.py) against their formulas written out in NumPy (L2 vs
decoupled weight decay, AMSGrad, maximize); Adam solves a logistic regression."""

import numpy as np
import pytest

import chainrule as cr
from chainrule import optim
from tests.optim.problems import STEPS, gradient_sequence, grid, ids, run_on_gradients


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



ADAM_CASES = grid(weight_decay=[0.0, 0.1], amsgrad=[False, True], maximize=[False, True])



@pytest.mark.parametrize("options", ADAM_CASES, ids=ids(ADAM_CASES))
@pytest.mark.parametrize("cls", [optim.Adam, optim.AdamW])
def test_adam_and_adamw_match_formula(cls, options):
    start, grads = np.linspace(-1, 1, 6).reshape(2, 3), gradient_sequence((2, 3), STEPS)
    got = run_on_gradients(cls, start, grads, lr=0.05, betas=(0.8, 0.95), **options)
    expected = reference_adam(start, grads, 0.05, betas=(0.8, 0.95),
                              decoupled=cls is optim.AdamW, **options)
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-14)


def test_adamw_default_weight_decay_is_decoupled_and_differs_from_adam_l2():
    start, grads = np.ones(3), gradient_sequence(3, STEPS)
    assert optim.AdamW([cr.zeros(1, requires_grad=True)]).defaults["weight_decay"] == 1e-2
    adamw = run_on_gradients(optim.AdamW, start, grads, lr=0.1, weight_decay=0.5)
    adam = run_on_gradients(optim.Adam, start, grads, lr=0.1, weight_decay=0.5)
    np.testing.assert_allclose(adamw, reference_adam(start, grads, 0.1, weight_decay=0.5,
                                                     decoupled=True), rtol=1e-12)
    assert not np.allclose(adamw[-1], adam[-1])


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
