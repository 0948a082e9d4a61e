"""Activation ops: the ReLU family (leaky, parametric, randomized), the ELU family, GELU,
SiLU, softplus, hardtanh, softsign.

Each op is a Function whose backward is written with chainrule ops, so gradients of gradients
work; composites (silu, logsigmoid, ...) are plain functions of such ops. Every forward and
backward is stable at the extremes: nothing overflows or underflows, so ±1e30 in float32 raises
no NumPy warning even under ``np.errstate(all='raise')``. At kinks the gradient is PyTorch's.
"""

from __future__ import annotations

import math

import numpy as np

from chainrule import backend
from chainrule.autograd.function import Function
from chainrule.ops._util import as_tensor, exp_nonpositive, float_input, mask_tensor
from chainrule.ops.pointwise import abs as absolute, sigmoid, tanh
from chainrule.ops.select import clip, where
from chainrule.ops.reduce import sum as reduce_sum
from chainrule.ops.shape import reshape
from chainrule.ops.special import SafeExp, _clamped, erf
from chainrule.tensor import Tensor


# ---------------------------------------------------------------------------- activations
class LeakyRelu(Function):
    """x if x > 0 else slope·x;  d/dx = 1 or slope (a constant, so the second derivative is 0)."""

    def forward(self, x, negative_slope=0.01):
        self.saved = negative_slope
        return np.where(x > 0, x, x * negative_slope)

    def backward(self, grad_output):
        x = self.inputs[0].data
        slope = np.where(x > 0, 1.0, self.saved).astype(x.dtype)
        return grad_output * Tensor._make(slope)


def leaky_relu(input: Tensor, negative_slope: float = 0.01) -> Tensor:
    """max(0, x) + negative_slope·min(0, x).

    Example:
        >>> import chainrule as cr
        >>> import chainrule.nn
        >>> cr.nn.functional.leaky_relu(cr.tensor([-1.0, 2.0]), 0.1)
        tensor([-0.1,  2. ])
    """
    return LeakyRelu.apply(float_input(input, "leaky_relu"), negative_slope=float(negative_slope))


class PRelu(Function):
    """x if x > 0 else a·x with a learned slope a per channel (dim 1);
    dx = g·(1 or a),  da = Σ g·x over x <= 0 and all dims but the channel."""

    def forward(self, x, weight):
        return np.where(x > 0, x, x * weight.reshape(_prelu_shape(x.ndim, weight.size)))

    def backward(self, grad_output):
        x, weight = self.inputs
        positive = x.data > 0
        shape = _prelu_shape(x.ndim, weight.data.size)
        grad_x = grad_weight = None
        if self.next[0] is not None:
            slope = (mask_tensor(positive, x.dtype)
                     + mask_tensor(~positive, x.dtype) * reshape(weight, shape))
            grad_x = grad_output * slope
        if self.next[1] is not None:
            contribution = grad_output * x * mask_tensor(~positive, x.dtype)
            if weight.data.size == 1:
                grad_weight = reshape(reduce_sum(contribution), weight.shape)
            else:
                axes = tuple(i for i in range(x.ndim) if i != (1 if x.ndim >= 2 else 0))
                grad_weight = reshape(reduce_sum(contribution, axes), weight.shape)
        return grad_x, grad_weight


def _prelu_shape(ndim: int, size: int) -> tuple:
    if size == 1 or ndim < 2:
        return (size,) if ndim >= 1 and size > 1 else ()
    return (1, size) + (1,) * (ndim - 2)


def prelu(input: Tensor, weight: Tensor) -> Tensor:
    """max(0, x) + a·min(0, x) with a learned ``weight`` a: one slope, or one per channel
    (dimension 1 of the input).

    Shape: input (N, C, *), weight (1,) or (C,).
    """
    input, weight = float_input(input, "prelu"), as_tensor(weight)
    channels = input.shape[1] if input.ndim >= 2 else (input.shape[0] if input.ndim else 1)
    if weight.ndim != 1 or weight.shape[0] not in (1, channels):
        raise ValueError(
            f"prelu: weight of shape {tuple(weight.shape)} does not fit input of shape "
            f"{tuple(input.shape)}; expected (1,) or ({channels},) (one slope per channel, dim 1)"
        )
    if weight.dtype != input.dtype:  # as PyTorch: no type promotion for prelu
        raise TypeError(
            f"prelu: input dtype {input.dtype} does not match weight dtype {weight.dtype}; "
            "convert the input (x.float()) or the model (model.double())"
        )
    return PRelu.apply(input, weight)


