"""Adagrad: per-coordinate step sizes that shrink with the sum of squared gradients."""

from __future__ import annotations

from typing import Callable

import numpy as np

from chainrule.autograd.grad_mode import no_grad
from chainrule.optim._fused import fused_step
from chainrule.optim.optimizer import Optimizer, ParamsT, check_number


def _adagrad_update(param: np.ndarray, grad: np.ndarray, state: dict, lr: float, lr_decay: float,
                    weight_decay: float, eps: float, maximize: bool) -> None:
    """One Adagrad step on arrays, in place on ``param`` and ``state["sum"]``."""
    state["step"] += 1
    if maximize:
        grad = -grad
    if weight_decay != 0:
        grad = grad + weight_decay * param
    clr = lr / (1 + (state["step"] - 1) * lr_decay)
    state_sum = state["sum"]
    state_sum += grad * grad
    std = np.sqrt(state_sum)
    std += eps
    np.divide(grad, std, out=std)
    std *= clr
    param -= std


class Adagrad(Optimizer):
    r"""Adagrad: each coordinate's step is divided by the root of its summed squared gradients.

    As in PyTorch, at step t::

        g ← ∇f(θ) (−∇f(θ) when maximize) + weight_decay·θ
        η ← lr / (1 + (t − 1)·lr_decay)
        s ← s + g²                      (s starts at initial_accumulator_value)
        θ ← θ − η·g / (√s + eps)

    Args:
        params: tensors or parameter groups to optimize.
        lr: learning rate (default 0.01).
        lr_decay: learning-rate decay (default 0).
        weight_decay: L2 penalty coefficient (default 0).
        initial_accumulator_value: starting value of the sum of squares s (default 0).
        eps: added to the denominator for numerical stability (default 1e-10).
        maximize: ascend instead of descend.

    Example:
        >>> import chainrule as cr
        >>> w = cr.tensor([1.0, -2.0], requires_grad=True)
        >>> opt = cr.optim.Adagrad([w], lr=0.5)
        >>> (w * w).sum().backward(); opt.step()
        >>> [round(v, 4) for v in w.tolist()]
        [0.5, -1.5]
    """

    def __init__(self, params: ParamsT, lr: float = 0.01, lr_decay: float = 0,
                 weight_decay: float = 0, initial_accumulator_value: float = 0,
                 eps: float = 1e-10, maximize: bool = False):
        defaults = dict(lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
                        initial_accumulator_value=initial_accumulator_value, eps=eps,
                        maximize=maximize)
        super().__init__(params, defaults)

    def _validate(self, options: dict) -> None:
        super()._validate(options)
        check_number("lr_decay", options["lr_decay"], low=0.0)
        check_number("weight_decay", options["weight_decay"], low=0.0)
        check_number("initial_accumulator_value", options["initial_accumulator_value"], low=0.0)
        check_number("eps", options["eps"], low=0.0)

    @no_grad()
    def step(self, closure: Callable | None = None):
        """One Adagrad update of every parameter that has a gradient; returns the closure's loss."""
        loss = self._evaluate(closure)
        for group in self.param_groups:
            options = (float(group["lr"]), float(group["lr_decay"]), float(group["weight_decay"]),
                       float(group["eps"]), bool(group["maximize"]))
            if fused_step(self, group, ("sum",), _init_state,
                          lambda param, grad, state: _adagrad_update(param, grad, state,
                                                                     *options)):
                continue
            for p, grad in self._with_grad(group):
                state = self.state[p]
                _init_state(p, state, group)
                _adagrad_update(p.data, grad, state, *options)
                p._version += 1
        return loss


def _init_state(p, state: dict, group: dict) -> None:
    if not state:
        state["step"] = 0
        state["sum"] = np.full_like(p.data, group["initial_accumulator_value"])
