"""Activation modules: each wraps the function of the same name in ``chainrule.nn.functional``."""

from __future__ import annotations

from chainrule import backend
from chainrule.nn import init
from chainrule.nn.module import Module
from chainrule.nn.parameter import Parameter, factory_dtype
from chainrule.nn import functional as F
from chainrule.tensor import Tensor

__all__ = [
    "ReLU", "Sigmoid", "Tanh", "LeakyReLU", "PReLU", "RReLU", "ELU", "SELU", "CELU", "GELU",
    "SiLU", "Softplus", "LogSigmoid", "Hardtanh", "ReLU6", "Softsign", "Softmax", "LogSoftmax",
]


class ReLU(Module):
    """max(0, x) elementwise.  Example: ``nn.ReLU()(cr.tensor([-1.0, 2.0]))`` gives [0, 2]."""

    def __init__(self, inplace: bool = False):
        super().__init__()
        self.inplace = inplace  # accepted for PyTorch compatibility; always out of place

    def forward(self, input: Tensor) -> Tensor:
        return F.relu(input)


class Sigmoid(Module):
    """σ(x) = 1/(1 + e^-x), stable for large |x|."""

    def forward(self, input: Tensor) -> Tensor:
        return F.sigmoid(input)


class Tanh(Module):
    """tanh(x)."""

    def forward(self, input: Tensor) -> Tensor:
        return F.tanh(input)


class LeakyReLU(Module):
    """max(0, x) + negative_slope·min(0, x).

    Example:
        >>> import chainrule as cr
        >>> import chainrule.nn
        >>> cr.nn.LeakyReLU(0.1)(cr.tensor([-2.0, 3.0]))
        tensor([-0.2,  3. ])
    """

    def __init__(self, negative_slope: float = 0.01, inplace: bool = False):
        super().__init__()
        self.negative_slope = negative_slope

    def forward(self, input: Tensor) -> Tensor:
        return F.leaky_relu(input, self.negative_slope)

    def extra_repr(self) -> str:
        return f"negative_slope={self.negative_slope}"


