import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.autograd import Function
from chainrule.diagnostics import check_model_gradients


def mse(output, target):
    return ((output - target) ** 2).mean()


class _WrongSquare(Function):
    """x² with a wrong derivative (3x instead of 2x)."""

    def forward(self, x):
        return x * x

    def backward(self, grad_output):
        return grad_output * self.inputs[0] * 3.0


class _Buggy(nn.Module):
    def __init__(self):
        super().__init__()
        self.first = nn.Linear(3, 4)
        self.second = nn.Linear(4, 1)

    def forward(self, x):
        return self.second(_WrongSquare.apply(self.first(x)))


def test_a_correct_model_passes_and_is_not_modified():
    model = nn.Sequential(nn.Linear(3, 5), nn.Tanh(), nn.BatchNorm1d(5), nn.Linear(5, 2))
    before = {k: v.copy() for k, v in model.state_dict().items()}
    report = check_model_gradients(model, mse, (cr.randn(16, 3), cr.randn(16, 2)))
    assert report.ok, report.table()
    assert report.max_rel_error < 1e-5
    assert [p.name for p in report.parameters] == [n for n, _ in model.named_parameters()]
    for key, value in model.state_dict().items():  # same values, still float32
        assert value.dtype == before[key].dtype
        np.testing.assert_array_equal(value, before[key])
    assert model[0].weight.dtype == np.float32
    assert "all gradients match" in report.table()


def test_a_wrong_backward_is_found():
    report = check_model_gradients(_Buggy(), mse, (cr.randn(8, 3), cr.randn(8, 1)))
    assert not report.ok
    verdicts = {p.name: p.ok for p in report.parameters}
    assert verdicts["first.weight"] is False and verdicts["first.bias"] is False
    assert verdicts["second.weight"] is True and verdicts["second.bias"] is True
    assert "MISMATCH" in report.table()


def test_the_analytical_number_is_the_directional_derivative():
    model = nn.Sequential(nn.Linear(2, 1))
    x, y = cr.randn(6, 2), cr.randn(6, 1)
    report = check_model_gradients(model, mse, (x, y), directions=1, seed=3)
    w = model[0].weight.data.astype(np.float64)
    b = model[0].bias.data.astype(np.float64)
    residual = x.data @ w.T + b - y.data
    grad_w = 2 * residual.T @ x.data / len(x.data)
    direction = np.random.default_rng(3).standard_normal(w.shape)
    direction /= np.linalg.norm(direction)
    assert report.parameters[0].analytical == pytest.approx(np.sum(grad_w * direction),
                                                            rel=1e-8)


def test_dropout_draws_the_same_masks_every_evaluation():
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Dropout(0.5), nn.Linear(8, 1))
    batch = (cr.randn(16, 4), cr.randn(16, 1))
    state = cr.backend.get_rng_state()
    report = check_model_gradients(model, mse, batch)
    assert report.ok, report.table()
    assert cr.backend.get_rng_state() == state


def test_inputs_alone_and_errors():
    model = nn.Sequential(nn.Linear(3, 1))
    assert check_model_gradients(model, lambda out: (out ** 2).sum(), cr.randn(4, 3)).ok
    with pytest.raises(ValueError, match="one-element Tensor"):
        check_model_gradients(model, lambda out: out, cr.randn(4, 3))
    with pytest.raises(ValueError, match="directions must be at least 1"):
        check_model_gradients(model, mse, (cr.randn(4, 3), cr.randn(4, 1)), directions=0)
    frozen = nn.Sequential(nn.Linear(3, 1)).requires_grad_(False)
    with pytest.raises(ValueError, match="nothing to check"):
        check_model_gradients(frozen, mse, (cr.randn(4, 3), cr.randn(4, 1)))


def test_a_parameter_with_zero_gradient_does_not_set_the_worst_relative_error():
    # A bias right before BatchNorm has a zero gradient: both derivatives are ~0, so its
    # relative error is meaningless and must not be reported as the model's worst.
    model = nn.Sequential(nn.Linear(3, 5), nn.BatchNorm1d(5), nn.Linear(5, 2))
    report = check_model_gradients(model, mse, (cr.randn(16, 3), cr.randn(16, 2)))
    zero_row = next(p for p in report.parameters if p.name == "0.bias")
    assert max(abs(zero_row.analytical), abs(zero_row.numerical)) < 1e-8
    assert report.ok and report.max_rel_error < 1e-5, report.table()


def test_report_displays_as_html():
    import chainrule as cr
    from chainrule import nn
    from chainrule.diagnostics import check_model_gradients as check

    model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 1))
    report = check(model, lambda out, target: (out - target).pow(2).mean(),
                   (cr.randn(5, 3), cr.randn(5, 1)))
    page = report._repr_html_()
    assert page.count("<tr>") == 1 + len(report.parameters)
    assert "all gradients match" in page and "<td>ok</td>" in page
