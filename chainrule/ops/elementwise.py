"""Elementwise ops: arithmetic with broadcasting, unary math, comparisons."""

from __future__ import annotations

import numpy as np

from chainrule.autograd.function import Function
from chainrule.ops._util import (
    as_tensor, broadcast_shapes, exp_nonpositive, operands, raw, result_type, unbroadcast,
)
from chainrule.tensor import Tensor


def _check_broadcast(op: str, a: np.ndarray, b: np.ndarray) -> None:
    if a.shape != b.shape:
        broadcast_shapes(op, a.shape, b.shape)


# ---------------------------------------------------------------------------- arithmetic
class Add(Function):
    """a + b;  d/da = 1, d/db = 1 (summed over broadcast dimensions)."""

    needs_inputs = False

    def forward(self, a, b):
        _check_broadcast("add", a, b)
        return a + b

    def backward(self, grad_output):
        a, b = self.inputs
        grad_a = unbroadcast(grad_output, a.shape) if self.next[0] is not None else None
        grad_b = unbroadcast(grad_output, b.shape) if self.next[1] is not None else None
        return grad_a, grad_b


def add(a, b) -> Tensor:
    """Elementwise ``a + b`` with broadcasting."""
    return Add.apply(*operands(a, b))


class Sub(Function):
    """a - b;  d/da = 1, d/db = -1."""

    needs_inputs = False

    def forward(self, a, b):
        _check_broadcast("sub", a, b)
        return a - b

    def backward(self, grad_output):
        a, b = self.inputs
        grad_a = unbroadcast(grad_output, a.shape) if self.next[0] is not None else None
        grad_b = unbroadcast(neg(grad_output), b.shape) if self.next[1] is not None else None
        return grad_a, grad_b


def sub(a, b) -> Tensor:
    """Elementwise ``a - b`` with broadcasting."""
    return Sub.apply(*operands(a, b))


class Mul(Function):
    """a * b;  d/da = b, d/db = a."""

    def forward(self, a, b):
        _check_broadcast("mul", a, b)
        return a * b

    def backward(self, grad_output):
        a, b = self.inputs
        grad_a = unbroadcast(grad_output * b, a.shape) if self.next[0] is not None else None
        grad_b = unbroadcast(grad_output * a, b.shape) if self.next[1] is not None else None
        return grad_a, grad_b

    def needed_inputs(self):
        return [position for position, edge in ((1, self.next[0]), (0, self.next[1]))
                if edge is not None]


def mul(a, b) -> Tensor:
    """Elementwise ``a * b`` with broadcasting."""
    return Mul.apply(*operands(a, b))


class Div(Function):
    """a / b;  d/da = 1/b, d/db = -a/b²."""

    def forward(self, a, b):
        _check_broadcast("div", a, b)
        return a / b

    def backward(self, grad_output):
        a, b = self.inputs
        grad_a = unbroadcast(grad_output / b, a.shape) if self.next[0] is not None else None
        grad_b = None
        if self.next[1] is not None:
            grad_b = unbroadcast(neg(grad_output * a) / (b * b), b.shape)
        return grad_a, grad_b

    def needed_inputs(self):
        return (0, 1) if self.next[1] is not None else (1,)


def div(a, b) -> Tensor:
    """Elementwise true division ``a / b`` with broadcasting (integers give float32)."""
    a, b = operands(a, b)
    if a.data.dtype.kind != "f" and b.data.dtype.kind != "f":
        a, b = a.float(), b.float()
    return Div.apply(a, b)


class Neg(Function):
    """-x;  d/dx = -1."""

    needs_inputs = False

    def forward(self, x):
        return -x

    def backward(self, grad_output):
        return neg(grad_output)


def neg(x) -> Tensor:
    """Elementwise ``-x``."""
    return Neg.apply(as_tensor(x))


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


def exp(x) -> Tensor:
    """Elementwise ``e ** x``."""
    return Exp.apply(_float(x))


class Log(Function):
    """log(x);  d/dx = 1/x."""

    def forward(self, x):
        return np.log(x)

    def backward(self, grad_output):
        return grad_output / self.inputs[0]


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


