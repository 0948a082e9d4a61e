"""Stochastic gradient descent, with momentum (heavy-ball or Nesterov) and weight decay."""

from __future__ import annotations

from typing import Callable

import numpy as np

from chainrule.autograd.grad_mode import no_grad
from chainrule.optim._fused import fused_step
from chainrule.optim.optimizer import Optimizer, ParamsT, check_number


def _sgd_update(param: np.ndarray, grad: np.ndarray, state: dict, lr: float, momentum: float,
                dampening: float, nesterov: bool, weight_decay: float, maximize: bool) -> None:
    """One SGD step on arrays, in place on ``param`` (and the momentum buffer in ``state``)."""
    if maximize:
        grad = -grad
    if weight_decay != 0:
        grad = grad + weight_decay * param
    if momentum != 0:
        buf = state.get("momentum_buffer")
        if buf is None:
            buf = state["momentum_buffer"] = np.array(grad, copy=True)
        else:
            np.multiply(buf, momentum, out=buf)
            buf += (1 - dampening) * grad
        grad = grad + momentum * buf if nesterov else buf
    param -= lr * grad


class SGD(Optimizer):
    r"""Gradient descent: θ ← θ − lr·g, optionally with momentum and weight decay.

    Whether this is stochastic, mini-batch or full-batch gradient descent depends only on the
    gradients it is given: one example per batch (stochastic), a mini-batch from a DataLoader, or
    the whole data set (full batch). The update is PyTorch's, step for step::

        g ← ∇f(θ) (−∇f(θ) when maximize) + weight_decay·θ
        b ← g at the first step, then momentum·b + (1 − dampening)·g
        g ← g + momentum·b (nesterov) or b (momentum ≠ 0)
        θ ← θ − lr·g

    Args:
        params: tensors or parameter groups to optimize.
        lr: learning rate (default 1e-3).
        momentum: momentum factor μ ≥ 0 (default 0).
        dampening: dampening of the gradient added to the momentum buffer (default 0).
        nesterov: Nesterov momentum; needs momentum > 0 and dampening = 0.
        weight_decay: L2 penalty coefficient λ ≥ 0, added to the gradient as λ·θ (default 0).
        maximize: ascend instead of descend.

    Example:
        >>> import chainrule as cr
        >>> w = cr.tensor([1.0, -2.0], requires_grad=True)
        >>> opt = cr.optim.SGD([w], lr=0.1, momentum=0.9)
        >>> (w * w).sum().backward(); opt.step()
        >>> [round(v, 4) for v in w.tolist()]
        [0.8, -1.6]
    """

    def __init__(self, params: ParamsT, lr: float = 1e-3, momentum: float = 0,
                 dampening: float = 0, nesterov: bool = False, weight_decay: float = 0,
                 maximize: bool = False):
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening, nesterov=nesterov,
                        weight_decay=weight_decay, maximize=maximize)
        super().__init__(params, defaults)

    def _validate(self, options: dict) -> None:
        super()._validate(options)
        check_number("momentum", options["momentum"], low=0.0)
        check_number("dampening", options["dampening"], low=0.0, high=1.0)
        check_number("weight_decay", options["weight_decay"], low=0.0)
        if options["nesterov"] and (options["momentum"] <= 0 or options["dampening"] != 0):
            raise ValueError(
                f"Nesterov momentum requires momentum > 0 and dampening = 0, got momentum="
                f"{options['momentum']!r} and dampening={options['dampening']!r}"
            )

    @no_grad()
    def step(self, closure: Callable | None = None):
        """One SGD update of every parameter that has a gradient; returns the closure's loss."""
        loss = self._evaluate(closure)
        for group in self.param_groups:
            options = (float(group["lr"]), float(group["momentum"]), float(group["dampening"]),
                       bool(group["nesterov"]), float(group["weight_decay"]),
                       bool(group["maximize"]))
            # the momentum buffer is the first gradient: the first step goes one by one
            keys = ("momentum_buffer",) if options[1] != 0 else ()
            if fused_step(self, group, keys, _no_init,
                          lambda param, grad, state: _sgd_update(param, grad, state, *options)):
                continue
            for p, grad in self._with_grad(group):
                _sgd_update(p.data, grad, self.state[p], *options)
                p._version += 1
        return loss


def _no_init(p, state: dict, group: dict) -> None:
    pass