class PReLU(Module):
    """max(0, x) + a·min(0, x) with the slope a learned: one shared slope, or one per channel
    (dimension 1) when ``num_parameters`` > 1 (He et al. 2015).

    Args:
        num_parameters: 1 or the number of channels.
        init: the initial slope (0.25).
        device: only the CPU (None or 'cpu'), accepted for PyTorch compatibility.
        dtype: the slopes' dtype, floating-point (float32 by default).

    Note: ``num_parameters`` is an int attribute here (as in PyTorch), which hides
    ``Module.num_parameters()`` on PReLU instances.

    Example:
        >>> import chainrule as cr
        >>> import chainrule.nn
        >>> cr.nn.PReLU(3)(cr.randn(2, 3, 4)).shape
        (2, 3, 4)
    """

    def __init__(self, num_parameters: int = 1, init: float = 0.25, device=None, dtype=None):
        super().__init__()
        if not isinstance(num_parameters, int) or num_parameters < 1:
            raise ValueError(f"PReLU: num_parameters must be a positive int, got "
                             f"{num_parameters!r}")
        self.num_parameters = num_parameters
        self.init = init
        dtype = factory_dtype("PReLU", device, dtype)
        self.weight = Parameter(Tensor._make(backend.empty((num_parameters,), dtype)))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Set every slope back to ``init``."""
        init.constant_(self.weight, self.init)

    def forward(self, input: Tensor) -> Tensor:
        return F.prelu(input, self.weight)

    def extra_repr(self) -> str:
        return f"num_parameters={self.num_parameters}"


class RReLU(Module):
    """Randomized leaky ReLU: in training, each negative element gets a slope drawn from
    U(lower, upper); in eval the fixed slope (lower + upper)/2."""

    def __init__(self, lower: float = 1.0 / 8, upper: float = 1.0 / 3, inplace: bool = False):
        super().__init__()
        if not 0 <= lower <= upper:
            raise ValueError(f"RReLU: expected 0 <= lower <= upper, got {lower}, {upper}")
        self.lower, self.upper = lower, upper

    def forward(self, input: Tensor) -> Tensor:
        return F.rrelu(input, self.lower, self.upper, self.training)

    def extra_repr(self) -> str:
        return f"lower={self.lower}, upper={self.upper}"


class ELU(Module):
    """x if x > 0 else α(eˣ - 1)."""

    def __init__(self, alpha: float = 1.0, inplace: bool = False):
        super().__init__()
        self.alpha = alpha

    def forward(self, input: Tensor) -> Tensor:
        return F.elu(input, self.alpha)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}"


class SELU(Module):
    """λ·elu(x, α) with λ ≈ 1.0507, α ≈ 1.6733 (self-normalizing; pair with
    ``init.kaiming_normal_(w, nonlinearity='linear')`` / ``calculate_gain('selu')``)."""

    def __init__(self, inplace: bool = False):
        super().__init__()

    def forward(self, input: Tensor) -> Tensor:
        return F.selu(input)


class CELU(Module):
    """max(0, x) + min(0, α(e^(x/α) - 1))."""

    def __init__(self, alpha: float = 1.0, inplace: bool = False):
        super().__init__()
        self.alpha = alpha

    def forward(self, input: Tensor) -> Tensor:
        return F.celu(input, self.alpha)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}"


class GELU(Module):
    """x·Φ(x) (exact, with erf) or its tanh approximation (``approximate='tanh'``)."""

    def __init__(self, approximate: str = "none"):
        super().__init__()
        if approximate not in ("none", "tanh"):
            raise ValueError(f"GELU: approximate must be 'none' or 'tanh', got {approximate!r}")
        self.approximate = approximate

    def forward(self, input: Tensor) -> Tensor:
        return F.gelu(input, self.approximate)

    def extra_repr(self) -> str:
        return f"approximate={self.approximate!r}"


class SiLU(Module):
    """x·σ(x) (swish)."""

    def __init__(self, inplace: bool = False):
        super().__init__()

    def forward(self, input: Tensor) -> Tensor:
        return F.silu(input)


class Softplus(Module):
    """log(1 + e^(βx))/β, and x where βx > threshold."""

    def __init__(self, beta: float = 1.0, threshold: float = 20.0):
        super().__init__()
        self.beta, self.threshold = beta, threshold

    def forward(self, input: Tensor) -> Tensor:
        return F.softplus(input, self.beta, self.threshold)

    def extra_repr(self) -> str:
        return f"beta={self.beta}, threshold={self.threshold}"


class LogSigmoid(Module):
    """log σ(x), stable."""

    def forward(self, input: Tensor) -> Tensor:
        return F.logsigmoid(input)


class Hardtanh(Module):
    """x clipped to [min_val, max_val]."""

    def __init__(self, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False):
        super().__init__()
        if min_val > max_val:
            raise ValueError(f"Hardtanh: min_val ({min_val}) must not exceed max_val ({max_val})")
        self.min_val, self.max_val = min_val, max_val

    def forward(self, input: Tensor) -> Tensor:
        return F.hardtanh(input, self.min_val, self.max_val)

    def extra_repr(self) -> str:
        return f"min_val={self.min_val}, max_val={self.max_val}"


class ReLU6(Hardtanh):
    """min(max(0, x), 6)."""

    def __init__(self, inplace: bool = False):
        super().__init__(0.0, 6.0)


class Softsign(Module):
    """x / (1 + |x|)."""

    def forward(self, input: Tensor) -> Tensor:
        return F.softsign(input)


class Softmax(Module):
    """e^x / Σ e^x along ``dim``."""

    def __init__(self, dim: int | None = None):
        super().__init__()
        self.dim = dim

    def forward(self, input: Tensor) -> Tensor:
        return F.softmax(input, self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class LogSoftmax(Module):
    """x - log Σ e^x along ``dim``."""

    def __init__(self, dim: int | None = None):
        super().__init__()
        self.dim = dim

    def forward(self, input: Tensor) -> Tensor:
        return F.log_softmax(input, self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"
