"""Write your own differentiable op: a ``Function`` with forward and backward side by side,
checked by finite differences with ``gradcheck`` (first order) and ``gradgradcheck`` (second).

Run: python examples/custom_function.py
"""

import numpy as np

import chainrule as cr
from chainrule.autograd import Function, gradcheck, gradgradcheck


class Softsign(Function):
    """softsign(x) = x / (1 + |x|);  d/dx = 1 / (1 + |x|)²."""

    def forward(self, x):          # NumPy arrays in, a NumPy array out
        return x / (1.0 + np.abs(x))

    def backward(self, grad_output):
        # Written with chainrule ops, so the gradient is itself differentiable (second order).
        (x,) = self.inputs
        return grad_output / (1.0 + x.abs()) ** 2


def softsign(x):
    return Softsign.apply(x)


x = cr.tensor(np.linspace(-3, 3, 7), dtype=cr.float64, requires_grad=True)
softsign(x).sum().backward()
print("gradient:", np.round(x.grad.numpy(), 4))

# gradcheck compares backward with central differences of forward (use float64 and points
# away from the kink at 0, where |x| has no derivative).
point = cr.tensor([-2.0, -0.7, 0.4, 1.9], dtype=cr.float64, requires_grad=True)
print("gradcheck:", gradcheck(softsign, point))
print("gradgradcheck:", gradgradcheck(softsign, point))