def rrelu(input: Tensor, lower: float = 1.0 / 8, upper: float = 1.0 / 3,
          training: bool = False) -> Tensor:
    """Randomized leaky ReLU: slope ~ U(lower, upper) drawn per element when ``training``;
    the mean slope (lower + upper) / 2 otherwise (Xu et al. 2015)."""
    input = float_input(input, "rrelu")
    if not 0 <= lower <= upper:
        raise ValueError(f"rrelu: expected 0 <= lower <= upper, got lower={lower}, upper={upper}")
    if not training:
        return leaky_relu(input, (lower + upper) / 2)
    slopes = backend.generator().random(input.shape, dtype=input.dtype) * (upper - lower) + lower
    return input * Tensor._make(np.where(input.data >= 0, 1.0, slopes).astype(input.dtype))


class Elu(Function):
    """λx if x > 0 else λα(e^(sx) - 1);  d/dx = λ, or λαs·e^(sx) for x <= 0 (as PyTorch).

    One op for elu (λ = s = 1), selu (λ, α fixed) and celu (s = 1/α). The slope comes from the
    input: from the output it would be output + λα, which cancels to nothing for x << 0.
    """

    def forward(self, x, alpha=1.0, scale=1.0, input_scale=1.0):
        self.saved = (alpha, scale, input_scale)
        exponent = np.minimum(x, 0)
        if input_scale != 1.0:
            exponent *= input_scale
        positive = x * scale if scale != 1.0 else x
        return np.where(x > 0, positive, np.expm1(exponent) * (alpha * scale)).astype(
            x.dtype, copy=False)

    def backward(self, grad_output):
        alpha, scale, input_scale = self.saved
        x = self.inputs[0]
        negative = x.data <= 0  # a NaN takes the positive side's slope, as in PyTorch
        exponent = where(negative, x, 0.0)  # <= 0, so e^exponent never overflows
        if input_scale != 1.0:
            exponent = exponent * input_scale
        slope = SafeExp.apply(exponent) * (alpha * scale * input_scale)
        return grad_output * where(negative, slope, scale)

    def backward_arrays(self, grad_output):
        # The same slope, selected by mask products (a masked select is ~5x slower); fmin sends
        # a NaN to e^0, not NaN.
        alpha, scale, input_scale = self.saved
        x = self.inputs[0].data
        negative = x <= 0
        exponent = np.fmin(x, 0)
        if input_scale != 1.0:
            exponent *= input_scale
        slope = exp_nonpositive(exponent)
        slope *= alpha * scale * input_scale
        slope *= negative
        positive = ~negative
        slope += positive if scale == 1.0 else np.multiply(positive, scale, dtype=slope.dtype)
        return grad_output * slope


def elu(input: Tensor, alpha: float = 1.0) -> Tensor:
    """Exponential linear unit: x if x > 0 else α(eˣ - 1)."""
    return Elu.apply(float_input(input, "elu"), alpha=float(alpha))


SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946


def selu(input: Tensor) -> Tensor:
    """Scaled ELU: λ·elu(x, α), λ ≈ 1.0507, α ≈ 1.6733 (self-normalizing networks)."""
    return Elu.apply(float_input(input, "selu"), alpha=SELU_ALPHA, scale=SELU_SCALE)


def celu(input: Tensor, alpha: float = 1.0) -> Tensor:
    """max(0, x) + min(0, α(e^(x/α) - 1))."""
    alpha = float(alpha)
    if alpha == 0.0:
        raise ValueError("celu: alpha must not be 0 (the curve is α(e^(x/α) - 1)), got 0.0")
    return Elu.apply(float_input(input, "celu"), alpha=alpha, input_scale=1.0 / alpha)


def gelu(input: Tensor, approximate: str = "none") -> Tensor:
    """Gaussian error linear unit: x·Φ(x) = x/2·(1 + erf(x/√2)); ``approximate='tanh'`` uses
    x/2·(1 + tanh(√(2/π)(x + 0.044715x³))), as PyTorch.

    Example:
        >>> import chainrule as cr
        >>> import chainrule.nn
        >>> round(float(cr.nn.functional.gelu(cr.tensor(1.0))), 4)
        0.8413
    """
    x = float_input(input, "gelu")
    if approximate == "none":
        return x * (erf(x * (1.0 / math.sqrt(2.0))) + 1.0) * 0.5
    if approximate == "tanh":

        # tanh is exactly ±1 (even in float64) once |x| >= 10, so clamping there changes no
        # value or slope and keeps x³ from overflowing.
        small = _clamped(x, _GELU_TANH_LIMIT)
        inner = (small + small * small * small * 0.044715) * math.sqrt(2.0 / math.pi)
        return x * (tanh(inner) + 1.0) * 0.5
    raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")


_GELU_TANH_LIMIT = 10.0


def silu(input: Tensor) -> Tensor:
    """x·σ(x) (also called swish)."""
    x = float_input(input, "silu")
    return x * sigmoid(x)


