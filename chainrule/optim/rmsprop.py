"""RMSprop: divide the gradient by a running root-mean-square of recent gradients."""

from __future__ import annotations

from typing import Callable

import numpy as np

from chainrule.autograd.grad_mode import no_grad
from chainrule.optim._fused import fused_step
from chainrule.optim.optimizer import Optimizer, ParamsT, check_number, lerp_


def _rmsprop_update(param: np.ndarray, grad: np.ndarray, state: dict, lr: float, alpha: float,
                    eps: float, weight_decay: float, momentum: float, centered: bool,
                    maximize: bool) -> None:
    """One RMSprop step on arrays, in place on ``param`` and the buffers in ``state``."""
    state["step"] += 1
    if maximize:
        grad = -grad
    if weight_decay != 0:
        grad = grad + weight_decay * param
    square_avg = state["square_avg"]
    np.multiply(square_avg, alpha, out=square_avg)
    square_avg += (1 - alpha) * (grad * grad)
    if centered:
        grad_avg = state["grad_avg"]
        lerp_(grad_avg, grad, 1 - alpha)
        avg = square_avg - grad_avg * grad_avg
        np.sqrt(avg, out=avg)
    else:
        avg = np.sqrt(square_avg)
    avg += eps
    if momentum > 0:
        buf = state["momentum_buffer"]
        np.multiply(buf, momentum, out=buf)
        buf += grad / avg
        param -= lr * buf
    else:
        np.divide(grad, avg, out=avg)
        avg *= lr
        param -= avg


class RMSprop(Optimizer):
    r"""RMSprop: scale each coordinate by the inverse root of a moving average of g².

    As in PyTorch::

        g ← ∇f(θ) (−∇f(θ) when maximize) + weight_decay·θ
        v ← α·v + (1 − α)·g²
        centered: m ← α·m + (1 − α)·g and ṽ ← v − m²; otherwise ṽ ← v
        momentum > 0: b ← momentum·b + g / (√ṽ + eps);  θ ← θ − lr·b
        otherwise:    θ ← θ − lr·g / (√ṽ + eps)

    Args:
        params: tensors or parameter groups to optimize.
        lr: learning rate (default 0.01).
        alpha: smoothing constant α in [0, 1] (default 0.99).
        eps: added to the denominator for numerical stability (default 1e-8).
        weight_decay: L2 penalty coefficient (default 0).
        momentum: momentum factor (default 0).
        centered: normalize by an estimate of the gradient's variance instead of its second
            moment.
        maximize: ascend instead of descend.

    Example:
        >>> import chainrule as cr
        >>> w = cr.tensor([1.0, -2.0], requires_grad=True)
        >>> opt = cr.optim.RMSprop([w], lr=0.01)
        >>> (w * w).sum().backward(); opt.step()
        >>> [round(v, 4) for v in w.tolist()]  # the first step is lr/sqrt(1 - alpha) = 0.1
        [0.9, -1.9]
    """

    def __init__(self, params: ParamsT, lr: float = 0.01, alpha: float = 0.99, eps: float = 1e-8,
                 weight_decay: float = 0, momentum: float = 0, centered: bool = False,
                 maximize: bool = False):
        defaults = dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay,
                        momentum=momentum, centered=centered, maximize=maximize)
        super().__init__(params, defaults)

    def _validate(self, options: dict) -> None:
        super()._validate(options)
        check_number("alpha", options["alpha"], low=0.0, high=1.0)
        check_number("eps", options["eps"], low=0.0)
        check_number("weight_decay", options["weight_decay"], low=0.0)
        check_number("momentum", options["momentum"], low=0.0)

    @no_grad()
    def step(self, closure: Callable | None = None):
        """One RMSprop update of every parameter that has a gradient; returns the closure's loss."""
        loss = self._evaluate(closure)
        for group in self.param_groups:
            options = (float(group["lr"]), float(group["alpha"]), float(group["eps"]),
                       float(group["weight_decay"]), float(group["momentum"]),
                       bool(group["centered"]), bool(group["maximize"]))
            keys = ("square_avg",) + (("momentum_buffer",) if group["momentum"] > 0 else ()) + (
                ("grad_avg",) if group["centered"] else ())
            if fused_step(self, group, keys, _init_state,
                          lambda param, grad, state: _rmsprop_update(param, grad, state,
                                                                     *options)):
                continue
            for p, grad in self._with_grad(group):
                state = self.state[p]
                _init_state(p, state, group)
                _rmsprop_update(p.data, grad, state, *options)
                p._version += 1
        return loss


def _init_state(p, state: dict, group: dict) -> None:
    if not state:
        state["step"] = 0
        state["square_avg"] = np.zeros_like(p.data)
    # momentum and centered may be switched on later (OneCycleLR cycles momentum)
    if group["momentum"] > 0 and "momentum_buffer" not in state:
        state["momentum_buffer"] = np.zeros_like(p.data)
    if group["centered"] and "grad_avg" not in state:
        state["grad_avg"] = np.zeros_like(p.data)
