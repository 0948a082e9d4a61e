"""Neural-network ops: linear, activations, softmax, dropout.

Each op is a Function whose backward is written with chainrule ops, so gradients of gradients
work; composites (silu, logsigmoid, ...) are plain functions of such ops. Every forward and
backward is stable at the extremes: nothing overflows or underflows, so ±1e30 in float32 raises
no NumPy warning even under ``np.errstate(all='raise')``. At kinks the gradient is PyTorch's.
"""

from __future__ import annotations

import math

import numpy as np

from chainrule import backend
from chainrule.autograd import grad_mode
from chainrule.autograd.function import Function
from chainrule.ops._util import as_tensor, exp_nonpositive, normalize_dims
from chainrule.ops.elementwise import clip, sigmoid, where
from chainrule.ops.linalg import matmul
from chainrule.ops.reduce import sum as reduce_sum
from chainrule.ops.shape import reshape, transpose
from chainrule.tensor import Tensor

def _float_input(x, op: str) -> Tensor:
    x = as_tensor(x)
    if x.data.dtype.kind != "f":
        raise TypeError(f"{op} needs a floating-point tensor, got dtype {x.dtype}; use .float()")
    return x


def _mask(condition: np.ndarray, dtype) -> Tensor:
    return Tensor._make(condition.astype(dtype))


# ---------------------------------------------------------------------------- linear
class Linear(Function):
    """y = x Wᵀ + b;  dx = g W,  dW = gᵀ x,  db = Σ_batch g."""

    def forward(self, x, weight, bias=None):
        out = np.matmul(x, weight.T)
        if bias is not None:
            out += bias
        return out

    def backward(self, grad_output):
        if not grad_mode._GradMode.enabled:
            return self._backward_arrays(grad_output.data)
        x, weight = self.inputs[0], self.inputs[1]
        grad_x = grad_weight = grad_bias = None
        if self.next[0] is not None:
            grad_x = matmul(grad_output, weight)
        flat_grad = grad_output
        if grad_output.ndim != 2:
            flat_grad = reshape(grad_output, (-1, grad_output.shape[-1]))
        if self.next[1] is not None:
            flat_x = x if x.ndim == 2 else reshape(x, (-1, x.shape[-1]))
            grad_weight = matmul(transpose(flat_grad, 0, 1), flat_x)
        if len(self.next) == 3 and self.next[2] is not None:
            grad_bias = reduce_sum(flat_grad, 0)
        return grad_x, grad_weight, grad_bias

    def _backward_arrays(self, grad):
        # The same formulas on arrays: when no graph of the backward is recorded, skipping the
        # ops' dispatch keeps a Linear layer as fast as hand-written NumPy.
        x, weight = self.inputs[0].data, self.inputs[1].data
        grads = [None, None, None]
        if self.next[0] is not None:
            grads[0] = Tensor._make(grad @ weight)
        flat_grad = grad if grad.ndim == 2 else grad.reshape(-1, grad.shape[-1])
        if self.next[1] is not None:
            flat_x = x if x.ndim == 2 else x.reshape(-1, x.shape[-1])
            grads[1] = Tensor._make(flat_grad.T @ flat_x)
        if len(self.next) == 3 and self.next[2] is not None:
            grads[2] = Tensor._make(flat_grad.sum(axis=0))
        return tuple(grads)