class Softplus(Function):
    """log(1 + e^(βx))/β, and x where βx > threshold;  d/dx = σ(βx) (1 above the threshold)."""

    def forward(self, x, beta=1.0, threshold=20.0):
        self.saved = (beta, threshold)
        scaled = x * beta if beta != 1.0 else x
        # log(1 + e^z) = max(z, 0) + log1p(e^-|z|): never overflows.
        out = np.maximum(scaled, 0) + np.log1p(exp_nonpositive(-np.abs(scaled)))
        if beta != 1.0:
            out /= beta
        if threshold is not None:
            out = np.where(scaled > threshold, x, out)
        return out.astype(x.dtype, copy=False)

    def backward(self, grad_output):
        beta, threshold = self.saved
        x = self.inputs[0]
        slope = sigmoid(x * beta if beta != 1.0 else x)
        if threshold is not None:
            above = (x.data * beta) > threshold
            if above.any():
                slope = where(above, 1.0, slope)
        return grad_output * slope


def softplus(input: Tensor, beta: float = 1.0, threshold: float | None = 20.0) -> Tensor:
    """Smooth ReLU: log(1 + e^(βx))/β, reverting to x where βx > ``threshold`` (as PyTorch;
    None disables the threshold).

    Example:
        >>> import chainrule as cr
        >>> import chainrule.nn
        >>> cr.nn.functional.softplus(cr.tensor([-1000.0, 0.0, 1000.0])).tolist()
        [0.0, 0.6931471824645996, 1000.0]
    """
    return Softplus.apply(float_input(input, "softplus"), beta=float(beta),
                          threshold=None if threshold is None else float(threshold))


def logsigmoid(input: Tensor) -> Tensor:
    """log σ(x) = -softplus(-x), stable for large |x|."""
    return -softplus(-float_input(input, "logsigmoid"), threshold=None)


class Hardtanh(Function):
    """clip(x, min_val, max_val);  d/dx = 1 strictly inside, 0 at and beyond both ends.

    Unlike ``clamp`` (whose gradient passes at the ends), the ends get 0, as PyTorch's hardtanh
    and relu6; a NaN, neither <= min_val nor >= max_val, passes the gradient as there.
    """

    def forward(self, x, min_val=-1.0, max_val=1.0):
        self.saved = (min_val, max_val)
        return np.clip(x, min_val, max_val)

    def backward(self, grad_output):
        min_val, max_val = self.saved
        x = self.inputs[0].data
        return grad_output * Tensor._make(~((x <= min_val) | (x >= max_val)))


def hardtanh(input: Tensor, min_val: float = -1.0, max_val: float = 1.0) -> Tensor:
    """x clipped to [min_val, max_val]; gradient 1 strictly inside, 0 elsewhere (as PyTorch).

    Example:
        >>> import chainrule as cr
        >>> import chainrule.nn
        >>> cr.nn.functional.hardtanh(cr.tensor([-2.0, 0.5, 2.0]))
        tensor([-1. ,  0.5,  1. ])
    """
    if min_val > max_val:
        raise ValueError(f"hardtanh: min_val ({min_val}) must not exceed max_val ({max_val})")
    return Hardtanh.apply(float_input(input, "hardtanh"), min_val=float(min_val),
                          max_val=float(max_val))


def relu6(input: Tensor) -> Tensor:
    """min(max(0, x), 6); the gradient is 0 at 0 and at 6, as PyTorch."""
    return hardtanh(input, 0.0, 6.0)


class Softsign(Function):
    """x / (1 + |x|);  d/dx = 1 / (1 + |x|)²."""

    def forward(self, x):
        return x / (np.abs(x) + 1)

    def backward(self, grad_output):
        x = self.inputs[0]
        limit, beyond = _softsign_beyond(x.data)
        magnitude = absolute(x) if beyond is None else clip(absolute(x), None, limit)
        reciprocal = 1.0 / (magnitude + 1.0)
        slope = reciprocal * reciprocal
        if beyond is not None:
            slope = slope * Tensor._make(~beyond)
        return grad_output * slope

    def backward_arrays(self, grad_output):
        x = self.inputs[0].data
        limit, beyond = _softsign_beyond(x)
        magnitude = np.abs(x)
        if beyond is not None:
            magnitude = np.minimum(magnitude, limit)
        magnitude += 1.0
        slope = np.reciprocal(magnitude, out=magnitude)
        slope *= slope
        if beyond is not None:
            slope *= ~beyond
        return grad_output * slope


def _softsign_beyond(x: np.ndarray):
    """(limit, mask or None): past the limit the slope is below the smallest normal number, so
    it is 0, with no overflow of (1 + |x|)² and no underflow (errstate(all='raise') reports it)."""
    limit = _SOFTSIGN_LIMIT.get(x.dtype, 1e18)
    magnitude = np.abs(x)
    beyond = magnitude > limit if magnitude.size and magnitude.max() > limit else None
    return limit, beyond


_SOFTSIGN_LIMIT = {np.dtype(np.float16): 100.0, np.dtype(np.float32): 1e18,
                   np.dtype(np.float64): 1e150}


def softsign(input: Tensor) -> Tensor:
    """x / (1 + |x|)."""
    return Softsign.apply(float_input(input, "softsign"))
