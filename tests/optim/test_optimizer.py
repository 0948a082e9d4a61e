"""The Optimizer base: groups, zero_grad, closures, skipped parameters, validation messages."""

import numpy as np
import pytest

import chainrule as cr
from chainrule import optim


def _leaf(*shape, seed=0):
    rng = np.random.default_rng(seed)
    return cr.tensor(rng.standard_normal(shape), dtype=cr.float64, requires_grad=True)


def test_param_groups_fill_defaults_and_keep_their_own_options():
    w, b = _leaf(3, 2), _leaf(2)
    opt = optim.SGD([{"params": [w]}, {"params": b, "lr": 0.5, "momentum": 0.9}], lr=0.1)
    assert len(opt.param_groups) == 2
    assert opt.param_groups[0]["params"][0] is w and opt.param_groups[1]["params"][0] is b
    assert opt.param_groups[0]["lr"] == 0.1 and opt.param_groups[0]["momentum"] == 0
    assert opt.param_groups[1]["lr"] == 0.5 and opt.param_groups[1]["momentum"] == 0.9
    w.grad, b.grad = cr.ones_like(w), cr.ones_like(b)
    w_before, b_before = w.data.copy(), b.data.copy()
    opt.step()
    np.testing.assert_allclose(w.data, w_before - 0.1)
    np.testing.assert_allclose(b.data, b_before - 0.5)


def test_add_param_group_and_generators_are_accepted():
    w, b = _leaf(2), _leaf(2, seed=1)
    opt = optim.Adam(p for p in [w])
    opt.add_param_group({"params": [b], "lr": 0.5})
    assert [g["lr"] for g in opt.param_groups] == [1e-3, 0.5]
    assert opt.param_groups[1]["betas"] == (0.9, 0.999)


def test_a_parameter_in_two_groups_is_an_error():
    w = _leaf(2)
    with pytest.raises(ValueError, match="more than one parameter group"):
        optim.SGD([{"params": [w]}, {"params": [w]}], lr=0.1)
    opt = optim.SGD([w], lr=0.1)
    with pytest.raises(ValueError, match="more than one parameter group"):
        opt.add_param_group({"params": [w]})


def test_bad_params_arguments_are_explained():
    w = _leaf(2)
    with pytest.raises(TypeError, match="single Tensor"):
        optim.SGD(w, lr=0.1)
    with pytest.raises(ValueError, match="empty parameter list"):
        optim.SGD([], lr=0.1)
    with pytest.raises(ValueError, match="appears twice"):
        optim.SGD([w, w], lr=0.1)
    with pytest.raises(ValueError, match="non-leaf"):
        optim.SGD([w * 2], lr=0.1)
    with pytest.raises(TypeError, match="only optimize Tensors"):
        optim.SGD([np.zeros(2)], lr=0.1)
    with pytest.raises(TypeError, match="not a set"):
        optim.SGD([{"params": {w}}], lr=0.1)


@pytest.mark.parametrize("make,message", [
    (lambda p: optim.SGD(p, lr=-0.1), r"Invalid lr: -0\.1; expected a number >= 0"),
    (lambda p: optim.SGD(p, lr=0.1, momentum=-0.5),
     r"Invalid momentum: -0\.5; expected a number >= 0"),
    (lambda p: optim.SGD(p, lr=0.1, weight_decay=-1),
     r"Invalid weight_decay: -1; expected a number >= 0"),
    (lambda p: optim.SGD(p, lr=0.1, nesterov=True),
     r"Nesterov momentum requires momentum > 0 and dampening = 0, got momentum=0"),
    (lambda p: optim.SGD(p, lr=0.1, momentum=0.9, dampening=0.1, nesterov=True),
     r"dampening=0\.1"),
    (lambda p: optim.SGD(p, lr=0.1, dampening=2.0),
     r"Invalid dampening: 2\.0; expected a number in \[0, 1\]"),
    (lambda p: optim.Adam(p, betas=(1.0, 0.999)),
     r"Invalid betas\[0\]: 1\.0; expected a number in \[0, 1\)"),
    (lambda p: optim.Adam(p, betas=(0.9, -0.1)),
     r"Invalid betas\[1\]: -0\.1; expected a number in \[0, 1\)"),
    (lambda p: optim.Adam(p, betas=(0.9,)), r"Invalid betas: \(0\.9,\); expected a pair"),
    (lambda p: optim.AdamW(p, eps=-1e-8), r"Invalid eps: -1e-08; expected a number >= 0"),
    (lambda p: optim.Adagrad(p, lr_decay=-1), r"Invalid lr_decay: -1"),
    (lambda p: optim.Adagrad(p, initial_accumulator_value=-1),
     r"Invalid initial_accumulator_value: -1"),
    (lambda p: optim.RMSprop(p, alpha=1.5), r"Invalid alpha: 1\.5; expected a number in \[0, 1\]"),
    (lambda p: optim.RMSprop(p, momentum=-1), r"Invalid momentum: -1"),
    (lambda p: optim.SGD(p, lr=float("nan")), r"Invalid lr: nan"),
    (lambda p: optim.LBFGS(p, max_iter=0), r"Invalid max_iter: 0; expected an integer >= 1"),
    (lambda p: optim.LBFGS(p, history_size=0), r"Invalid history_size: 0"),
    (lambda p: optim.LBFGS(p, line_search_fn="armijo"),
     r"Invalid line_search_fn: 'armijo'; expected None or 'strong_wolfe'"),
    (lambda p: optim.LBFGS(p, tolerance_grad=-1), r"Invalid tolerance_grad: -1"),
    (lambda p: optim.BFGS(p, lr=-1), r"Invalid lr: -1"),
    (lambda p: optim.Newton(p, damping=-1), r"Invalid damping: -1; expected a number >= 0"),
    (lambda p: optim.NewtonCG(p, max_cg_iter=0), r"Invalid max_cg_iter: 0"),
    (lambda p: optim.NewtonCG(p, cg_tol=-1), r"Invalid cg_tol: -1"),
])
def test_hyper_parameters_are_validated_with_clear_messages(make, message):
    with pytest.raises(ValueError, match=message):
        make([_leaf(2)])