def sigmoid(x) -> Tensor:
    """Elementwise logistic sigmoid, stable for large |x|."""
    return Sigmoid.apply(_float(x))


class Relu(Function):
    """max(x, 0);  d/dx = 1 where the output is positive, else 0."""

    needs_inputs = False
    saves_output = True

    def forward(self, x):
        return np.maximum(x, 0)

    def backward(self, grad_output):
        # A bool mask multiplies without a cast and is ~7x faster than np.where.
        return grad_output * Tensor._make(self._output_mask())

    def _output_mask(self):
        return self.output.data > 0


def relu(x) -> Tensor:
    """Elementwise rectified linear unit ``max(x, 0)``."""
    return Relu.apply(as_tensor(x))


class Maximum(Function):
    """max(a, b);  the gradient goes to the larger input, split in half on ties (as PyTorch)."""

    def forward(self, a, b):
        _check_broadcast("maximum", a, b)
        return np.maximum(a, b)

    def backward(self, grad_output):
        return _split_by_winner(self, grad_output, np.greater)


class Minimum(Function):
    """min(a, b);  the gradient goes to the smaller input, split in half on ties."""

    def forward(self, a, b):
        _check_broadcast("minimum", a, b)
        return np.minimum(a, b)

    def backward(self, grad_output):
        return _split_by_winner(self, grad_output, np.less)


def _split_by_winner(fn, grad_output, wins):
    a, b = fn.inputs
    a_data, b_data = a.data, b.data
    dtype = grad_output.dtype
    share_a = wins(a_data, b_data).astype(dtype) + (a_data == b_data).astype(dtype) * 0.5
    share_a = Tensor._make(share_a)
    grad_a = grad_b = None
    if fn.next[0] is not None:
        grad_a = unbroadcast(grad_output * share_a, a.shape)
    if fn.next[1] is not None:
        grad_b = unbroadcast(grad_output * (1.0 - share_a), b.shape)
    return grad_a, grad_b


def maximum(a, b) -> Tensor:
    """Elementwise maximum of two tensors (broadcasting)."""
    return Maximum.apply(*operands(a, b))


def minimum(a, b) -> Tensor:
    """Elementwise minimum of two tensors (broadcasting)."""
    return Minimum.apply(*operands(a, b))


class Clip(Function):
    """clip(x, low, high);  d/dx = 1 inside [low, high], 0 outside."""

    def forward(self, x, low=None, high=None):
        self.saved = (low, high)
        return np.clip(x, low, high)

    def backward(self, grad_output):
        low, high = self.saved
        x = self.inputs[0].data
        inside = np.ones(x.shape, dtype=bool)
        if low is not None:
            inside &= x >= low
        if high is not None:
            inside &= x <= high
        return grad_output * Tensor._make(inside)


def clip(x, min=None, max=None) -> Tensor:
    """Limit values to ``[min, max]`` (either bound may be None); alias ``clamp``.

    The result's dtype follows PyTorch's promotion: an integer tensor with float bounds gives a
    float tensor; a float32 tensor stays float32 whatever the bounds' type.
    """
    if min is None and max is None:
        raise ValueError("clip: give at least one of min and max")
    x = as_tensor(x)
    dtype = result_type(x, *[bound for bound in (min, max) if bound is not None])
    if x.data.dtype != dtype:
        x = cast(x, dtype)
    low = None if min is None else np.asarray(raw(min), dtype=dtype)
    high = None if max is None else np.asarray(raw(max), dtype=dtype)
    return Clip.apply(x, low=low, high=high)


clamp = clip


class Where(Function):
    """where(condition, a, b);  the gradient goes to a where condition holds, else to b."""

    def forward(self, a, b, condition=None):
        self.saved = condition
        return np.where(condition, a, b)

    def backward(self, grad_output):
        a, b = self.inputs
        condition = Tensor._make(self.saved)
        zero = Tensor._make(np.zeros((), dtype=grad_output.dtype))
        grad_a = grad_b = None
        if self.next[0] is not None:
            grad_a = unbroadcast(where(condition, grad_output, zero), a.shape)
        if self.next[1] is not None:
            grad_b = unbroadcast(where(condition, zero, grad_output), b.shape)
        return grad_a, grad_b


