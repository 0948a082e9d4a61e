"""The optimizers that can be chosen by name, in one table: ``OPTIMIZERS``.

The command line (``--optimizer``), its training recipe and the lab read their names, classes,
default learning rates and whether ``step`` takes a closure from here.

Example:
    >>> import chainrule as cr
    >>> from chainrule.optim.registry import OPTIMIZERS, build
    >>> OPTIMIZERS["nesterov"].options
    {'momentum': 0.9, 'nesterov': True}
    >>> type(build("adam", [cr.zeros(3, requires_grad=True)])).__name__
    'Adam'
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from chainrule.optim._flat import FlatOptimizer
from chainrule.optim.adagrad import Adagrad
from chainrule.optim.adam import Adam, AdamW
from chainrule.optim.bfgs import BFGS
from chainrule.optim.gauss_newton import GaussNewton
from chainrule.optim.lbfgs import LBFGS
from chainrule.optim.newton import Newton, NewtonCG
from chainrule.optim.optimizer import Optimizer, ParamsT
from chainrule.optim.rmsprop import RMSprop
from chainrule.optim.sgd import SGD

__all__ = ["OptimizerEntry", "OPTIMIZERS", "build"]


@dataclass(frozen=True)
class OptimizerEntry:
    """One optimizer by name.

    Attributes:
        name: what the command line and the lab call it (``'momentum'``).
        cls: its class (``optim.SGD``).
        lr: the default learning rate of ``chainrule train`` for it.
        label: its name in tables and figures (``'Momentum'``).
        options: the keyword arguments the name stands for (``momentum=0.9``).
    """

    name: str
    cls: type[Optimizer]
    lr: float
    label: str
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def closure(self) -> bool:
        """Whether ``step`` takes a closure that re-evaluates the loss (the second-order
        methods, which run on the flat parameter vector)."""
        return bool(getattr(self.cls, "requires_closure", issubclass(self.cls, FlatOptimizer)))

    def build(self, params: ParamsT, lr: float | None = None, **overrides: Any) -> Optimizer:
        """``cls(params, lr=lr, **options, **overrides)``; ``lr=None`` keeps the class's own
        default."""
        kwargs = {**self.options, **overrides}
        if lr is not None:
            kwargs["lr"] = lr
        return self.cls(params, **kwargs)


#: name → ``OptimizerEntry``, in the order the command line lists them.
OPTIMIZERS: dict[str, OptimizerEntry] = {entry.name: entry for entry in (
    OptimizerEntry("sgd", SGD, 0.1, "SGD"),
    OptimizerEntry("momentum", SGD, 0.05, "Momentum", {"momentum": 0.9}),
    OptimizerEntry("nesterov", SGD, 0.05, "Nesterov", {"momentum": 0.9, "nesterov": True}),
    OptimizerEntry("adagrad", Adagrad, 0.05, "AdaGrad"),
    OptimizerEntry("rmsprop", RMSprop, 1e-3, "RMSProp"),
    OptimizerEntry("adam", Adam, 3e-3, "Adam"),
    OptimizerEntry("adamw", AdamW, 3e-3, "AdamW"),
    OptimizerEntry("lbfgs", LBFGS, 1.0, "L-BFGS", {"line_search_fn": "strong_wolfe"}),
    OptimizerEntry("bfgs", BFGS, 1.0, "BFGS"),
    # the second-order methods descend on networks with the Levenberg–Marquardt trust region
    OptimizerEntry("newton", Newton, 1.0, "Newton",
                   {"adaptive_damping": True, "damping": 1e-3, "max_params": 5000}),
    OptimizerEntry("newton-cg", NewtonCG, 1.0, "Newton-CG",
                   {"adaptive_damping": True, "damping": 1e-3, "max_cg_iter": 100}),
    OptimizerEntry("gauss-newton", GaussNewton, 1.0, "Gauss-Newton"),
)}


def build(name: str, params: ParamsT, lr: float | None = None, **overrides: Any) -> Optimizer:
    """The optimizer ``name`` (a key of ``OPTIMIZERS``) over ``params``.

    Example:
        >>> import chainrule as cr
        >>> build("momentum", [cr.zeros(2, requires_grad=True)], lr=0.1).defaults["momentum"]
        0.9
    """
    if name not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {name!r}; choose one of {', '.join(OPTIMIZERS)}")
    return OPTIMIZERS[name].build(params, lr, **overrides)
