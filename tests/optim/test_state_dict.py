"""state_dict / load_state_dict: plain data, bitwise-identical resumption, clear errors."""

import json

import numpy as np
import pytest

import chainrule as cr
from chainrule import optim

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
