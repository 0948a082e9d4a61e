"""The generalized Gauss–Newton method: ``GaussNewton``.

For a loss L(f(θ)) of a network's output f, the Hessian is JᵀH_L J + Σ (∂L/∂f)·∇²f, with J the
Jacobian of the output and H_L the Hessian of the loss in the output. Gauss–Newton keeps the
first term, G = JᵀH_L J (Schraudolph, 2002): it is positive semi-definite whenever the loss is
convex in the output (cross-entropy on logits, MSE), so (G + λI)·d = −g always gives a descent
direction, with no saddle to step towards.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from chainrule import threads
from chainrule.autograd.batched import chunked_grad
from chainrule.autograd.engine import backward_options, grad
from chainrule.autograd.grad_mode import enable_grad, no_grad
from chainrule.optim import _flat, trust_region
from chainrule.optim._flat import FlatOptimizer
from chainrule.optim.optimizer import ParamsT, check_int
from chainrule.optim.trust_region import CGModel, DenseModel, damped_direction
from chainrule.tensor import Tensor

__all__ = ["GaussNewton", "gauss_newton_matrix"]

SOLVERS = ("auto", "direct", "cg")


def gauss_newton_matrix(loss: Tensor, output: Tensor, params: list[Tensor],
                        chunk_size: int | None = None) -> np.ndarray:
    """G = JᵀH_L J over the flat vector of ``params`` (float64, symmetric).

    J (one row per output element) comes from one batched backward pass from ``output`` over
    the unit vectors; H_L·J from one batched double-backward pass through the loss alone
    (``chainrule.autograd.batched``). The graph from ``params`` to ``loss`` must be retained.
    """
    count, sizes = output.data.size, [p.data.size for p in params]
    unit = np.eye(count, dtype=output.data.dtype).reshape((count,) + output.shape)
    parts = chunked_grad([output], params, [unit], chunk_size=chunk_size, allow_unused=True)
    jacobian = np.concatenate(
        [np.zeros((count, size)) if part is None else part.reshape(count, size)
         for part, size in zip(parts, sizes)], axis=1).astype(np.float64)
    (loss_grad,) = grad(loss, output, create_graph=True, retain_graph=True)
    if not loss_grad.requires_grad:  # the loss is linear in the output: H_L = 0
        return np.zeros((sum(sizes), sum(sizes)))
    columns = np.ascontiguousarray(jacobian.T, dtype=output.data.dtype).reshape(
        (len(jacobian.T),) + output.shape)
    (curved,) = chunked_grad([loss_grad], [output], [columns], chunk_size=chunk_size,
                             allow_unused=True)
    if curved is None:
        return np.zeros((sum(sizes), sum(sizes)))
    matrix = threads.matmul(curved.reshape(len(columns), count).astype(np.float64), jacobian)
    matrix += matrix.T
    matrix *= 0.5
    return matrix


def gauss_newton_product(loss: Tensor, output: Tensor,
                         params: list[Tensor]) -> Callable[[np.ndarray], np.ndarray]:
    """v ↦ G·v = Jᵀ(H_L(J·v)) without forming G (Hessian-free, Martens 2010): J·v by the
    double-vjp trick (the vjp u ↦ Jᵀu is linear, so the gradient of ⟨Jᵀu, v⟩ in u is J·v),
    H_L·w by double backward through the loss, Jᵀz by one backward."""
    dummy = Tensor._make(np.zeros(output.shape, dtype=output.data.dtype)).requires_grad_(True)
    with enable_grad():
        transposed = grad(output, params, dummy, create_graph=True, retain_graph=True,
                          allow_unused=True)
        (loss_grad,) = grad(loss, output, create_graph=True, retain_graph=True)
    linked = [k for k, t in enumerate(transposed) if t is not None and t.requires_grad]
    if not linked or not loss_grad.requires_grad:  # G = 0: the output or the loss is linear
        return np.zeros_like

    def product(vector: np.ndarray) -> np.ndarray:
        pieces = _flat.split(vector, params)
        (jv,) = grad([transposed[k] for k in linked], dummy, [pieces[k] for k in linked],
                     retain_graph=True, allow_unused=True)
        if jv is None:
            return np.zeros_like(vector)
        (hjv,) = grad(loss_grad, output, jv, retain_graph=True, allow_unused=True)
        if hjv is None:
            return np.zeros_like(vector)
        return _flat.join(grad(output, params, hjv, retain_graph=True, allow_unused=True),
                          params, np.float64)

    return product


class GaussNewton(FlatOptimizer):
    r"""Generalized Gauss–Newton with Levenberg–Marquardt damping: (G + λI)·d = −g, θ ← θ + lr·d.

    G = JᵀH_L J is the Hessian without its second-derivatives-of-the-network term (see the
    module docstring): positive semi-definite for a convex loss, so every direction descends.

    - ``solver="direct"`` builds G (one batched pass for J, one for H_L·J) and solves by
      Cholesky: for small models (≤ ``max_params``).
    - ``solver="cg"`` never forms G: conjugate gradient on products G·v, three backward passes
      each (Hessian-free optimization, Martens 2010), for larger models.
    - ``solver="auto"`` (default): direct up to ``max_params`` parameters, CG above.

    λ adapts by the trust-region rule of ``chainrule.optim.trust_region`` (the default,
    ``adaptive_damping=True``: a step is kept only if the loss went down), or stays ``damping``.

    The closure zeroes the gradients, computes the output and the loss, calls
    ``loss.backward()`` and returns ``(loss, output)``: Gauss–Newton needs the output (the point
    where the network ends and the loss begins). ``chainrule.train.fit`` builds it so
    (``closure_returns_output``).

    Args:
        params: the tensors to optimize (a single group).
        lr: step size along the direction (default 1).
        damping: λ ≥ 0, the first λ of the adaptive rule or the fixed one (default 1e-3).
        adaptive_damping: the Levenberg–Marquardt trust region (default True).
        solver: ``"auto"``, ``"direct"`` or ``"cg"`` (default ``"auto"``).
        max_params: the most parameters ``"direct"`` takes (default 2000); ``"auto"`` switches
            to CG above it.
        max_cg_iter: with ``"cg"``, most products G·v per solve (default 50).
        cg_tol: with ``"cg"``, the relative residual at which CG stops (default 1e-5).
        max_tries: with adaptive damping, trial steps per step (default 10).
        chunk_size: vectors per batched pass when building G (None: chosen from the graph).

    State (``state[params[0]]``): n_iter, func_evals, damping, and with adaptive damping rho,
    trials, rejected, nu; cg_iters with ``"cg"``.

    Example:
        >>> import chainrule as cr
        >>> w = cr.tensor([0.0, 0.0], dtype=cr.float64, requires_grad=True)
        >>> x = cr.tensor([[1.0, 2.0], [3.0, 4.0], [5.0, 7.0]], dtype=cr.float64)
        >>> y = cr.tensor([1.0, 2.0, 4.0], dtype=cr.float64)
        >>> opt = cr.optim.GaussNewton([w], damping=0.0)
        >>> def closure():
        ...     opt.zero_grad()
        ...     output = x @ w
        ...     loss = ((output - y) ** 2).mean()
        ...     loss.backward()
        ...     return loss, output
        >>> _ = opt.step(closure)
        >>> [round(v, 6) for v in w.tolist()]  # linear least squares: solved in one step
        [0.071429, 0.5]
    """

    #: ``step``'s closure returns ``(loss, output)``, not only the loss
    closure_returns_output = True

    def __init__(self, params: ParamsT, lr: float = 1.0, damping: float = 1e-3,
                 adaptive_damping: bool = True, solver: str = "auto", max_params: int = 2000,
                 max_cg_iter: int = 50, cg_tol: float = 1e-5, max_tries: int = 10,
                 chunk_size: int | None = None):
        check_int("max_params", max_params, 1)
        if chunk_size is not None:
            check_int("chunk_size", chunk_size, 1)
        super().__init__(params, dict(lr=lr, damping=damping, adaptive_damping=adaptive_damping,
                                      solver=solver, max_cg_iter=max_cg_iter, cg_tol=cg_tol,
                                      max_tries=max_tries))
        self.chunk_size = chunk_size
        size = self._numel()
        if solver == "auto":
            self.param_groups[0]["solver"] = "direct" if size <= max_params else "cg"
        elif solver == "direct" and size > max_params:
            raise ValueError(
                f"GaussNewton(solver='direct') builds the {size}×{size} Gauss–Newton matrix for "
                f"these {size} parameters, more than max_params={max_params}; use "
                "solver='cg' (matrix-free), or raise max_params")

    def _validate(self, options: dict) -> None:
        super()._validate(options)
        trust_region.check_options(options)
        if options["solver"] not in SOLVERS:
            raise ValueError(f"Invalid solver: {options['solver']!r}; expected one of "
                             f"{', '.join(map(repr, SOLVERS))}")

    def _call(self, closure: Callable) -> tuple[Tensor, Tensor]:
        with enable_grad(), backward_options(create_graph=False, retain_graph=True):
            result = closure()
        if not (isinstance(result, tuple) and len(result) == 2
                and all(isinstance(t, Tensor) for t in result)):
            raise TypeError(
                "GaussNewton.step needs a closure that returns (loss, output): def closure(): "
                "optimizer.zero_grad(); output = model(x); loss = loss_fn(output, y); "
                f"loss.backward(); return loss, output — got {type(result).__name__}")
        loss, output = result
        if loss.data.size != 1:
            raise ValueError(f"GaussNewton: the loss must be a scalar, got shape {loss.shape}")
        return loss, output

    @no_grad()
    def step(self, closure: Callable | None = None):
        """One step; returns the loss before it.

        Args:
            closure: zeroes the gradients, computes the output and the loss, calls
                ``loss.backward()`` and returns ``(loss, output)``.
        """
        closure = self._require_closure(closure)
        group = self.param_groups[0]
        state = self.state[self._params[0]]
        for key in ("n_iter", "func_evals"):
            state.setdefault(key, 0)
        state.setdefault("damping", float(group["damping"]))
        loss, output = self._call(closure)
        state["func_evals"] += 1
        active = [p for p in self._params if p.requires_grad and p.grad is not None]
        if active:
            flat_grad = _flat.gather_flat_grad(active).astype(np.float64)
            if group["solver"] == "direct":
                model = DenseModel(gauss_newton_matrix(loss, output, active, self.chunk_size),
                                   flat_grad, psd=True)
            else:
                model = CGModel(gauss_newton_product(loss, output, active), flat_grad,
                                group["max_cg_iter"], float(group["cg_tol"]))
            if group["adaptive_damping"]:
                trust_region.step_parameters(model, loss, lambda: enable_grad()(closure)()[0],
                                             active, state, float(group["lr"]),
                                             group["max_tries"])
            else:
                self._fixed_step(model, active, group, state)
            if isinstance(model, CGModel):
                state["cg_iters"] = model.products
        state["n_iter"] += 1
        return loss

    def _fixed_step(self, model, active, group, state) -> None:
        damping = float(group["damping"])
        if isinstance(model, DenseModel):
            direction, state["damping"] = damped_direction(model.matrix, model.flat_grad,
                                                           damping)
        else:
            direction = model.solve(damping)
        _flat.add_to_params(active, float(group["lr"]), direction)
