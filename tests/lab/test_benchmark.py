"""The benchmark lab (chainrule/lab/benchmark.py) at smoke size: MNIST-1D: the convolutional
networks beat logistic regression; the paper's GRU row is there and learns."""


def test_outputs_exist(check_outputs):
    check_outputs("benchmark")


def test_benchmark_convolutions_beat_logistic_regression(results):
    numbers = results("benchmark").numbers
    assert numbers["test_acc_residual"] > numbers["test_acc_logistic"]
    assert all(numbers[f"seconds_{m}"] > 0 for m in ("logistic", "mlp", "cnn", "residual"))


def test_benchmark_has_the_papers_gru_row(results):
    result = results("benchmark")
    numbers = result.numbers
    assert numbers["seconds_gru"] > 0 and numbers["test_acc_gru"] > 0.2  # chance is 0.1
    row = next(r for r in result.tables[0].rows if r[0] == "GRU")
    assert row[2] == 2 * (3 * 6 * (1 + 6) + 2 * 3 * 6) + 40 * 12 * 10 + 10
