"""Adam and AdamW: momentum on the gradient, scaled by a running RMS, with bias correction."""

from __future__ import annotations

from typing import Callable

import numpy as np

from chainrule.autograd.grad_mode import no_grad
from chainrule.optim._fused import fused_step
from chainrule.optim.optimizer import Optimizer, ParamsT, check_number, lerp_


def _adam_update(param: np.ndarray, grad: np.ndarray, state: dict, lr: float, beta1: float,
                 beta2: float, eps: float, weight_decay: float, amsgrad: bool, maximize: bool,
                 decoupled_weight_decay: bool) -> None:
    """One Adam (or AdamW) step on arrays, in place on ``param`` and the moments in ``state``."""
    state["step"] += 1
    step = state["step"]
    if maximize:
        grad = -grad
    if weight_decay != 0:
        if decoupled_weight_decay:
            param *= 1 - lr * weight_decay
        else:
            grad = grad + weight_decay * param
    exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
    lerp_(exp_avg, grad, 1 - beta1)
    np.multiply(exp_avg_sq, beta2, out=exp_avg_sq)
    exp_avg_sq += (1 - beta2) * (grad * grad)
    bias_correction1 = 1 - beta1 ** step
    bias_correction2_sqrt = (1 - beta2 ** step) ** 0.5
    if amsgrad:
        max_exp_avg_sq = state["max_exp_avg_sq"]
        np.maximum(max_exp_avg_sq, exp_avg_sq, out=max_exp_avg_sq)
        denom = np.sqrt(max_exp_avg_sq)
    else:
        denom = np.sqrt(exp_avg_sq)
    denom /= bias_correction2_sqrt
    denom += eps
    np.divide(exp_avg, denom, out=denom)
    denom *= lr / bias_correction1
    param -= denom


class Adam(Optimizer):
    r"""Adam: adaptive moment estimation (Kingma & Ba), PyTorch's update step for step.

    At step t::

        g ← ∇f(θ) (−∇f(θ) when maximize) + weight_decay·θ
        m ← β₁·m + (1 − β₁)·g              v ← β₂·v + (1 − β₂)·g²
        amsgrad: v̂ ← max(v̂, v), else v̂ ← v
        θ ← θ − lr/(1 − β₁ᵗ) · m / (√v̂ / √(1 − β₂ᵗ) + eps)

    Args:
        params: tensors or parameter groups to optimize.
        lr: learning rate (default 1e-3).
        betas: (β₁, β₂), each in [0, 1) (default (0.9, 0.999)).
        eps: added to the denominator for numerical stability (default 1e-8).
        weight_decay: L2 penalty added to the gradient (default 0). For decoupled decay use
            ``AdamW``.
        amsgrad: use the maximum of past second moments (AMSGrad).
        maximize: ascend instead of descend.

    Example:
        >>> import chainrule as cr
        >>> w = cr.tensor([1.0, -2.0], requires_grad=True)
        >>> opt = cr.optim.Adam([w], lr=0.1)
        >>> (w * w).sum().backward(); opt.step()
        >>> [round(v, 4) for v in w.tolist()]  # Adam's first step is lr·sign(g)
        [0.9, -1.9]
    """

    _decoupled_weight_decay = False

    def __init__(self, params: ParamsT, lr: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0, amsgrad: bool = False, maximize: bool = False):
        defaults = dict(lr=lr, betas=tuple(betas) if isinstance(betas, list) else betas, eps=eps,
                        weight_decay=weight_decay, amsgrad=amsgrad, maximize=maximize)
        super().__init__(params, defaults)

    def _validate(self, options: dict) -> None:
        super()._validate(options)
        betas = options["betas"]
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise ValueError(f"Invalid betas: {betas!r}; expected a pair (beta1, beta2) of "
                             "numbers in [0, 1)")
        check_number("betas[0]", betas[0], low=0.0, high=1.0, high_open=True)
        check_number("betas[1]", betas[1], low=0.0, high=1.0, high_open=True)
        check_number("eps", options["eps"], low=0.0)
        check_number("weight_decay", options["weight_decay"], low=0.0)

    @no_grad()
    def step(self, closure: Callable | None = None):
        """One update of every parameter that has a gradient; returns the closure's loss."""
        loss = self._evaluate(closure)
        for group in self.param_groups:
            beta1, beta2 = group["betas"]
            options = (float(group["lr"]), float(beta1), float(beta2), float(group["eps"]),
                       float(group["weight_decay"]), bool(group["amsgrad"]),
                       bool(group["maximize"]), self._decoupled_weight_decay)
            keys = _KEYS_AMSGRAD if group["amsgrad"] else _KEYS
            if fused_step(self, group, keys, _init_state,
                          lambda param, grad, state: _adam_update(param, grad, state, *options)):
                continue
            for p, grad in self._with_grad(group):
                state = self.state[p]
                _init_state(p, state, group)
                _adam_update(p.data, grad, state, *options)
                p._version += 1
        return loss


_KEYS, _KEYS_AMSGRAD = ("exp_avg", "exp_avg_sq"), ("exp_avg", "exp_avg_sq", "max_exp_avg_sq")


def _init_state(p, state: dict, group: dict) -> None:
    if not state:
        state["step"] = 0
        state["exp_avg"] = np.zeros_like(p.data)
        state["exp_avg_sq"] = np.zeros_like(p.data)
    if group["amsgrad"] and "max_exp_avg_sq" not in state:
        state["max_exp_avg_sq"] = np.zeros_like(p.data)


class AdamW(Adam):
    r"""Adam with decoupled weight decay (Loshchilov & Hutter), PyTorch's update.

    The decay shrinks the weights directly instead of entering the gradient (and so the
    moments): θ ← θ·(1 − lr·weight_decay), then the Adam step without the L2 term.

    Args:
        params: tensors or parameter groups to optimize.
        lr: learning rate (default 1e-3).
        betas: (β₁, β₂), each in [0, 1) (default (0.9, 0.999)).
        eps: added to the denominator for numerical stability (default 1e-8).
        weight_decay: decoupled weight-decay coefficient (default 1e-2).
        amsgrad: use the maximum of past second moments (AMSGrad).
        maximize: ascend instead of descend.

    Example:
        >>> import chainrule as cr
        >>> w = cr.tensor([1.0, -2.0], requires_grad=True)
        >>> opt = cr.optim.AdamW([w], lr=0.1, weight_decay=0.5)
        >>> (w * w).sum().backward(); opt.step()
        >>> [round(v, 4) for v in w.tolist()]  # shrunk by 1 − 0.1·0.5, then moved by lr·sign(g)
        [0.85, -1.8]
    """

    _decoupled_weight_decay = True

    def __init__(self, params: ParamsT, lr: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 1e-2, amsgrad: bool = False, maximize: bool = False):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                         amsgrad=amsgrad, maximize=maximize)
