"""Pointwise math: powers (``pow``, with broadcasting) and the unary functions exp, log, sqrt,
abs, sin, cos, tanh, sigmoid and relu.

Each backward is written with chainrule ops (gradients of gradients work); where the formula is
the same on arrays, ``backward_arrays`` and ``backward_batched`` are one method.
"""

from __future__ import annotations

import numpy as np

from chainrule.autograd.function import Function
from chainrule.ops._util import as_tensor, exp_nonpositive, operands, unbroadcast
from chainrule.ops.elementwise import _check_broadcast, neg
from chainrule.ops.select import where
from chainrule.tensor import Tensor


class Pow(Function):
    """a ** b;  d/da = b·a^(b-1) (0 where b = 0, even at a = 0), d/db = a^b·log(a).

    Where a <= 0, d/db is PyTorch's: 0 for 0^b with b >= 0, -inf for b < 0, NaN for a < 0 (log a
    is not real there).
    """

    saves_output = True

    def forward(self, a, b):
        _check_broadcast("pow", a, b)
        return np.power(a, b)

    def backward(self, grad_output):
        a, b = self.inputs
        grad_a = grad_b = None
        if self.next[0] is not None:
            base = a
            zero_exponent = b.data == 0
            if zero_exponent.any():
                # b·a^(b-1) is 0·inf at 0⁰; a base of 1 there gives the limit 0 and keeps
                # a^(b-1) finite for double backward (elsewhere the formula is left exact).
                zero_power_of_zero = zero_exponent & (a.data == 0)
                if zero_power_of_zero.any():
                    base = where(zero_power_of_zero, 1.0, a)
            grad_a = unbroadcast(grad_output * b * pow(base, b - 1), a.shape)
        if self.next[1] is not None:
            positive = a.data > 0
            if positive.all():
                slope = self.output * log(a)
            else:
                # Masked before multiplying: a^b·log(1) would be inf·0 at 0^b with b < 0.
                slope = where(positive, self.output, 0.0) * log(where(positive, a, 1.0))
                limit = np.where(a.data == 0, np.where(b.data >= 0, 0.0, -np.inf), np.nan)
                slope = where(positive, slope, Tensor._make(limit.astype(grad_output.dtype)))
            grad_b = unbroadcast(grad_output * slope, b.shape)
        return grad_a, grad_b


def pow(a, b) -> Tensor:
    """Elementwise ``a ** b``; either may be a scalar.

    As PyTorch, integer tensors stay in their dtype (``2 ** x`` and ``x ** 2`` of an int32 ``x``
    are int32), a float operand makes the result float, and an integer to a negative integer
    power is an error (the result would not be an integer).

    Example:
        >>> import chainrule as cr
        >>> 2 ** cr.tensor([0, 1, 3])
        tensor([1, 2, 8])
    """
    # Checked before promotion, which would cast a negative exponent to an unsigned base's dtype.
    base = a.data if isinstance(a, Tensor) else np.asarray(a)
    exponent = b.data if isinstance(b, Tensor) else np.asarray(b)
    if base.dtype.kind in "biu" and exponent.dtype.kind == "i" and (exponent < 0).any():
        smallest = int(exponent.min())
        given = (f"is {smallest}" if exponent.ndim == 0
                 else f"is a {exponent.dtype} tensor holding {smallest}")
        raise ValueError(
            f"pow: integers to negative integer powers are not allowed: the base has dtype "
            f"{base.dtype} and the exponent {given}, so the result would not be an integer. "
            f"Convert to floating point first, e.g. x.float() ** {smallest}, or use a float "
            f"exponent such as {smallest}.0"
        )
    return Pow.apply(*operands(a, b))


# ---------------------------------------------------------------------------- unary math
class Exp(Function):
    """exp(x);  d/dx = exp(x), read from the output."""

    needs_inputs = False
    saves_output = True

    def forward(self, x):
        return np.exp(x)

    def backward(self, grad_output):
        return grad_output * self.output

    def backward_batched(self, grads):
        return grads * self._output_data

    backward_arrays = backward_batched  # the same formula for any leading shape


def exp(x) -> Tensor:
    """Elementwise ``e ** x``."""
    return Exp.apply(_float(x))


