"""Newton's method (exact Hessian) and Newton-CG (Hessian-free, by Hessian-vector products).

Each takes a fixed damping (θ ← θ + lr·d with (H + λI)·d = −g, λ raised until H + λI is
positive definite), an optional line search, or ``adaptive_damping=True``: the
Levenberg–Marquardt trust region of ``chainrule.optim.trust_region``, which accepts a step only
when the loss goes down and adapts λ from how well the quadratic model predicted it — the rule
that lets Newton train a network. ``Newton(saddle_free=True)`` steps along |H| instead of H.

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

from chainrule.autograd.batched import hessian_matrix
from chainrule.autograd.engine import backward_options
from chainrule.autograd.grad_mode import enable_grad, no_grad
from chainrule.optim import _flat, trust_region
from chainrule.optim._flat import FlatOptimizer
from chainrule.optim.line_search import strong_wolfe
from chainrule.optim.optimizer import ParamsT, check_int
from chainrule.optim.trust_region import CGModel, DenseModel, conjugate_gradient, damped_direction
from chainrule.tensor import Tensor

__all__ = ["Newton", "NewtonCG", "conjugate_gradient"]


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
        trust_region.check_options(options)
        if options["line_search_fn"] not in (None, "strong_wolfe"):
            raise ValueError(f"Invalid line_search_fn: {options['line_search_fn']!r}; expected "
                             "None or 'strong_wolfe'")
        if options["adaptive_damping"] and options["line_search_fn"] is not None:
            raise ValueError("adaptive_damping=True already chooses the step (a trust region); "
                             "use it without line_search_fn, or line_search_fn without it")

    def _direction(self, grads: list, active: list[Tensor], flat_grad: np.ndarray,
                   group: dict, state: dict) -> np.ndarray:
        """The step direction for a fixed damping."""
        raise NotImplementedError

    def _model(self, grads: list, active: list[Tensor], flat_grad: np.ndarray,
               group: dict, state: dict):
        """The quadratic model (``trust_region.DenseModel`` or ``CGModel``) for adaptive
        damping."""
        raise NotImplementedError

    def _damped_step(self, closure: Callable, loss, grads: list, active: list[Tensor],
                     flat_grad: np.ndarray, group: dict, state: dict) -> None:
        """One Levenberg–Marquardt step (``trust_region.step_parameters``); no step when every
        trial raised the loss."""
        state.setdefault("damping", float(group["damping"]))
        model = self._model(grads, active, flat_grad, group, state)
        trust_region.step_parameters(model, loss, enable_grad()(closure), active, state,
                                     float(group["lr"]), group["max_tries"])
        if isinstance(model, CGModel):
            state["cg_iters"] = model.products

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
                if group["adaptive_damping"]:
                    self._damped_step(closure, loss, grads, active, flat_grad, group, state)
                else:
                    self._fixed_step(closure, loss, grads, active, flat_grad, group, state)
        finally:
            _release_graph(self._params)
        state["n_iter"] += 1
        return loss

    def _fixed_step(self, closure: Callable, loss, grads: list, active: list[Tensor],
                    flat_grad: np.ndarray, group: dict, state: dict) -> None:
        """θ ← θ + lr·d for the fixed-damping direction, or a line search along it."""
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


class Newton(_SecondOrder):
    r"""Newton's method with the exact Hessian: θ ← θ + lr·d, (H + λI)·d = −g.

    The Hessian H of the loss with respect to all parameters (flattened) is built by double
    backward, many rows per pass (``chainrule.autograd.batched.hessian_matrix``). Three ways to
    choose λ:

    - fixed (default): λ = ``damping``; when H + λI is not positive definite (a saddle or a
      maximum nearby) λ is raised ×10 from a small value until it is, and once more for a margin,
      so the direction always descends. On a convex quadratic with lr=1 and damping=0 it reaches
      the minimum in one step. ``line_search_fn="strong_wolfe"`` searches along it.
    - ``adaptive_damping=True``: Levenberg–Marquardt as a trust region
      (``chainrule.optim.trust_region``), starting from λ = ``damping``: a step is kept only if
      the loss went down, and λ shrinks or grows with how well the quadratic model predicted
      the change. This is what trains a network: far from a minimum it takes short, safe
      steps; near one λ → 0 and the convergence is quadratic.
    - ``saddle_free=True`` (with adaptive damping): the step uses |H| = Q|Λ|Qᵀ (Dauphin et al.,
      2014), so negative curvature is followed downhill; it needs an eigendecomposition per
      step (small models).

    The cost (an n×n matrix per step) limits Newton to small models: above ``max_params`` use
    ``NewtonCG`` or ``GaussNewton(solver="cg")``. The closure zeroes the gradients, computes the
    loss, calls ``backward()`` and returns the loss, exactly as for ``LBFGS``; see the module
    docstring for how the Hessian is obtained.

    Args:
        params: the tensors to optimize (a single group).
        lr: step size along the Newton direction (default 1).
        damping: λ ≥ 0: fixed, or the first λ of the adaptive rule (default 0).
        max_params: refuse more parameters than this (default 2000).
        line_search_fn: None (step lr) or ``"strong_wolfe"`` (search along the direction from
            t = lr), with fixed damping.
        adaptive_damping: the Levenberg–Marquardt trust region (default False).
        saddle_free: use |H| instead of H (needs ``adaptive_damping=True``; default False).
        max_tries: with adaptive damping, trial steps per step before giving up (default 10).
        chunk_size: Hessian rows computed together per batched pass (None: chosen from the
            size of the graph's arrays).

    State (``state[params[0]]``): n_iter, func_evals, damping (the λ of the last step); with
    adaptive damping also rho (actual over predicted reduction of the last trial), trials,
    rejected, nu.

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
                 max_params: int = 2000, line_search_fn: str | None = None,
                 adaptive_damping: bool = False, saddle_free: bool = False,
                 max_tries: int = 10, chunk_size: int | None = None):
        check_int("max_params", max_params, 1)
        if chunk_size is not None:
            check_int("chunk_size", chunk_size, 1)
        if not isinstance(saddle_free, bool):
            raise TypeError(f"saddle_free must be True or False, got {saddle_free!r}")
        if saddle_free and not adaptive_damping:
            raise ValueError("saddle_free=True needs adaptive_damping=True: the step along |H| "
                             "is only safe inside the trust region")
        super().__init__(params, dict(lr=lr, damping=damping, line_search_fn=line_search_fn,
                                      adaptive_damping=adaptive_damping, saddle_free=saddle_free,
                                      max_tries=max_tries))
        self.chunk_size, self.max_params = chunk_size, max_params
        size = self._numel()
        if size > max_params:
            raise ValueError(
                f"Newton builds the full {size}×{size} Hessian for these {size} parameters, "
                f"more than max_params={max_params}; use NewtonCG (Hessian-free, by "
                "Hessian-vector products), GaussNewton(solver='cg') or LBFGS instead, or raise "
                "max_params"
            )

    def hessian(self, grads: list, active: list[Tensor]) -> np.ndarray:
        """The Hessian of the loss whose graph-carrying gradients are ``grads``, over the flat
        vector of ``active`` (float64, symmetric)."""
        return hessian_matrix(grads, active, chunk_size=self.chunk_size)

    def _direction(self, grads: list, active: list[Tensor], flat_grad: np.ndarray,
                   group: dict, state: dict) -> np.ndarray:
        """The damped Newton direction from the exact Hessian."""
        direction, state["damping"] = damped_direction(
            self.hessian(grads, active), flat_grad, float(group["damping"]))
        return direction

    def _model(self, grads: list, active: list[Tensor], flat_grad: np.ndarray,
               group: dict, state: dict) -> DenseModel:
        return DenseModel(self.hessian(grads, active), flat_grad, absolute=group["saddle_free"])