def test_group_options_are_validated_too():
    with pytest.raises(ValueError, match=r"Invalid lr: -1"):
        optim.SGD([{"params": [_leaf(2)], "lr": -1}], lr=0.1)
    with pytest.raises(TypeError, match=r"Invalid lr: '0\.1' \(str\)"):
        optim.SGD([_leaf(2)], lr="0.1")


@pytest.mark.parametrize("make", [
    lambda p: optim.SGD(p, lr=0.1, momentum=0.9, weight_decay=0.1),
    lambda p: optim.Adagrad(p, weight_decay=0.1),
    lambda p: optim.RMSprop(p, weight_decay=0.1, centered=True),
    lambda p: optim.Adam(p, weight_decay=0.1),
    lambda p: optim.AdamW(p),
], ids=["sgd", "adagrad", "rmsprop", "adam", "adamw"])
def test_frozen_and_gradient_less_parameters_are_left_untouched(make):
    trained, frozen, unused = _leaf(3), _leaf(3, seed=1), _leaf(3, seed=2)
    frozen.requires_grad_(False)
    frozen.grad = cr.ones(3, dtype=cr.float64)  # a stale gradient must not move a frozen weight
    opt = make([trained, frozen, unused])
    before = [p.data.copy() for p in (trained, frozen, unused)]
    for _ in range(3):
        trained.grad = cr.ones(3, dtype=cr.float64)
        opt.step()
    assert not np.array_equal(trained.data, before[0])
    np.testing.assert_array_equal(frozen.data, before[1])
    np.testing.assert_array_equal(unused.data, before[2])
    assert unused not in opt.state or not opt.state[unused]


def test_zero_grad_sets_to_none_or_zeros_in_place():
    w = _leaf(3)
    opt = optim.SGD([w], lr=0.1)
    (w * w).sum().backward()
    grad_array = w.grad.data
    opt.zero_grad(set_to_none=False)
    assert w.grad.data is grad_array
    np.testing.assert_array_equal(grad_array, 0.0)
    opt.zero_grad()
    assert w.grad is None


def test_step_with_closure_returns_the_loss_and_records_inside_it():
    w = _leaf(3)
    opt = optim.SGD([w], lr=0.1)

    def closure():
        opt.zero_grad()
        loss = (w * w).sum()
        loss.backward()
        return loss

    with cr.no_grad():  # step re-enables recording for the closure
        loss = opt.step(closure)
    assert isinstance(loss, cr.Tensor)
    assert opt.step() is None


def test_a_step_between_forward_and_backward_is_caught_by_the_version_counter():
    w = _leaf(3)
    opt = optim.SGD([w], lr=0.1)
    loss = (w * w).sum()
    w.grad = cr.ones(3, dtype=cr.float64)
    opt.step()
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        loss.backward()


def test_repr_lists_the_groups():
    text = repr(optim.SGD([_leaf(2)], lr=0.1, momentum=0.9))
    assert text.startswith("SGD (") and "lr: 0.1" in text and "momentum: 0.9" in text
