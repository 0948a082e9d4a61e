"""BFGS: quasi-Newton steps with a dense inverse-Hessian approximation."""

from __future__ import annotations

import numpy as np

from chainrule.optim.lbfgs import QuasiNewton
from chainrule.optim.optimizer import ParamsT, check_int


def _bfgs_update(inverse_hessian: np.ndarray, s: np.ndarray, y: np.ndarray) -> None:
    """H ← (I − ρ·s·yᵀ)·H·(I − ρ·y·sᵀ) + ρ·s·sᵀ with ρ = 1/(yᵀs), in place.

    Expanded: H + (ρ²·yᵀHy + ρ)·s·sᵀ − ρ·(Hy·sᵀ + s·(Hy)ᵀ), a symmetric rank-2 update
    s·vᵀ + v·sᵀ with v = ((ρ²·yᵀHy + ρ)/2)·s − ρ·Hy.
    """
    rho = 1.0 / y.dot(s)
    hy = inverse_hessian @ y
    v = (0.5 * (rho * rho * y.dot(hy) + rho)) * s - rho * hy
    outer = np.outer(s, v)
    inverse_hessian += outer
    inverse_hessian += outer.T


class BFGS(QuasiNewton):
    r"""BFGS with a dense n×n inverse-Hessian approximation, in LBFGS's calling convention.

    Each ``step(closure)`` runs up to ``max_iter`` iterations of d = −H·g followed by a
    strong-Wolfe line search (or a fixed step lr with ``line_search_fn=None``), then updates

        H ← (I − ρ·s·yᵀ)·H·(I − ρ·y·sᵀ) + ρ·s·sᵀ,   ρ = 1/(yᵀs),

    skipping pairs with yᵀs ≤ 1e-10 (so H stays positive definite). H starts as the identity
    and is rescaled to (yᵀs / yᵀy)·I before the first update (Nocedal & Wright, eq. 6.20). The
    first step length, the stopping tests and the state counters are those of ``LBFGS``. Unlike
    L-BFGS it keeps all curvature information, so it needs fewer iterations on small problems
    but O(n²) memory: for more than ``max_params`` parameters use ``LBFGS``.

    Args:
        params: the tensors to optimize (a single group).
        lr: learning rate (default 1).
        max_iter: most iterations per ``step`` (default 20).
        max_eval: most closure calls per ``step`` (default max_iter·5/4).
        tolerance_grad: stop when max|g| ≤ this (default 1e-7).
        tolerance_change: stop when the step or the loss change is below this (default 1e-9).
        line_search_fn: ``"strong_wolfe"`` (default) or None.
        max_params: refuse more parameters than this (the n×n matrix; default 5000).

    State (``state[params[0]]``): func_evals, n_iter, d, t, H (after the first update),
    prev_flat_grad, prev_loss.

    Example:
        >>> import chainrule as cr
        >>> x = cr.tensor([-1.5, 2.0], dtype=cr.float64, requires_grad=True)
        >>> opt = cr.optim.BFGS([x], max_iter=100)
        >>> def closure():
        ...     opt.zero_grad()
        ...     loss = (1 - x[0]) ** 2 + 100 * (x[1] - x[0] ** 2) ** 2
        ...     loss.backward()
        ...     return loss
        >>> _ = opt.step(closure)
        >>> [round(v, 4) for v in x.tolist()]
        [1.0, 1.0]
    """

    def __init__(self, params: ParamsT, lr: float = 1, max_iter: int = 20,
                 max_eval: int | None = None, tolerance_grad: float = 1e-7,
                 tolerance_change: float = 1e-9, line_search_fn: str | None = "strong_wolfe",
                 max_params: int = 5000):
        check_int("max_params", max_params, 1)
        if max_eval is None and isinstance(max_iter, int):
            max_eval = max_iter * 5 // 4
        defaults = dict(lr=lr, max_iter=max_iter, max_eval=max_eval,
                        tolerance_grad=tolerance_grad, tolerance_change=tolerance_change,
                        line_search_fn=line_search_fn)
        super().__init__(params, defaults)
        size = self._numel()
        if size > max_params:
            raise ValueError(
                f"BFGS keeps a dense {size}×{size} inverse-Hessian approximation "
                f"({size * size * 8 / 2**20:.0f} MiB in float64) for these {size} parameters, "
                f"more than max_params={max_params}; use LBFGS (limited memory) instead, or "
                "raise max_params"
            )

    def _direction(self, state: dict, flat_grad: np.ndarray, group: dict) -> np.ndarray:
        """Update H with the last step's (s, y) and return −H·g."""
        if state["n_iter"] == 1:
            state.pop("H", None)
            return -flat_grad
        y = flat_grad - state["prev_flat_grad"]
        s = state["d"] * state["t"]
        ys = y.dot(s)
        if ys > 1e-10:
            if "H" not in state:
                state["H"] = np.eye(y.size, dtype=flat_grad.dtype) * (ys / y.dot(y))
            _bfgs_update(state["H"], s, y)
        if "H" not in state:
            return -flat_grad
        return -(state["H"] @ flat_grad)