def linear(input: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """Affine map ``input @ weight.T + bias``, as PyTorch's ``F.linear``.

    Shape: input (*, in_features), weight (out_features, in_features), bias (out_features,)
    -> (*, out_features).

    Example:
        >>> import chainrule as cr
        >>> import chainrule.nn
        >>> F = cr.nn.functional
        >>> F.linear(cr.ones(2, 3), cr.ones(4, 3), cr.zeros(4)).shape
        (2, 4)
    """
    input, weight = as_tensor(input), as_tensor(weight)
    if weight.ndim != 2 or input.ndim == 0 or input.shape[-1] != weight.shape[1]:
        features = weight.shape[1] if weight.ndim == 2 else "in_features"
        raise ValueError(
            f"linear: input of shape {tuple(input.shape)} does not match weight of shape "
            f"{tuple(weight.shape)}; expected input (*, {features}) and weight "
            "(out_features, in_features)"
        )
    if input.dtype != weight.dtype:
        raise TypeError(
            f"linear: input dtype {input.dtype} does not match weight dtype {weight.dtype}; "
            "convert the input (x.float()) or the model (model.double())"
        )
    if bias is None:
        return Linear.apply(input, weight)
    bias = as_tensor(bias)
    if bias.shape != (weight.shape[0],):
        raise ValueError(
            f"linear: bias of shape {tuple(bias.shape)} does not match weight of shape "
            f"{tuple(weight.shape)}; expected ({weight.shape[0]},)"
        )
    return Linear.apply(input, weight, bias)


# ---------------------------------------------------------------------------- exp and erf
class SafeExp(Function):
    """exp(x) for x <= 0 without underflow (exact zeros);  d/dx = exp(x), read from the output."""

    needs_inputs = False
    saves_output = True

    def forward(self, x):
        return exp_nonpositive(x)

    def backward(self, grad_output):
        return grad_output * self.output


def _erf_array(x: np.ndarray) -> np.ndarray:
    """erf by W. J. Cody's rational Chebyshev approximations (CALERF), in float64."""
    x64 = np.asarray(x, dtype=np.float64)
    y = np.abs(x64)
    result = np.array(y)  # NaN stays NaN: it falls in none of the three ranges below
    small = y <= 0.46875
    if small.any():
        ys = y[small]
        ysq = ys * ys
        num, den = _ERF_A[4] * ysq, ysq
        for i in range(3):
            num, den = (num + _ERF_A[i]) * ysq, (den + _ERF_B[i]) * ysq
        result[small] = ys * (num + _ERF_A[3]) / (den + _ERF_B[3])
    middle = (y > 0.46875) & (y <= 4.0)
    if middle.any():
        ym = y[middle]
        num, den = _ERF_C[8] * ym, ym
        for i in range(7):
            num, den = (num + _ERF_C[i]) * ym, (den + _ERF_D[i]) * ym
        erfc = (num + _ERF_C[7]) / (den + _ERF_D[7])
        result[middle] = 1.0 - _erfc_scale(ym) * erfc
    large = y > 4.0
    if large.any():
        yl = np.minimum(y[large], 26.0)  # erfc(26) < 1e-290: erf is 1 in float64
        inv = 1.0 / (yl * yl)
        num, den = _ERF_P[5] * inv, inv
        for i in range(4):
            num, den = (num + _ERF_P[i]) * inv, (den + _ERF_Q[i]) * inv
        erfc = (1.0 / math.sqrt(math.pi) - inv * (num + _ERF_P[4]) / (den + _ERF_Q[4])) / yl
        result[large] = 1.0 - _erfc_scale(yl) * erfc
    return np.copysign(result, x64)


def _erfc_scale(y: np.ndarray) -> np.ndarray:
    # exp(-y²) split as exp(-r²)·exp(-(y-r)(y+r)) with r = y rounded down to 1/16 (Cody's trick
    # to keep the relative accuracy for large y).
    r = np.trunc(y * 16.0) / 16.0
    return np.exp(-r * r) * np.exp(-(y - r) * (y + r))


_ERF_A = (3.16112374387056560e00, 1.13864154151050156e02, 3.77485237685302021e02,
          3.20937758913846947e03, 1.85777706184603153e-1)
_ERF_B = (2.36012909523441209e01, 2.44024637934444173e02, 1.28261652607737228e03,
          2.84423683343917062e03)
_ERF_C = (5.64188496988670089e-1, 8.88314979438837594e00, 6.61191906371416295e01,
          2.98635138197400131e02, 8.81952221241769090e02, 1.71204761263407058e03,
          2.05107837782607147e03, 1.23033935479799725e03, 2.15311535474403846e-8)
_ERF_D = (1.57449261107098347e01, 1.17693950891312499e02, 5.37181101862009858e02,
          1.62138957456669019e03, 3.29079923573345963e03, 4.36261909014324716e03,
          3.43936767414372164e03, 1.23033935480374942e03)
_ERF_P = (3.05326634961232344e-1, 3.60344899949804439e-1, 1.25781726111229246e-1,
          1.60837851487422766e-2, 6.58749161529837803e-4, 1.63153871373020978e-2)
_ERF_Q = (2.56852019228982242e00, 1.87295284992346725e00, 5.27905102951428412e-1,
          6.05183413124413191e-2, 2.33520497626869185e-3)


# e^(-27²) = e^-729 is 0 even in float64, so clamping |x| there changes no value of e^(-x²)
# and keeps x² from overflowing (float32 overflows at |x| > 1.8e19).
_ERF_SLOPE_LIMIT = 27.0


class Erf(Function):
    """erf(x) = 2/√π ∫₀ˣ e^(-t²) dt;  d/dx = 2/√π · e^(-x²)."""

    def forward(self, x):
        return _erf_array(x).astype(x.dtype, copy=False)

    def backward(self, grad_output):
        x = _clamped(self.inputs[0], _ERF_SLOPE_LIMIT)
        return grad_output * SafeExp.apply(-(x * x)) * (2.0 / math.sqrt(math.pi))


def _clamped(x: Tensor, limit: float) -> Tensor:
    """x clipped to [-limit, limit], or x itself when it is inside already (the common case)."""
    if x.data.size and (np.max(x.data) > limit or np.min(x.data) < -limit):
        return clip(x, -limit, limit)
    return x


def erf(x) -> Tensor:
    """The error function, accurate to ~1e-15 relative in float64 (Cody's approximation).

    Example:
        >>> import chainrule as cr
        >>> import chainrule.nn
        >>> round(float(cr.nn.functional.erf(cr.tensor(1.0, dtype=cr.float64))), 6)
        0.842701
    """
    return Erf.apply(_float_input(x, "erf"))


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
    return LeakyRelu.apply(_float_input(input, "leaky_relu"), negative_slope=float(negative_slope))


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
            slope = _mask(positive, x.dtype) + _mask(~positive, x.dtype) * reshape(weight, shape)
            grad_x = grad_output * slope
        if self.next[1] is not None:
            contribution = grad_output * x * _mask(~positive, x.dtype)
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
    input, weight = _float_input(input, "prelu"), as_tensor(weight)
    channels = input.shape[1] if input.ndim >= 2 else (input.shape[0] if input.ndim else 1)
    if weight.ndim != 1 or weight.shape[0] not in (1, channels):
        raise ValueError(
            f"prelu: weight of shape {tuple(weight.shape)} does not fit input of shape "
            f"{tuple(input.shape)}; expected (1,) or ({channels},) (one slope per channel, dim 1)"
        )
    return PRelu.apply(input, weight)


def rrelu(input: Tensor, lower: float = 1.0 / 8, upper: float = 1.0 / 3,
          training: bool = False) -> Tensor:
    """Randomized leaky ReLU: slope ~ U(lower, upper) drawn per element when ``training``;
    the mean slope (lower + upper) / 2 otherwise (Xu et al. 2015)."""
    input = _float_input(input, "rrelu")
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
        if not grad_mode._GradMode.enabled:
            # The same slope on arrays when no graph of the backward is recorded, selected by
            # mask products (a masked select is ~5x slower); fmin sends a NaN to e^0, not NaN.
            exponent = np.fmin(x.data, 0)
            if input_scale != 1.0:
                exponent *= input_scale
            slope = exp_nonpositive(exponent)
            slope *= alpha * scale * input_scale
            slope *= negative
            positive = ~negative
            slope += positive if scale == 1.0 else np.multiply(positive, scale, dtype=slope.dtype)
            return grad_output * Tensor._make(slope)
        exponent = where(negative, x, 0.0)  # <= 0, so e^exponent never overflows
        if input_scale != 1.0:
            exponent = exponent * input_scale
        slope = SafeExp.apply(exponent) * (alpha * scale * input_scale)
        return grad_output * where(negative, slope, scale)


def elu(input: Tensor, alpha: float = 1.0) -> Tensor:
    """Exponential linear unit: x if x > 0 else α(eˣ - 1)."""
    return Elu.apply(_float_input(input, "elu"), alpha=float(alpha))


SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946


def selu(input: Tensor) -> Tensor:
    """Scaled ELU: λ·elu(x, α), λ ≈ 1.0507, α ≈ 1.6733 (self-normalizing networks)."""
    return Elu.apply(_float_input(input, "selu"), alpha=SELU_ALPHA, scale=SELU_SCALE)


def celu(input: Tensor, alpha: float = 1.0) -> Tensor:
    """max(0, x) + min(0, α(e^(x/α) - 1))."""
    alpha = float(alpha)
    if alpha == 0.0:
        raise ValueError("celu: alpha must not be 0 (the curve is α(e^(x/α) - 1)), got 0.0")
    return Elu.apply(_float_input(input, "celu"), alpha=alpha, input_scale=1.0 / alpha)


def gelu(input: Tensor, approximate: str = "none") -> Tensor:
    """Gaussian error linear unit: x·Φ(x) = x/2·(1 + erf(x/√2)); ``approximate='tanh'`` uses
    x/2·(1 + tanh(√(2/π)(x + 0.044715x³))), as PyTorch.

    Example:
        >>> import chainrule as cr
        >>> import chainrule.nn
        >>> round(float(cr.nn.functional.gelu(cr.tensor(1.0))), 4)
        0.8413
    """
    x = _float_input(input, "gelu")
    if approximate == "none":
        return x * (erf(x * (1.0 / math.sqrt(2.0))) + 1.0) * 0.5
    if approximate == "tanh":
        from chainrule.ops.elementwise import tanh

        # tanh is exactly ±1 (even in float64) once |x| >= 10, so clamping there changes no
        # value or slope and keeps x³ from overflowing.
        small = _clamped(x, _GELU_TANH_LIMIT)
        inner = (small + small * small * small * 0.044715) * math.sqrt(2.0 / math.pi)
        return x * (tanh(inner) + 1.0) * 0.5
    raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")


_GELU_TANH_LIMIT = 10.0


def silu(input: Tensor) -> Tensor:
    """x·σ(x) (also called swish)."""
    x = _float_input(input, "silu")
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
    return Softplus.apply(_float_input(input, "softplus"), beta=float(beta),
                          threshold=None if threshold is None else float(threshold))


def logsigmoid(input: Tensor) -> Tensor:
    """log σ(x) = -softplus(-x), stable for large |x|."""
    return -softplus(-_float_input(input, "logsigmoid"), threshold=None)


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
    return Hardtanh.apply(_float_input(input, "hardtanh"), min_val=float(min_val),
                          max_val=float(max_val))


def relu6(input: Tensor) -> Tensor:
    """min(max(0, x), 6); the gradient is 0 at 0 and at 6, as PyTorch."""
    return hardtanh(input, 0.0, 6.0)


class Softsign(Function):
    """x / (1 + |x|);  d/dx = 1 / (1 + |x|)²."""

    def forward(self, x):
        return x / (np.abs(x) + 1)

    def backward(self, grad_output):
        from chainrule.ops.elementwise import abs as absolute

        x = self.inputs[0]
        # Past the limit the slope is below the smallest normal number: 0, with no overflow of
        # (1 + |x|)² and no underflow (which errstate(all='raise') would report).
        limit = _SOFTSIGN_LIMIT.get(x.data.dtype, 1e18)
        magnitude = np.abs(x.data)
        beyond = magnitude > limit if magnitude.size and magnitude.max() > limit else None
        if not grad_mode._GradMode.enabled:  # the same slope on arrays, at half the cost
            if beyond is not None:
                magnitude = np.minimum(magnitude, limit)
            magnitude += 1.0
            slope = np.reciprocal(magnitude, out=magnitude)
            slope *= slope
            if beyond is not None:
                slope *= ~beyond
            return grad_output * Tensor._make(slope)
        magnitude = absolute(x) if beyond is None else clip(absolute(x), None, limit)
        reciprocal = 1.0 / (magnitude + 1.0)
        slope = reciprocal * reciprocal
        if beyond is not None:
            slope = slope * Tensor._make(~beyond)
        return grad_output * slope


_SOFTSIGN_LIMIT = {np.dtype(np.float16): 100.0, np.dtype(np.float32): 1e18,
                   np.dtype(np.float64): 1e150}


def softsign(input: Tensor) -> Tensor:
    """x / (1 + |x|)."""
    return Softsign.apply(_float_input(input, "softsign"))


# ---------------------------------------------------------------------------- softmax
class Softmax(Function):
    """p = e^(x - max) / Σ e^(x - max) along ``dim``;  dx = p·(g - Σ g·p)."""

    needs_inputs = False
    saves_output = True

    def forward(self, x, axis=-1):
        self.saved = axis
        e = exp_nonpositive(x - np.max(x, axis=axis, keepdims=True))
        e /= np.sum(e, axis=axis, keepdims=True)
        return e

    def backward(self, grad_output):
        p = self.output
        return p * (grad_output - reduce_sum(grad_output * p, self.saved, keepdim=True))


class LogSoftmax(Function):
    """x - logsumexp(x) along ``dim``;  dx = g - softmax(x)·Σ g."""

    needs_inputs = False
    saves_output = True

    def forward(self, x, axis=-1):
        self.saved = axis
        shifted = x - np.max(x, axis=axis, keepdims=True)
        shifted -= np.log(np.sum(exp_nonpositive(shifted), axis=axis, keepdims=True))
        return shifted

    def backward(self, grad_output):
        p = SafeExp.apply(self.output)
        return grad_output - p * reduce_sum(grad_output, self.saved, keepdim=True)


def _softmax_dim(x: Tensor, dim, op: str) -> int:
    if dim is None:
        dim = 0 if x.ndim in (0, 1, 3) else 1  # PyTorch's legacy implicit choice
    return normalize_dims(dim, max(x.ndim, 1), op)[0]


def softmax(input: Tensor, dim: int | None = None, dtype=None) -> Tensor:
    """e^x / Σ e^x along ``dim``, computed stably (shifted by the maximum).

    Example:
        >>> import chainrule as cr
        >>> import chainrule.nn
        >>> cr.nn.functional.softmax(cr.tensor([0.0, 1000.0]), dim=0)
        tensor([0., 1.])
    """
    x = _float_input(input, "softmax")
    if dtype is not None:
        x = x.to(dtype)
    if x.ndim == 0:
        return Softmax.apply(reshape(x, (1,)), axis=0).reshape(())
    return Softmax.apply(x, axis=_softmax_dim(x, dim, "softmax"))


def log_softmax(input: Tensor, dim: int | None = None, dtype=None) -> Tensor:
    """x - log Σ e^x along ``dim``, stable for any magnitude (log_softmax([v, v]) = -log 2).

    Example:
        >>> import chainrule as cr
        >>> import chainrule.nn
        >>> cr.nn.functional.log_softmax(cr.tensor([1e20, 1e20]), dim=0)
        tensor([-0.6931, -0.6931])
    """
    x = _float_input(input, "log_softmax")
    if dtype is not None:
        x = x.to(dtype)
    if x.ndim == 0:
        return LogSoftmax.apply(reshape(x, (1,)), axis=0).reshape(())
    return LogSoftmax.apply(x, axis=_softmax_dim(x, dim, "log_softmax"))


# ---------------------------------------------------------------------------- dropout
def _check_p(p: float, op: str) -> float:
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"{op}: dropout probability has to be between 0 and 1, but got {p}")
    return float(p)


