"""The optimizer registry: every entry builds its optimizer with the options its name stands
for, one step of it lowers a quadratic, its closure flag is what the training loop decides, and
the command line and its recipe offer exactly its names and default learning rates."""

import argparse

import numpy as np
import pytest

import chainrule as cr
from chainrule import cli, optim
from chainrule.optim.registry import OPTIMIZERS, build
from chainrule.cli import config as cli_config
from chainrule.cli import recipe
from chainrule.train import needs_closure

NAMES = list(OPTIMIZERS)


def _quadratic_step(name, optimizer, w, target):
    def closure():
        optimizer.zero_grad()
        loss = ((w - target) ** 2).sum()
        loss.backward()
        # GaussNewton's closure also names the output: here w itself
        return (loss, w) if getattr(optimizer, "closure_returns_output", False) else loss

    if OPTIMIZERS[name].closure:
        optimizer.step(closure)
    else:
        closure()
        optimizer.step()


@pytest.mark.parametrize("name", NAMES)
def test_entry_builds_its_class_with_its_options(name):
    entry = OPTIMIZERS[name]
    w = cr.zeros(3, requires_grad=True)
    optimizer = build(name, [w], lr=entry.lr)
    assert type(optimizer) is entry.cls and isinstance(optimizer, optim.Optimizer)
    assert optimizer.defaults["lr"] == entry.lr and entry.lr > 0
    for key, value in entry.options.items():  # a group option, or a setting of the optimizer
        assert optimizer.defaults.get(key, getattr(optimizer, key, None)) == value
    assert isinstance(entry.label, str) and entry.label


@pytest.mark.parametrize("name", NAMES)
def test_closure_flag_is_what_fit_decides(name):
    entry = OPTIMIZERS[name]
    optimizer = build(name, [cr.zeros(2, requires_grad=True)])
    assert entry.closure == needs_closure(optimizer)


@pytest.mark.parametrize("name", NAMES)
def test_one_step_at_the_default_rate_lowers_a_quadratic(name):
    target = cr.tensor(np.array([1.0, -2.0, 0.5]))
    w = cr.zeros(3, requires_grad=True)
    before = float(((w - target) ** 2).sum())
    optimizer = build(name, [w], lr=OPTIMIZERS[name].lr)
    _quadratic_step(name, optimizer, w, target)
    assert float(((w - target) ** 2).sum()) < before


def test_overrides_win_and_unknown_names_list_the_registry():
    w = cr.zeros(2, requires_grad=True)
    assert build("momentum", [w], momentum=0.5).defaults["momentum"] == 0.5
    assert build("sgd", [w]).defaults["lr"] == optim.SGD([w]).defaults["lr"]
    with pytest.raises(ValueError, match="unknown optimizer 'adamax'; choose one of "
                       + ", ".join(NAMES)):
        build("adamax", [w])


def _train_choices(option: str) -> list:
    parser = cli.build_parser(["train"])
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return list(next(a for a in commands.choices["train"]._actions
                     if option in a.option_strings).choices)


def test_command_line_and_recipe_read_the_registry():
    assert _train_choices("--optimizer") == NAMES
    assert list(cli_config.OPTIMIZERS) == NAMES
    assert set(cli_config.SECOND_ORDER) == {n for n in NAMES if OPTIMIZERS[n].closure}
    for name in NAMES:
        config = cli_config.resolve({"dataset": "digits", "optimizer": name})
        assert config.lr == OPTIMIZERS[name].lr
        assert (config.batch_size == 0) == OPTIMIZERS[name].closure


@pytest.mark.parametrize("name", NAMES)
def test_recipe_builds_each_optimizer_through_the_registry(name):
    config = cli_config.resolve({"dataset": "moons", "optimizer": name})
    model = cr.nn.Linear(2, 2)
    optimizer = recipe.build_optimizer(config, model)
    assert type(optimizer) is OPTIMIZERS[name].cls
    if not OPTIMIZERS[name].closure:
        assert optimizer.defaults["weight_decay"] == config.weight_decay


def test_every_second_order_optimizer_is_offered_by_name():
    offered = {entry.cls for entry in OPTIMIZERS.values()}
    assert {optim.LBFGS, optim.BFGS, optim.Newton, optim.NewtonCG} <= offered
    assert OPTIMIZERS["newton-cg"].cls is optim.NewtonCG
