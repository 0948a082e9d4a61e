"""The optimizers lab (chainrule/lab/optimizers.py and its network part, _second_order.py) at
smoke size: second-order methods win on the quadratic; on the network the trust-region Newton
and Gauss–Newton reach the loss target, never raise the loss, and Newton closes in on the
minimum fastest."""


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


def test_trust_region_newton_and_gauss_newton_reach_the_target_on_the_network(results):
    numbers = results("optimizers").numbers
    for name in ("newton", "gauss-newton"):
        iterations = numbers[f"network_iterations_to_0.05_{name}"]
        assert iterations is not None and iterations <= 30, (name, iterations)


def test_newton_converges_to_the_minimum_faster_than_the_others(results):
    numbers = results("optimizers").numbers
    assert numbers["minimum_iterations_newton"] is not None
    newton = numbers["minimum_final_grad_newton"]
    for name in ("adam", "gauss-newton"):
        assert newton < 1e-3 * numbers[f"minimum_final_grad_{name}"]


def test_the_network_runs_never_raise_the_loss_under_the_trust_region():
    from chainrule.lab import _second_order
    runs, _ = _second_order.to_target(smoke=True, seed=1)
    for name in ("newton", "gauss-newton"):
        losses = runs[name].losses
        assert all(b <= a for a, b in zip(losses, losses[1:])), name