def where(condition, a, b) -> Tensor:
    """Elementwise choice: ``a`` where ``condition`` is true, else ``b`` (broadcasting)."""
    condition = np.asarray(raw(condition), dtype=bool)
    a, b = operands(a, b)
    broadcast_shapes("where", condition.shape, a.shape, b.shape)
    return Where.apply(a, b, condition=condition)


class Cast(Function):
    """x.astype(dtype);  the gradient is cast back to x's dtype."""

    needs_inputs = False

    def forward(self, x, dtype=None):
        return x.astype(dtype)

    def backward(self, grad_output):
        return cast(grad_output, self.inputs[0].dtype)


def cast(x: Tensor, dtype) -> Tensor:
    """``x`` converted to ``dtype``; differentiable between floating dtypes."""
    if x.data.dtype == dtype:
        return x
    if np.dtype(dtype).kind != "f":
        return Tensor._make(x.data.astype(dtype))
    return Cast.apply(x, dtype=dtype)


class Clone(Function):
    """A copy;  d/dx = 1."""

    needs_inputs = False

    def forward(self, x):
        return x.copy()

    def backward(self, grad_output):
        return grad_output


def clone(x: Tensor) -> Tensor:
    """A copy of ``x`` with its own memory, in the graph."""
    return Clone.apply(x)


def fill(x: Tensor, value) -> Tensor:
    """A tensor of ``x``'s shape and dtype filled with ``value`` (a number or a tensor that
    broadcasts); in the graph, ``x`` gets a zero gradient and a tensor ``value`` the sum."""
    return copy_from(x, value)


def copy_from(x: Tensor, source) -> Tensor:
    """``source`` broadcast to ``x``'s shape and cast to its dtype (the value of ``x.copy_``)."""
    from chainrule.ops.shape import index_put

    source = as_tensor(source, x)
    broadcast_shapes("copy_", source.shape, x.shape)
    return index_put(x, Ellipsis, source)


def _float(x) -> Tensor:
    """A tensor that is floating point (integers become float32, as PyTorch's math ops)."""
    x = as_tensor(x)
    if x.data.dtype.kind != "f":
        return x.float()
    return x


# ---------------------------------------------------------------------------- no gradient
def _compare(ufunc):
    def compare(a, b) -> Tensor:
        a, b = operands(a, b)
        _check_broadcast(ufunc.__name__, a.data, b.data)
        return Tensor._make(ufunc(a.data, b.data))

    compare.__name__ = ufunc.__name__
    compare.__doc__ = f"Elementwise ``{ufunc.__name__}`` comparison; a bool tensor, no gradient."
    return compare


lt = _compare(np.less)
le = _compare(np.less_equal)
gt = _compare(np.greater)
ge = _compare(np.greater_equal)
eq = _compare(np.equal)
ne = _compare(np.not_equal)
logical_and = _compare(np.logical_and)
logical_or = _compare(np.logical_or)


def logical_not(x) -> Tensor:
    """Elementwise not (``~x``) of a bool tensor; no gradient."""
    x = as_tensor(x)
    if x.data.dtype.kind == "b":
        return Tensor._make(~x.data)
    if x.data.dtype.kind in "iu":
        return Tensor._make(~x.data)
    raise TypeError(f"~ needs a bool or integer tensor, got dtype {x.dtype}")


def sign(x) -> Tensor:
    """Elementwise sign (-1, 0 or 1); its gradient is zero, so it is not recorded."""
    x = as_tensor(x)
    return Tensor._make(np.sign(x.data))


def isfinite(x) -> Tensor:
    """Elementwise test for finite values; no gradient."""
    return Tensor._make(np.isfinite(as_tensor(x).data))


def isnan(x) -> Tensor:
    """Elementwise test for NaN; no gradient."""
    return Tensor._make(np.isnan(as_tensor(x).data))
