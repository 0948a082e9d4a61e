"""Gradient checks (chainrule/autograd/gradcheck.py): gradcheck names the wrong Jacobian entry
(full and fast mode), warns on float32; gradgradcheck catches a wrong second derivative."""

import numpy as np
import pytest

import chainrule as cr


def f64(values, requires_grad=True):
    return cr.tensor(values, dtype=cr.float64, requires_grad=requires_grad)


def test_gradcheck_reports_the_wrong_element():
    class BadSquare(cr.autograd.Function):
        def forward(self, x):
            return x * x

        def backward(self, grad_output):
            wrong = self.inputs[0] * 2
            bump = np.zeros(wrong.shape)
            bump[1] = 1.0
            return grad_output * (wrong + cr.tensor(bump, dtype=cr.float64))

    x = f64([1.0, 2.0, 3.0])
    with pytest.raises(cr.autograd.GradcheckError,
                       match=r"input 0 .*1 of 9 Jacobian entries.*in\[1\]"):
        cr.autograd.gradcheck(lambda t: BadSquare.apply(t), x)
    with pytest.raises(cr.autograd.GradcheckError, match="projection"):
        cr.autograd.gradcheck(lambda t: BadSquare.apply(t), x, fast_mode=True)
    assert cr.autograd.gradcheck(lambda t: BadSquare.apply(t), x, raise_exception=False) is False


def test_gradcheck_warns_on_float32():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    with pytest.warns(UserWarning, match="single precision"):
        cr.autograd.gradcheck(lambda t: t * 2, x, atol=1e-2, rtol=1e-2)


def test_gradgradcheck_catches_a_wrong_second_derivative():
    class FirstOrderOnly(cr.autograd.Function):
        def forward(self, x):
            return x ** 3

        def backward(self, grad_output):
            # Right first derivative, but built from a constant: its own derivative is lost.
            return grad_output * cr.tensor(3 * self.inputs[0].data ** 2, dtype=cr.float64)

    x = f64([1.0, 2.0])
    assert cr.autograd.gradcheck(lambda t: FirstOrderOnly.apply(t), x)
    with pytest.raises(cr.autograd.GradcheckError):
        cr.autograd.gradgradcheck(lambda t: FirstOrderOnly.apply(t), x)
