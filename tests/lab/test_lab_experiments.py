"""Every lab experiment at smoke size: its outputs exist and the direction it claims holds."""

import json
import math
import shutil

import numpy as np
import pytest

from chainrule import lab

PNG = b"\x89PNG\r\n\x1a\n"
_results: dict = {}


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    out = tmp_path_factory.mktemp("lab")

    def get(name: str):
        if name not in _results:
            _results[name] = lab.run(name, out, smoke=True, seed=0, verbose=False)
        return _results[name]

    return get


@pytest.mark.parametrize("name", list(lab.EXPERIMENTS))
def test_outputs_exist(results, name):
    result = results(name)
    assert result.name == name and result.smoke and result.seconds > 0
    assert result.tables and all(t.rows for t in result.tables)
    assert len(result.paragraph) > 200
    assert "None" not in result.paragraph and "nan" not in result.paragraph.split()
    for figure in result.figures:
        assert figure.read_bytes()[:8] == PNG, figure
    assert name in result.text()
    if name == "backprop" and shutil.which("dot") is None:
        assert not result.figures
        pytest.skip("the backprop graph figure is rendered by Graphviz's dot, not installed here")
    assert result.figures
    stored = json.loads((result.figures[0].parent / "result.json").read_text())
    assert stored["name"] == name and stored["paragraph"] == result.paragraph


def test_activations(results):
    numbers = results("activations").numbers
    assert numbers["sigmoid_max_derivative"] == pytest.approx(0.25, abs=1e-6)
    assert numbers["tanh_max_derivative"] == pytest.approx(1.0, abs=1e-6)
    assert numbers["sigmoid_saturates_beyond"] == pytest.approx(math.log(99), abs=0.02)
    assert numbers["tanh_saturates_beyond"] == pytest.approx(math.atanh(0.98), abs=0.02) \
        or numbers["tanh_saturates_beyond"] == pytest.approx(math.atanh(0.99), abs=0.02)
    assert numbers["tanh_saturated_large_init"] > 10 * max(numbers["tanh_saturated_xavier"], 0.01)


def test_backprop_by_hand_equals_autograd(results):
    numbers = results("backprop").numbers
    assert numbers["max_abs_difference"] < 1e-12
    assert numbers["finite_difference_max_error"] < 1e-6


def test_backprop_hand_formulas_directly():
    from chainrule.lab.backprop import hand_backprop

    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(3, 2)), rng.normal(size=(3, 1))
    w1, w2 = rng.normal(size=(2, 4)), rng.normal(size=(4, 1))
    eps = 1e-6
    bumped = w2.copy()
    bumped[1, 0] += eps
    numeric = (hand_backprop(x, y, w1, bumped)["loss"] - hand_backprop(x, y, w1, w2)["loss"]) / eps
    assert hand_backprop(x, y, w1, w2)["d_w2"][1, 0] == pytest.approx(numeric, rel=1e-4)


def test_vanishing_sigmoid_first_layer_is_orders_below_batchnorm(results):
    numbers = results("vanishing").numbers
    deepest = numbers["depths"].split(", ")[-1]
    sigmoid = numbers[f"first_layer_grad_sigmoid_depth{deepest}"]
    batchnorm = numbers[f"first_layer_grad_relu_bn_depth{deepest}"]
    assert sigmoid < 1e-3 * batchnorm
    assert numbers["orders_sigmoid_below_relu_bn"] > 3


def test_exploding_large_init_goes_nan_and_he_does_not(results):
    numbers = results("exploding").numbers
    assert numbers["nan_step_large_init"] is not None
    assert numbers["nan_step_large_init_clipped"] is None
    assert numbers["nan_step_he"] is None and numbers["nan_step_xavier"] is None
    assert numbers["verdict_large_init"] == "exploding" and numbers["verdict_he"] == "healthy"
    assert numbers["grad_norm_large_init"] > 100 * numbers["grad_norm_he"]
    assert any("TerminateOnNaN" in note for note in results("exploding").notes)


def test_losses_cross_entropy_learns_faster(results):
    numbers = results("losses").numbers
    assert numbers["train_acc_softmax_cross_entropy"] > numbers["train_acc_softmax_mse"] + 0.05
    assert numbers["train_acc_sigmoid_bce"] > numbers["train_acc_sigmoid_mse"] + 0.05
    assert numbers["ce_over_mse_logit_grad_error_large"] > 1


def test_optimizers_second_order_wins_on_the_quadratic(results):
    numbers = results("optimizers").numbers
    sgd = numbers["quadratic_loss_after_10_sgd"]
    assert numbers["quadratic_loss_after_10_newton"] < 1e-3 * sgd
    assert numbers["quadratic_loss_after_10_bfgs"] < 1e-3 * sgd
    assert numbers["quadratic_loss_after_10_lbfgs"] < 1e-3 * sgd
    assert numbers["quadratic_steps_to_1e-6_newton"] == 1
    assert numbers["rosenbrock_steps_to_1e-6_bfgs"] is not None


def test_overfitting_gap_and_augmentation(results):
    numbers = results("overfitting").numbers
    assert numbers["gap_none"] > 0.2
    assert numbers["gap_augmentation"] < numbers["gap_none"]
    assert numbers["gap_dropout"] < numbers["gap_none"]


def test_pretraining_helps_the_sigmoid_network(results):
    numbers = results("pretraining").numbers
    assert numbers["finetune_gain_sigmoid_3_per_class"] > 0.05


def test_benchmark_convolutions_beat_logistic_regression(results):
    numbers = results("benchmark").numbers
    assert numbers["test_acc_residual"] > numbers["test_acc_logistic"]
    assert all(numbers[f"seconds_{m}"] > 0 for m in ("logistic", "mlp", "cnn", "residual"))


def test_same_seed_same_numbers(tmp_path):
    first = lab.run("exploding", tmp_path / "a", smoke=True, seed=1, verbose=False).numbers
    second = lab.run("exploding", tmp_path / "b", smoke=True, seed=1, verbose=False).numbers
    assert first == second
