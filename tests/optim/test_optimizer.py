"""The Optimizer base (chainrule/optim/optimizer.py): groups, zero_grad, closures, skipped
parameters, validation messages; what every first-order optimizer does alike (float32 state,
in-place steps, PyTorch step for step, convergence, a frozen layer left alone); state_dict and
load_state_dict for every optimizer (plain data, bitwise-identical resumption, clear errors)."""

import json

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn, optim


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


# ---------------------------------------------------------------- every first-order optimizer
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


# ---------------------------------------------------------------- state_dict
RNG = np.random.default_rng(0)
FEATURES = RNG.standard_normal((16, 3))
TARGETS = np.tanh(FEATURES @ RNG.standard_normal((3, 2)))
START = [RNG.standard_normal((3, 2)) * 0.5, np.zeros(2)]

FACTORIES = {
    "sgd": lambda p: optim.SGD(p, lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-3),
    "adagrad": lambda p: optim.Adagrad(p, lr=0.1, lr_decay=0.01),
    "rmsprop": lambda p: optim.RMSprop(p, lr=0.01, momentum=0.5, centered=True),
    "adam": lambda p: optim.Adam(p, lr=0.01, amsgrad=True),
    "adamw": lambda p: optim.AdamW(p, lr=0.01),
    "lbfgs": lambda p: optim.LBFGS(p, max_iter=3, history_size=4),
    "lbfgs-wolfe": lambda p: optim.LBFGS(p, max_iter=3, line_search_fn="strong_wolfe"),
    "bfgs": lambda p: optim.BFGS(p, max_iter=3),
    "newton": lambda p: optim.Newton(p, lr=0.5, damping=1e-3),
    "newton-cg": lambda p: optim.NewtonCG(p, lr=0.5, max_cg_iter=3),
}


def _params(dtype=cr.float64):
    return [cr.tensor(a, dtype=dtype, requires_grad=True) for a in START]


def _train(opt, params, steps):
    x, y = cr.tensor(FEATURES, dtype=params[0].dtype), cr.tensor(TARGETS, dtype=params[0].dtype)

    def closure():
        opt.zero_grad()
        loss = ((cr.tanh(x @ params[0] + params[1]) - y) ** 2).mean()
        loss.backward()
        return loss

    for _ in range(steps):
        opt.step(closure)