def _dropout_with_mask_shape(x: Tensor, p: float, mask_shape: tuple) -> Tensor:
    if p == 1.0:
        return x * 0.0
    keep = backend.generator().random(mask_shape, dtype=np.float32) >= p
    scale = keep.astype(x.dtype)
    scale *= 1.0 / (1.0 - p)
    return x * Tensor._make(scale)


def dropout(input: Tensor, p: float = 0.5, training: bool = True) -> Tensor:
    """Inverted dropout: zero each element with probability ``p`` and scale the rest by
    1/(1-p), so the expected value is unchanged; the identity when not ``training``.

    Example:
        >>> import chainrule as cr
        >>> import chainrule.nn
        >>> x = cr.ones(4)
        >>> bool((cr.nn.functional.dropout(x, 0.5, training=False) == x).all())
        True
    """
    p = _check_p(p, "dropout")
    x = _float_input(input, "dropout")
    if not training or p == 0.0:
        return x
    return _dropout_with_mask_shape(x, p, x.shape)


def _channel_dropout(input, p, training, op: str, min_ndim: int) -> Tensor:
    p = _check_p(p, op)
    x = _float_input(input, op)
    if x.ndim < min_ndim:
        raise ValueError(f"{op}: expected an input with at least {min_ndim} dimensions "
                         f"(N, C, ...), got shape {tuple(x.shape)}")
    if not training or p == 0.0:
        return x
    return _dropout_with_mask_shape(x, p, x.shape[:2] + (1,) * (x.ndim - 2))