class Log(Function):
    """log(x);  d/dx = 1/x."""

    def forward(self, x):
        return np.log(x)

    def backward(self, grad_output):
        return grad_output / self.inputs[0]

    def backward_batched(self, grads):
        return grads / self.inputs[0].data

    backward_arrays = backward_batched  # the same formula for any leading shape


def log(x) -> Tensor:
    """Elementwise natural logarithm."""
    return Log.apply(_float(x))


class Sqrt(Function):
    """sqrt(x);  d/dx = 1 / (2·sqrt(x)), read from the output."""

    needs_inputs = False
    saves_output = True

    def forward(self, x):
        return np.sqrt(x)

    def backward(self, grad_output):
        return grad_output / (self.output * 2.0)


def sqrt(x) -> Tensor:
    """Elementwise square root."""
    return Sqrt.apply(_float(x))


class Abs(Function):
    """|x|;  d/dx = sign(x) (0 at 0, as PyTorch)."""

    def forward(self, x):
        return np.abs(x)

    def backward(self, grad_output):
        return grad_output * Tensor._make(np.sign(self.inputs[0].data))


def abs(x) -> Tensor:
    """Elementwise absolute value."""
    return Abs.apply(as_tensor(x))


class Sin(Function):
    """sin(x);  d/dx = cos(x)."""

    def forward(self, x):
        return np.sin(x)

    def backward(self, grad_output):
        return grad_output * cos(self.inputs[0])


def sin(x) -> Tensor:
    """Elementwise sine."""
    return Sin.apply(_float(x))


class Cos(Function):
    """cos(x);  d/dx = -sin(x)."""

    def forward(self, x):
        return np.cos(x)

    def backward(self, grad_output):
        return neg(grad_output * sin(self.inputs[0]))


def cos(x) -> Tensor:
    """Elementwise cosine."""
    return Cos.apply(_float(x))


class Tanh(Function):
    """tanh(x);  d/dx = 1 - tanh(x)², read from the output."""

    needs_inputs = False
    saves_output = True

    def forward(self, x):
        return np.tanh(x)

    def backward(self, grad_output):
        out = self.output
        return grad_output * (1.0 - out * out)

    def backward_batched(self, grads):
        return grads * (1.0 - self._output_data * self._output_data)

    backward_arrays = backward_batched  # the same formula for any leading shape


def tanh(x) -> Tensor:
    """Elementwise hyperbolic tangent."""
    return Tanh.apply(_float(x))


class Sigmoid(Function):
    """σ(x) = 1 / (1 + e^-x);  d/dx = σ(x)(1 - σ(x)), read from the output."""

    needs_inputs = False
    saves_output = True

    def forward(self, x):
        # e^-|x| never overflows, and exp_nonpositive never underflows, so ±1000 in float32
        # gives 0 and 1 with no warning.
        e = exp_nonpositive(-np.abs(x))
        return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e)).astype(x.dtype, copy=False)

    def backward(self, grad_output):
        out = self.output
        return grad_output * (out * (1.0 - out))

    def backward_batched(self, grads):
        return grads * (self._output_data * (1.0 - self._output_data))

    backward_arrays = backward_batched  # the same formula for any leading shape


def sigmoid(x) -> Tensor:
    """Elementwise logistic sigmoid, stable for large |x|."""
    return Sigmoid.apply(_float(x))


class Relu(Function):
    """max(x, 0);  d/dx = 0 where the output is <= 0, else 1 (a NaN passes its gradient,
    as in PyTorch)."""

    needs_inputs = False
    saves_output = True

    def forward(self, x):
        return np.maximum(x, 0)

    def backward(self, grad_output):
        # A bool mask multiplies without a cast and is ~7x faster than np.where.
        return grad_output * Tensor._make(self._output_mask())

    def backward_batched(self, grads):
        return grads * self._output_mask()

    backward_arrays = backward_batched  # the same formula for any leading shape

    def _output_mask(self):
        return self._output_data != 0  # an output is >= 0 or NaN: ~(out <= 0) in one pass


def relu(x) -> Tensor:
    """Elementwise rectified linear unit ``max(x, 0)``."""
    return Relu.apply(as_tensor(x))


def _float(x) -> Tensor:
    """A tensor that is floating point (integers become float32, as PyTorch's math ops)."""
    x = as_tensor(x)
    if x.data.dtype.kind != "f":
        return x.float()
    return x
