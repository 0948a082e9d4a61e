"""The optimizers lab (chainrule/lab/optimizers.py) at smoke size: second-order methods win on the
quadratic."""


def test_outputs_exist(check_outputs):
    check_outputs("optimizers")


def test_optimizers_second_order_wins_on_the_quadratic(results):
    numbers = results("optimizers").numbers
    sgd = numbers["quadratic_loss_after_10_sgd"]
    assert numbers["quadratic_loss_after_10_newton"] < 1e-3 * sgd
    assert numbers["quadratic_loss_after_10_bfgs"] < 1e-3 * sgd
    assert numbers["quadratic_loss_after_10_lbfgs"] < 1e-3 * sgd
    assert numbers["quadratic_steps_to_1e-6_newton"] == 1
    assert numbers["rosenbrock_steps_to_1e-6_bfgs"] is not None
