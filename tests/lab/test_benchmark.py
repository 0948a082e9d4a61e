"""The benchmark lab (chainrule/lab/benchmark.py) at smoke size: MNIST-1D: the convolutional
networks beat logistic regression."""


def test_outputs_exist(check_outputs):
    check_outputs("benchmark")


def test_benchmark_convolutions_beat_logistic_regression(results):
    numbers = results("benchmark").numbers
    assert numbers["test_acc_residual"] > numbers["test_acc_logistic"]
    assert all(numbers[f"seconds_{m}"] > 0 for m in ("logistic", "mlp", "cnn", "residual"))
