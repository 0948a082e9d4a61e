"""The activations that can be chosen by name, in one table: ``ACTIVATIONS``.

The command line (``--activation``), ``chainrule.models``, the lab and the diagnostics' plots
read their names, layers, functions and initialization gains from here.

Example:
    >>> from chainrule.nn.registry import ACTIVATIONS, activation
    >>> activation("leaky_relu")
    LeakyReLU(negative_slope=0.01)
    >>> round(ACTIVATIONS["tanh"].gain, 4)  # nn.init.calculate_gain("tanh")
    1.6667
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from chainrule.nn import functional as F
from chainrule.nn import init
from chainrule.nn.activation import ELU, GELU, PReLU, ReLU, RReLU, LeakyReLU, Sigmoid, Tanh
from chainrule.nn.module import Module
from chainrule.tensor import Tensor

__all__ = ["Activation", "ACTIVATIONS", "activation"]


@dataclass(frozen=True)
class Activation:
    """One activation by name.

    Attributes:
        name: what the command line, the models and the lab call it (``'leaky_relu'``).
        module: its layer class (``nn.LeakyReLU``); ``module()`` is the default layer.
        functional: its function in ``nn.functional`` (``F.leaky_relu``).
        function: the default layer's computation as a function of the input alone, in eval
            mode (PReLU at its initial slope, RReLU at its mean slope).
        title: what ``function`` computes, for figures (``'PReLU(a=0.25)'``).
        nonlinearity: its name for ``nn.init.calculate_gain`` and ``kaiming_*``.
        negative_slope: the default layer's slope for x < 0 (the gain's parameter), or None.
    """

    name: str
    module: type[Module]
    functional: Callable[..., Tensor]
    function: Callable[[Tensor], Tensor]
    title: str
    nonlinearity: str
    negative_slope: float | None = None

    @property
    def gain(self) -> float:
        """``nn.init.calculate_gain(nonlinearity, negative_slope)``: the weight scale that
        keeps the variance of the signal through this activation."""
        return init.calculate_gain(self.nonlinearity, self.negative_slope)


def _prelu_at(slope: float) -> Callable[[Tensor], Tensor]:
    return lambda x: F.prelu(x, Tensor._make(np.array([slope], dtype=x.dtype)))


_LEAKY, _PRELU, _RRELU = 0.01, 0.25, (1.0 / 8 + 1.0 / 3) / 2  # the layers' default slopes

#: name → ``Activation``, in the order the command line lists them.
ACTIVATIONS: dict[str, Activation] = {entry.name: entry for entry in (
    Activation("sigmoid", Sigmoid, F.sigmoid, F.sigmoid, "Sigmoid", "sigmoid"),
    Activation("tanh", Tanh, F.tanh, F.tanh, "Tanh", "tanh"),
    Activation("relu", ReLU, F.relu, F.relu, "ReLU", "relu"),
    Activation("leaky_relu", LeakyReLU, F.leaky_relu, F.leaky_relu, f"LeakyReLU({_LEAKY})",
               "leaky_relu", _LEAKY),
    Activation("prelu", PReLU, F.prelu, _prelu_at(_PRELU), f"PReLU(a={_PRELU})", "leaky_relu",
               _PRELU),
    Activation("rrelu", RReLU, F.rrelu, F.rrelu, "RReLU (eval)", "leaky_relu", _RRELU),
    Activation("elu", ELU, F.elu, F.elu, "ELU", "relu"),
    Activation("gelu", GELU, F.gelu, F.gelu, "GELU", "relu"),
)}


def activation(name: str) -> Module:
    """A new activation layer from its name (a key of ``ACTIVATIONS``).

    Example:
        >>> activation("gelu")
        GELU(approximate='none')
    """
    if name not in ACTIVATIONS:
        raise ValueError(f"unknown activation {name!r}; choose one of {', '.join(ACTIVATIONS)}")
    return ACTIVATIONS[name].module()