@pytest.mark.parametrize("dtype", [cr.float64, cr.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("name", list(FACTORIES))
def test_resuming_from_a_state_dict_is_bitwise_identical(name, dtype):
    make = FACTORIES[name]
    straight = _params(dtype)
    opt = make(straight)
    _train(opt, straight, 6)

    first = _params(dtype)
    opt_first = make(first)
    _train(opt_first, first, 3)
    saved = opt_first.state_dict()
    resumed = [cr.tensor(p.data.copy(), dtype=p.dtype, requires_grad=True) for p in first]
    opt_resumed = make(resumed)
    opt_resumed.load_state_dict(saved)
    _train(opt_resumed, resumed, 3)

    for a, b in zip(straight, resumed):
        np.testing.assert_array_equal(a.data, b.data)
        assert b.dtype == dtype


def _assert_plain(value, where="state_dict"):
    if isinstance(value, dict):
        for key, item in value.items():
            assert isinstance(key, (int, str)), where
            _assert_plain(item, f"{where}[{key!r}]")
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            _assert_plain(item, f"{where}[{index}]")
    else:
        assert value is None or isinstance(value, (np.ndarray, bool, int, float, str)), (
            f"{where} is a {type(value).__name__}")


@pytest.mark.parametrize("name", list(FACTORIES))
def test_state_dict_is_plain_data_that_survives_json(name):
    params = _params()
    opt = FACTORIES[name](params)
    _train(opt, params, 2)
    saved = opt.state_dict()
    _assert_plain(saved)
    assert saved["param_groups"][0]["params"] == [0, 1]
    assert set(saved["state"]) <= {0, 1} and saved["state"]

    # a checkpoint writer stores the arrays apart and the rest as JSON (keys become strings)
    arrays = {}

    def encode(value):
        if isinstance(value, np.ndarray):
            arrays[str(len(arrays))] = value
            return {"__array__": str(len(arrays) - 1)}
        if isinstance(value, dict):
            return {str(k): encode(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [encode(v) for v in value]
        return value

    def decode(value):
        if isinstance(value, dict):
            if "__array__" in value:
                return arrays[value["__array__"]]
            return {k: decode(v) for k, v in value.items()}
        if isinstance(value, list):
            return [decode(v) for v in value]
        return value

    restored = decode(json.loads(json.dumps(encode(saved))))
    fresh = [cr.tensor(p.data.copy(), dtype=p.dtype, requires_grad=True) for p in params]
    opt_fresh = FACTORIES[name](fresh)
    opt_fresh.load_state_dict(restored)
    _train(opt, params, 2)
    _train(opt_fresh, fresh, 2)
    for a, b in zip(params, fresh):
        np.testing.assert_array_equal(a.data, b.data)
    if "betas" in opt_fresh.param_groups[0]:
        assert isinstance(opt_fresh.param_groups[0]["betas"], tuple)


def test_load_state_dict_deep_copies():
    params = _params()
    opt = optim.Adam(params, lr=0.01)
    _train(opt, params, 2)
    saved = opt.state_dict()
    other = optim.Adam(_params(), lr=0.01)
    other.load_state_dict(saved)
    saved["state"][0]["exp_avg"][...] = 123.0
    saved["param_groups"][0]["lr"] = 5.0
    assert not np.any(other.state[other.param_groups[0]["params"][0]]["exp_avg"] == 123.0)
    assert other.param_groups[0]["lr"] == 0.01
    # and state_dict() itself returns copies
    again = opt.state_dict()
    again["state"][0]["exp_avg"][...] = 7.0
    assert not np.any(opt.state[params[0]]["exp_avg"] == 7.0)


def test_load_state_dict_checks_groups_sizes_and_shapes():
    params = _params()
    opt = optim.SGD(params, lr=0.1, momentum=0.9)
    _train(opt, params, 1)
    saved = opt.state_dict()

    two_groups = optim.SGD([{"params": [_params()[0]]}, {"params": [_params()[1]]}], lr=0.1)
    with pytest.raises(ValueError, match="loaded state dict has 1 parameter groups, but this "
                                         "optimizer has 2"):
        two_groups.load_state_dict(saved)
    with pytest.raises(ValueError, match="group 0 of the loaded state dict has 2 parameters, but "
                                         "this optimizer's group 0 has 1"):
        optim.SGD([_params()[0]], lr=0.1).load_state_dict(saved)
    wrong_shape = [cr.zeros(2, 3, dtype=cr.float64, requires_grad=True), _params()[1]]
    with pytest.raises(ValueError, match=r"state 'momentum_buffer' of parameter 0 has shape "
                                         r"\(3, 2\), but the parameter has shape \(2, 3\)"):
        optim.SGD(wrong_shape, lr=0.1, momentum=0.9).load_state_dict(saved)
    with pytest.raises(ValueError, match="'state' and 'param_groups'"):
        opt.load_state_dict({"state": {}})
    bad_lr = {"state": {}, "param_groups": [dict(saved["param_groups"][0], lr=-1.0)]}
    with pytest.raises(ValueError, match="Invalid lr: -1.0"):
        opt.load_state_dict(bad_lr)


def test_flat_optimizer_state_is_checked_against_the_parameter_count():
    params = _params()
    opt = optim.LBFGS(params, max_iter=2)
    _train(opt, params, 1)
    other = optim.LBFGS([cr.zeros(3, dtype=cr.float64, requires_grad=True),
                         cr.zeros(2, dtype=cr.float64, requires_grad=True)])
    with pytest.raises(ValueError, match=r"state '\w+' has an array of shape \(8,\), but this "
                                         r"optimizer's parameters have 5 elements"):
        other.load_state_dict(opt.state_dict())


def test_a_failed_load_leaves_the_optimizer_unchanged():
    params = _params()
    opt = optim.SGD(params, lr=0.1, momentum=0.9)
    _train(opt, params, 1)
    saved = opt.state_dict()
    saved["state"][1]["momentum_buffer"] = np.zeros(7)
    before = opt.state_dict()
    with pytest.raises(ValueError, match="state 'momentum_buffer' of parameter 1"):
        opt.load_state_dict(saved)
    after = opt.state_dict()
    np.testing.assert_array_equal(after["state"][1]["momentum_buffer"],
                                  before["state"][1]["momentum_buffer"])
