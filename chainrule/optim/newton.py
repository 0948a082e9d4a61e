"""Newton's method (exact Hessian) and Newton-CG (Hessian-free, by Hessian-vector products).

Both take the same closure as ``LBFGS`` (zero the gradients, compute the loss, ``backward()``,
return the loss) and get second derivatives from it without asking for more: the closure is
called inside ``chainrule.autograd.engine.backward_options(create_graph=True)``, which makes its
``backward()`` record the backward pass, so the gradients left in ``.grad`` carry a graph and can
be differentiated again (double backward). After the step ``.grad`` holds plain detached
gradients again and that graph is freed.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from chainrule.autograd.engine import backward_options
from chainrule.autograd.grad_mode import enable_grad, no_grad
from chainrule.optim import _flat
from chainrule.optim._flat import FlatOptimizer
from chainrule.optim.line_search import strong_wolfe
from chainrule.optim.optimizer import ParamsT, check_int, check_number
from chainrule.tensor import Tensor


def _damped_newton_direction(hessian: np.ndarray, flat_grad: np.ndarray,
                             damping: float) -> tuple[np.ndarray, float]:
    """Solve (H + λI)·d = −g, raising λ (×10 from a small value, Levenberg–Marquardt style)
    until H + λI is positive definite, so that d is a descent direction. Returns (d, λ).

    When λ had to be raised, the first value that passes may leave H + λI nearly singular (a
    huge step), so it is raised once more: if Cholesky succeeded at λ but failed at λ/10, the
    smallest eigenvalue of H lies in (−λ, −λ/10], and that of H + 10λ·I is above 9λ.
    """
    size = flat_grad.size
    if not (np.isfinite(hessian).all() and np.isfinite(flat_grad).all()):
        raise FloatingPointError("Newton: the gradient or the Hessian has non-finite entries "
                                 "(inf or nan); lower lr or check the loss")
    start = 1e-8 * max(1.0, float(np.abs(np.diag(hessian)).max(initial=0.0)))
    identity = np.eye(size, dtype=hessian.dtype)
    raised = False
    for _ in range(100):
        try:
            factor = np.linalg.cholesky(hessian + damping * identity)
        except np.linalg.LinAlgError:
            damping, raised = (damping * 10 if damping > 0 else start), True
            continue
        if raised:
            damping *= 10
            factor = np.linalg.cholesky(hessian + damping * identity)
        z = np.linalg.solve(factor, -flat_grad)  # L·z = −g, then Lᵀ·d = z
        return np.linalg.solve(factor.T, z), damping
    raise FloatingPointError(f"Newton: H + λI is not positive definite even for λ = {damping:g}")


def _closure_with_graph(closure: Callable):
    """Call the closure so that the gradients it leaves in .grad can be differentiated again."""
    with enable_grad(), backward_options(create_graph=True):
        return closure()


def _release_graph(params: list[Tensor]) -> None:
    """Replace graph-carrying gradients with plain ones (frees the double-backward graph)."""
    for p in params:
        if p.grad is not None and (p.grad.grad_fn is not None or p.grad.requires_grad):
            p.grad = p.grad.detach()


class _SecondOrder(FlatOptimizer):
    """The step shared by Newton and NewtonCG: closure with graph, direction, step or search."""

    def _validate(self, options: dict) -> None:
        super()._validate(options)
        check_number("damping", options["damping"], low=0.0)
        if options["line_search_fn"] not in (None, "strong_wolfe"):
            raise ValueError(f"Invalid line_search_fn: {options['line_search_fn']!r}; expected "
                             "None or 'strong_wolfe'")

    def _direction(self, grads: list, active: list[Tensor], flat_grad: np.ndarray,
                   group: dict, state: dict) -> np.ndarray:
        raise NotImplementedError

    @no_grad()
    def step(self, closure: Callable | None = None):
        """One step; returns the loss before it.

        Args:
            closure: zeroes the gradients, computes the loss, calls ``backward()`` and returns
                the loss (see the module docstring for how second derivatives come from it).
        """
        closure = self._require_closure(closure)
        group = self.param_groups[0]
        state = self.state[self._params[0]]
        state.setdefault("n_iter", 0)
        state.setdefault("func_evals", 0)
        loss = _closure_with_graph(closure)
        state["func_evals"] += 1
        # only parameters that are trained and that the loss depends on enter the system
        active = [p for p in self._params if p.requires_grad and p.grad is not None]
        try:
            if active:
                grads = [p.grad for p in active]
                flat_grad = _flat.gather_flat_grad(active).astype(np.float64)
                direction = self._direction(grads, active, flat_grad, group, state)
                del grads
                _release_graph(self._params)
                step_size = float(group["lr"])
                if group["line_search_fn"] == "strong_wolfe" and flat_grad.dot(direction) < 0:
                    plain_closure = enable_grad()(closure)

                    def obj_func(x, t, d):
                        return _flat.directional_evaluate(plain_closure, active, x, t, d)

                    _, _, step_size, evaluations = strong_wolfe(
                        obj_func, _flat.clone_params(active), step_size, direction,
                        float(loss), flat_grad, flat_grad.dot(direction))
                    state["func_evals"] += evaluations
                _flat.add_to_params(active, float(step_size), direction)
        finally:
            _release_graph(self._params)
        state["n_iter"] += 1
        return loss


class Newton(_SecondOrder):
    r"""Newton's method with the exact Hessian: θ ← θ + lr·d, (H + λI)·d = −g.

    The Hessian H of the loss with respect to all parameters (flattened) is built row by row by
    double backward, one backward pass per parameter; the system is solved by Cholesky. When
    H + λI is not positive definite (a saddle or a maximum nearby), λ is raised ×10 from a small
    value until it is, and once more for a safety margin (Levenberg–Marquardt), so the step
    never goes uphill. On a convex quadratic
    with lr=1 and damping=0 it reaches the minimum in one step. The cost (n backward passes and
    an n×n matrix per step) limits it to small models: above ``max_params`` use ``NewtonCG``.

    The closure zeroes the gradients, computes the loss, calls ``backward()`` and returns the
    loss, exactly as for ``LBFGS``; see the module docstring for how the Hessian is obtained.

    Args:
        params: the tensors to optimize (a single group).
        lr: step size along the Newton direction (default 1).
        damping: λ ≥ 0 added to the Hessian's diagonal at every step (default 0).
        max_params: refuse more parameters than this (default 2000).
        line_search_fn: None (step lr) or ``"strong_wolfe"`` (search along the direction from
            t = lr; safer far from a minimum, e.g. for a non-convex network).

    State (``state[params[0]]``): n_iter, func_evals, damping (the λ of the last step).

    Example:
        >>> import chainrule as cr
        >>> x = cr.tensor([3.0, -1.0], dtype=cr.float64, requires_grad=True)
        >>> opt = cr.optim.Newton([x])
        >>> def closure():
        ...     opt.zero_grad()
        ...     loss = (x[0] - 1) ** 2 + 10 * (x[1] + 2) ** 2 + x[0] * x[1]
        ...     loss.backward()
        ...     return loss
        >>> _ = opt.step(closure)
        >>> [round(v, 6) for v in x.tolist()]  # the quadratic's minimum, in one step
        [2.051282, -2.102564]
    """

    def __init__(self, params: ParamsT, lr: float = 1.0, damping: float = 0.0,
                 max_params: int = 2000, line_search_fn: str | None = None):
        check_int("max_params", max_params, 1)
        super().__init__(params, dict(lr=lr, damping=damping, line_search_fn=line_search_fn))
        size = self._numel()
        if size > max_params:
            raise ValueError(
                f"Newton builds the full {size}×{size} Hessian for these {size} parameters "
                f"({size} backward passes per step), more than max_params={max_params}; use "
                "NewtonCG (Hessian-free, by Hessian-vector products) or LBFGS instead, or raise "
                "max_params"
            )

    def _direction(self, grads: list, active: list[Tensor], flat_grad: np.ndarray,
                   group: dict, state: dict) -> np.ndarray:
        """The damped Newton direction from the exact Hessian (one HVP per unit vector)."""
        size = flat_grad.size
        hessian = np.empty((size, size), dtype=np.float64)
        unit = np.zeros(size, dtype=np.float64)
        for k in range(size):
            unit[k] = 1.0
            hessian[k] = _flat.hessian_vector_product(grads, active, unit)
            unit[k] = 0.0
        hessian = 0.5 * (hessian + hessian.T)
        direction, state["damping"] = _damped_newton_direction(hessian, flat_grad,
                                                               float(group["damping"]))
        return direction


class NewtonCG(_SecondOrder):
    r"""Hessian-free (truncated) Newton: conjugate gradient on Hessian-vector products.

    Solves (H + λI)·d = −g approximately by conjugate gradient, each iteration costing one
    Hessian-vector product by double backward (never forming H), so it scales to networks far
    too large for ``Newton``. CG stops when ‖r‖ ≤ cg_tol·‖g‖, after ``max_cg_iter`` iterations,
    or on meeting a direction of non-positive curvature pᵀ(H + λI)p ≤ 0 (truncated Newton): it
    then keeps the direction found so far (the steepest-descent direction −g if that happens
    at once), so the step is a descent direction. Then θ ← θ + lr·d.

    The closure is the one ``LBFGS`` takes (zero grads, loss, ``backward()``, return loss); see
    the module docstring for how the Hessian-vector products are obtained from it.

    Args:
        params: the tensors to optimize (a single group).
        lr: step size along the direction (default 1).
        max_cg_iter: most CG iterations (Hessian-vector products) per step (default 50).
        cg_tol: relative residual at which CG stops (default 1e-5).
        damping: λ ≥ 0 added to the Hessian's diagonal (default 0); some damping and a line
            search keep steps on a non-convex network from overshooting.
        line_search_fn: None (step lr) or ``"strong_wolfe"`` (search along the direction from
            t = lr).

    State (``state[params[0]]``): n_iter, func_evals, cg_iters (of the last step).

    Example:
        >>> import chainrule as cr
        >>> x = cr.tensor([3.0, -1.0], dtype=cr.float64, requires_grad=True)
        >>> opt = cr.optim.NewtonCG([x])
        >>> def closure():
        ...     opt.zero_grad()
        ...     loss = (x[0] - 1) ** 2 + 10 * (x[1] + 2) ** 2 + x[0] * x[1]
        ...     loss.backward()
        ...     return loss
        >>> _ = opt.step(closure)
        >>> [round(v, 6) for v in x.tolist()]  # CG is exact on 2 unknowns in 2 iterations
        [2.051282, -2.102564]
    """

    def __init__(self, params: ParamsT, lr: float = 1.0, max_cg_iter: int = 50,
                 cg_tol: float = 1e-5, damping: float = 0.0, line_search_fn: str | None = None):
        super().__init__(params, dict(lr=lr, max_cg_iter=max_cg_iter, cg_tol=cg_tol,
                                      damping=damping, line_search_fn=line_search_fn))

    def _validate(self, options: dict) -> None:
        super()._validate(options)
        check_int("max_cg_iter", options["max_cg_iter"], 1)
        check_number("cg_tol", options["cg_tol"], low=0.0)

    def _direction(self, grads: list, active: list[Tensor], flat_grad: np.ndarray,
                   group: dict, state: dict) -> np.ndarray:
        """The truncated-Newton direction by CG on Hessian-vector products."""
        damping = float(group["damping"])

        def hvp(vector: np.ndarray) -> np.ndarray:
            product = _flat.hessian_vector_product(grads, active, vector)
            return product.astype(np.float64) + damping * vector

        direction, state["cg_iters"] = conjugate_gradient(hvp, flat_grad, group["max_cg_iter"],
                                                          float(group["cg_tol"]))
        return direction


def conjugate_gradient(hvp: Callable[[np.ndarray], np.ndarray], flat_grad: np.ndarray,
                       max_iter: int, tol: float) -> tuple[np.ndarray, int]:
    """Approximately solve H·d = −g by CG, stopping at non-positive curvature.

    Returns (d, number of Hessian-vector products). d is −g when the very first direction has
    non-positive curvature, and 0 when g = 0.
    """
    direction = np.zeros_like(flat_grad)
    residual = -flat_grad
    search = residual.copy()
    rs = residual.dot(residual)
    threshold = tol * np.sqrt(rs)
    if rs == 0:
        return direction, 0
    for iteration in range(1, max_iter + 1):
        product = hvp(search)
        curvature = search.dot(product)
        if curvature <= 0:
            if iteration == 1:
                direction = -flat_grad
            return direction, iteration
        alpha = rs / curvature
        direction += alpha * search
        residual -= alpha * product
        rs_new = residual.dot(residual)
        if np.sqrt(rs_new) <= threshold:
            return direction, iteration
        search *= rs_new / rs
        search += residual
        rs = rs_new
    return direction, max_iter
