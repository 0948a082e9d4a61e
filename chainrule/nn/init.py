"""Weight initialization, in place, with PyTorch's names and formulas.

Every function fills ``tensor.data`` in place (no graph is recorded), keeps the tensor's dtype,
draws from ``chainrule.backend.generator()`` (so ``chainrule.manual_seed`` makes it
reproducible) and returns the tensor. ``uniform_`` and ``normal_`` (and the initializers built
on them) draw float32 samples whatever the tensor's dtype, so a float64 layer built from a seed
holds exactly the values of the float32 layer from that seed, and leaves the generator in the
same state.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from chainrule import backend
from chainrule.tensor import Tensor

__all__ = [
    "calculate_gain", "uniform_", "normal_", "trunc_normal_", "constant_", "zeros_", "ones_",
    "eye_", "xavier_uniform_", "xavier_normal_", "kaiming_uniform_", "kaiming_normal_",
    "orthogonal_",
]

_LINEAR_GAIN_ONE = ("linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d",
                    "conv_transpose2d", "conv_transpose3d", "sigmoid")


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    """The recommended gain for a nonlinearity (PyTorch's table).

    linear, conv*, sigmoid: 1;  tanh: 5/3;  relu: √2;  leaky_relu: √(2 / (1 + slope²)) with
    slope ``param`` (default 0.01);  selu: 3/4.

    Example:
        >>> from chainrule.nn import init
        >>> round(init.calculate_gain("tanh"), 4)
        1.6667
    """
    if nonlinearity in _LINEAR_GAIN_ONE:
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        if param is None:
            slope = 0.01
        elif isinstance(param, numbers.Number) and not isinstance(param, bool):
            slope = float(param)
        else:
            raise ValueError(f"negative_slope {param!r} is not a valid number")
        return math.sqrt(2.0 / (1 + slope ** 2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(
        f"Unsupported nonlinearity {nonlinearity!r}; expected one of linear, conv1d, conv2d, "
        "conv3d, conv_transpose1d/2d/3d, sigmoid, tanh, relu, leaky_relu, selu"
    )


def _calculate_fan_in_and_fan_out(tensor) -> tuple[int, int]:
    """(fan_in, fan_out) of a weight: Linear (out, in) -> (in, out); Conv (out, in/groups, *k)
    -> (in/groups · k, out · k) with k the product of the kernel sizes."""
    shape = tensor.shape
    if len(shape) < 2:
        raise ValueError(
            "Fan in and fan out can not be computed for tensor with fewer than 2 dimensions "
            f"(got shape {tuple(shape)})"
        )
    receptive_field = int(np.prod(shape[2:])) if len(shape) > 2 else 1
    return int(shape[1]) * receptive_field, int(shape[0]) * receptive_field


def _calculate_correct_fan(tensor, mode: str) -> int:
    mode = mode.lower()
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"Mode {mode} not supported, please use one of fan_in, fan_out")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return fan_in if mode == "fan_in" else fan_out


def _check(tensor, name: str) -> None:
    if not isinstance(tensor, Tensor):
        raise TypeError(f"nn.init.{name} expects a chainrule Tensor or Parameter, "
                        f"got {type(tensor).__name__}")


def _write(tensor: Tensor, values: np.ndarray) -> Tensor:
    """Copy values into the tensor's array in place (keeping its dtype) and bump its version."""
    if not tensor.data.flags.writeable:
        tensor.data = tensor.data.copy()
    tensor.data[...] = values
    tensor._version += 1
    return tensor


def uniform_(tensor: Tensor, a: float = 0.0, b: float = 1.0, generator=None) -> Tensor:
    """Fill with samples of U(a, b).

    Example:
        >>> import chainrule as cr
        >>> import chainrule.nn
        >>> w = cr.nn.init.uniform_(cr.empty(3, 4), -0.1, 0.1)
        >>> bool((abs(w) <= 0.1).all())
        True
    """
    _check(tensor, "uniform_")
    if not a <= b:
        raise ValueError(f"uniform_ expects a <= b, got a={a}, b={b}")
    rng = generator or backend.generator()
    values = rng.random(tensor.shape, dtype=np.float32)  # one stream for every dtype
    return _write(tensor, values * np.float32(b - a) + np.float32(a))


def normal_(tensor: Tensor, mean: float = 0.0, std: float = 1.0, generator=None) -> Tensor:
    """Fill with samples of N(mean, std²)."""
    _check(tensor, "normal_")
    if std < 0:
        raise ValueError(f"normal_ expects std >= 0, got {std}")
    rng = generator or backend.generator()
    values = rng.standard_normal(tensor.shape, dtype=np.float32)  # one stream for every dtype
    return _write(tensor, values * np.float32(std) + np.float32(mean))


def trunc_normal_(tensor: Tensor, mean: float = 0.0, std: float = 1.0, a: float = -2.0,
                  b: float = 2.0, generator=None) -> Tensor:
    """Fill with N(mean, std²) samples redrawn until they fall in [a, b]."""
    _check(tensor, "trunc_normal_")
    if not a < b:
        raise ValueError(f"trunc_normal_ expects a < b, got a={a}, b={b}")
    rng = generator or backend.generator()
    values = rng.standard_normal(tensor.shape) * std + mean
    outside = (values < a) | (values > b)
    for _ in range(1000):
        if not outside.any():
            break
        values[outside] = rng.standard_normal(int(outside.sum())) * std + mean
        outside = (values < a) | (values > b)
    return _write(tensor, np.clip(values, a, b))


def constant_(tensor: Tensor, val: float) -> Tensor:
    """Fill with the value ``val``."""
    _check(tensor, "constant_")
    return _write(tensor, val)


def zeros_(tensor: Tensor) -> Tensor:
    """Fill with zeros."""
    return constant_(tensor, 0)


def ones_(tensor: Tensor) -> Tensor:
    """Fill with ones."""
    return constant_(tensor, 1)


def eye_(tensor: Tensor) -> Tensor:
    """Fill a 2-D tensor with the identity (ones on the diagonal, zeros elsewhere)."""
    _check(tensor, "eye_")
    if tensor.ndim != 2:
        raise ValueError(f"eye_ needs a 2-dimensional tensor, got shape {tuple(tensor.shape)}")
    return _write(tensor, np.eye(*tensor.shape))


def xavier_uniform_(tensor: Tensor, gain: float = 1.0, generator=None) -> Tensor:
    """Glorot uniform: U(-a, a) with a = gain·√(6 / (fan_in + fan_out))."""
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    bound = gain * math.sqrt(6.0 / float(fan_in + fan_out))
    return uniform_(tensor, -bound, bound, generator)


def xavier_normal_(tensor: Tensor, gain: float = 1.0, generator=None) -> Tensor:
    """Glorot normal: N(0, std²) with std = gain·√(2 / (fan_in + fan_out))."""
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    std = gain * math.sqrt(2.0 / float(fan_in + fan_out))
    return normal_(tensor, 0.0, std, generator)


def kaiming_uniform_(tensor: Tensor, a: float = 0.0, mode: str = "fan_in",
                     nonlinearity: str = "leaky_relu", generator=None) -> Tensor:
    """He uniform: U(-bound, bound), bound = gain·√(3 / fan), gain = calculate_gain(
    nonlinearity, a) and fan the fan_in or fan_out of the weight.

    Linear's default init is ``kaiming_uniform_(w, a=√5)``: bound = 1/√fan_in.
    """
    _check(tensor, "kaiming_uniform_")
    if 0 in tensor.shape:
        return tensor
    fan = _calculate_correct_fan(tensor, mode)
    gain = calculate_gain(nonlinearity, a)
    bound = math.sqrt(3.0) * gain / math.sqrt(fan)
    return uniform_(tensor, -bound, bound, generator)


def kaiming_normal_(tensor: Tensor, a: float = 0.0, mode: str = "fan_in",
                    nonlinearity: str = "leaky_relu", generator=None) -> Tensor:
    """He normal: N(0, std²), std = gain / √fan (see ``kaiming_uniform_``)."""
    _check(tensor, "kaiming_normal_")
    if 0 in tensor.shape:
        return tensor
    fan = _calculate_correct_fan(tensor, mode)
    std = calculate_gain(nonlinearity, a) / math.sqrt(fan)
    return normal_(tensor, 0.0, std, generator)


def orthogonal_(tensor: Tensor, gain: float = 1.0, generator=None) -> Tensor:
    """A (semi-)orthogonal matrix times ``gain`` (Saxe et al. 2013), from the QR decomposition
    of a Gaussian matrix; dimensions after the first are flattened."""
    _check(tensor, "orthogonal_")
    if tensor.ndim < 2:
        raise ValueError(
            f"Only tensors with 2 or more dimensions are supported, got shape {tuple(tensor.shape)}"
        )
    if tensor.data.size == 0:
        return tensor
    rows = tensor.shape[0]
    cols = tensor.data.size // rows
    rng = generator or backend.generator()
    flat = rng.standard_normal((rows, cols))
    if rows < cols:
        flat = flat.T
    q, r = np.linalg.qr(flat)
    q *= np.sign(np.diag(r))  # makes the distribution uniform (Haar)
    if rows < cols:
        q = q.T
    return _write(tensor, (q * gain).reshape(tensor.shape))