class NewtonCG(_SecondOrder):
    r"""Hessian-free (truncated) Newton: conjugate gradient on Hessian-vector products.

    Solves (H + λI)·d = −g approximately by conjugate gradient, each iteration costing one
    Hessian-vector product by double backward (never forming H), so it scales to networks far
    too large for ``Newton``. CG stops when ‖r‖ ≤ cg_tol·‖g‖, after ``max_cg_iter`` iterations,
    or on meeting a direction of non-positive curvature pᵀ(H + λI)p ≤ 0 (truncated Newton): it
    then keeps the direction found so far (the steepest-descent direction −g if that happens
    at once), so the step is a descent direction. Then θ ← θ + lr·d, a line search along d, or
    with ``adaptive_damping=True`` the Levenberg–Marquardt trust region (see ``Newton``).

    The closure is the one ``LBFGS`` takes (zero grads, loss, ``backward()``, return loss); see
    the module docstring for how the Hessian-vector products are obtained from it.

    Args:
        params: the tensors to optimize (a single group).
        lr: step size along the direction (default 1).
        max_cg_iter: most CG iterations (Hessian-vector products) per solve (default 50).
        cg_tol: relative residual at which CG stops (default 1e-5).
        damping: λ ≥ 0 added to the Hessian's diagonal, fixed or the first adaptive λ
            (default 0).
        line_search_fn: None (step lr) or ``"strong_wolfe"`` (search along the direction from
            t = lr), with fixed damping.
        adaptive_damping: the Levenberg–Marquardt trust region (default False).
        max_tries: with adaptive damping, trial steps per step (default 10).

    State (``state[params[0]]``): n_iter, func_evals, cg_iters (Hessian-vector products of the
    last step); with adaptive damping also damping, rho, trials, rejected, nu.

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
                 cg_tol: float = 1e-5, damping: float = 0.0, line_search_fn: str | None = None,
                 adaptive_damping: bool = False, max_tries: int = 10):
        super().__init__(params, dict(lr=lr, max_cg_iter=max_cg_iter, cg_tol=cg_tol,
                                      damping=damping, line_search_fn=line_search_fn,
                                      adaptive_damping=adaptive_damping, max_tries=max_tries))

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

    def _model(self, grads: list, active: list[Tensor], flat_grad: np.ndarray,
               group: dict, state: dict) -> CGModel:
        def hvp(vector: np.ndarray) -> np.ndarray:
            return _flat.hessian_vector_product(grads, active, vector).astype(np.float64)

        return CGModel(hvp, flat_grad, group["max_cg_iter"], float(group["cg_tol"]))