def dropout1d(input: Tensor, p: float = 0.5, training: bool = True) -> Tensor:
    """Zero whole channels of an (N, C, L) input with probability ``p`` (scaled by 1/(1-p))."""
    return _channel_dropout(input, p, training, "dropout1d", 2)


def dropout2d(input: Tensor, p: float = 0.5, training: bool = True) -> Tensor:
    """Zero whole channels (feature maps) of an (N, C, H, W) input with probability ``p``,
    scaling the kept ones by 1/(1-p) (Tompson et al. 2015)."""
    return _channel_dropout(input, p, training, "dropout2d", 2)


def one_hot(tensor: Tensor, num_classes: int = -1) -> Tensor:
    """Class indices -> int64 one-hot vectors in a new last dimension.

    Example:
        >>> import chainrule as cr
        >>> import chainrule.nn
        >>> cr.nn.functional.one_hot(cr.tensor([0, 2]), 3)
        tensor([[1, 0, 0],
                [0, 0, 1]])
    """
    labels = as_tensor(tensor).data
    if labels.dtype.kind not in "iu":
        raise TypeError(f"one_hot is only applicable to index tensors (int64), got dtype "
                        f"{labels.dtype}; use .long()")
    if num_classes == -1:
        num_classes = int(labels.max()) + 1 if labels.size else 0
    if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
        bad = int(labels.min()) if labels.min() < 0 else int(labels.max())
        raise ValueError(f"one_hot: class index {bad} is out of range for num_classes="
                         f"{num_classes}; expected values in [0, {num_classes})")
    return Tensor._make((labels[..., None] == np.arange(num_classes)).astype(np.int64))
