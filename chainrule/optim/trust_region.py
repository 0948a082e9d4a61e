"""Levenberg–Marquardt damping as a trust region: the step rule of ``Newton``, ``NewtonCG`` and
``GaussNewton`` with ``adaptive_damping=True``.

Around the parameters θ the loss is modelled by m(d) = f + gᵀd + ½ dᵀMd, with M the Hessian
(Newton), |H| (saddle-free Newton) or the Gauss–Newton matrix. A step solves (M + λI)·d = −g
and is tried: ρ = (f(θ) − f(θ + d)) / (m(0) − m(d)) compares the actual reduction with the
predicted one. A step is accepted only when the loss went down (ρ > 0); then λ shrinks by
max(1/10, 1 − (2ρ − 1)³) — far when the model predicted well (ρ ≈ 1), little when it did not.
A rejected step is undone, λ grows by ν and ν doubles (Nielsen's rule; Madsen, Nielsen &
Tingleff, *Methods for non-linear least squares problems*, 2004, who bound the shrink by ⅓:
1/10 lets λ fall fast enough near a minimum for Newton's quadratic convergence to show), so
λ → ∞ turns the step into a short gradient step, and λ → 0 into Newton's step.

A model is an object with ``solve(λ)`` (the step, or None when M + λI is not positive
definite), ``curvature(d)`` (dᵀMd) and ``scale`` (the size of M's diagonal, for the first λ
when λ was 0): ``DenseModel`` (M as a matrix; Cholesky per λ, or an eigendecomposition for
|H|) and ``CGModel`` (M only as products M·v; conjugate gradient per λ).
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from chainrule import threads
from chainrule.optim import _flat
from chainrule.optim.optimizer import check_int, check_number

__all__ = ["DenseModel", "CGModel", "damped_step", "damped_direction", "conjugate_gradient",
           "cholesky_solve", "step_parameters", "check_options"]

#: λ below this fraction of the model's scale is treated as 0 (the pure Newton step)
_TINY = 1e-12
#: λ never grows past this multiple of the model's scale (nor ν past 2³⁰): a step that small
#: changes nothing anyway, and the product must stay finite
_HUGE = 1e16
#: the most λ shrinks after one step
_SHRINK = 0.1


class DenseModel:
    """The quadratic model with M given as a symmetric matrix.

    With ``absolute=True`` M is replaced by |M| = Q|Λ|Qᵀ from its eigendecomposition (the
    saddle-free Newton step of Dauphin et al., 2014: negative curvature is followed downhill
    instead of uphill); the decomposition is computed once and each λ costs one product.
    Otherwise each λ costs one solve, and one Cholesky factorization of M + λI to check that it
    is positive definite — skipped for λ > 0 when M is known to be positive semi-definite
    (``psd=True``, the Gauss–Newton matrix of a convex loss).
    """

    def __init__(self, matrix: np.ndarray, flat_grad: np.ndarray, absolute: bool = False,
                 psd: bool = False):
        if not (np.isfinite(matrix).all() and np.isfinite(flat_grad).all()):
            raise FloatingPointError("the gradient or the curvature matrix has non-finite "
                                     "entries (inf or nan); lower lr or check the loss")
        self.matrix, self.flat_grad, self.absolute, self.psd = matrix, flat_grad, absolute, psd
        self.scale = float(np.abs(np.diag(matrix)).max(initial=0.0)) or 1.0
        if absolute:
            with threads.wide(_threads(matrix)):
                values, self.vectors = np.linalg.eigh(matrix)
            self.values = np.abs(values)
            self.projected = self.vectors.T @ flat_grad
            self.scale = float(self.values.max(initial=0.0)) or 1.0

    def solve(self, damping: float) -> np.ndarray | None:
        """d with (M + λI)·d = −g, or None when M + λI is not positive definite."""
        if self.absolute:
            shifted = self.values + damping
            if (shifted <= _TINY * self.scale).any():
                return None
            return -(self.vectors @ (self.projected / shifted))
        system = self.matrix + damping * np.eye(len(self.matrix))
        try:
            with threads.wide(_threads(system)):
                if self.psd and damping > _TINY * self.scale:
                    return -np.linalg.solve(system, self.flat_grad)
                factor = np.linalg.cholesky(system)  # fails unless positive definite
        except np.linalg.LinAlgError:
            return None
        return -cholesky_solve(factor, self.flat_grad)

    def curvature(self, direction: np.ndarray) -> float:
        """dᵀMd."""
        if self.absolute:
            return float(self.values @ (self.vectors.T @ direction) ** 2)
        return float(direction @ (self.matrix @ direction))


class CGModel:
    """The quadratic model with M known only through products ``mvp(v)`` = M·v (Hessian-free:
    Martens, 2010). ``solve(λ)`` runs conjugate gradient on (M + λI)·d = −g, stopping at
    ``max_iter`` products, at relative residual ``tol`` or at non-positive curvature.
    """

    def __init__(self, mvp: Callable[[np.ndarray], np.ndarray], flat_grad: np.ndarray,
                 max_iter: int, tol: float):
        self.mvp, self.flat_grad, self.max_iter, self.tol = mvp, flat_grad, max_iter, tol
        self.products = 0
        norm = float(flat_grad @ flat_grad)
        # the Rayleigh quotient along g: a size of M for the first λ
        self.scale = abs(self.curvature(flat_grad)) / norm if norm > 0 else 1.0
        self.scale = self.scale or 1.0

    def solve(self, damping: float) -> np.ndarray:
        """The CG approximation of d with (M + λI)·d = −g (always a descent direction)."""
        def damped(vector):
            return self.mvp(vector) + damping * vector

        direction, products = conjugate_gradient(damped, self.flat_grad, self.max_iter,
                                                 self.tol)
        self.products += products
        return direction

    def curvature(self, direction: np.ndarray) -> float:
        """dᵀMd, by one product."""
        self.products += 1
        return float(direction @ self.mvp(direction))


def _threads(matrix: np.ndarray) -> int:
    """BLAS threads for a factorization of ``matrix`` (about n³ multiply-adds)."""
    return threads.threads_for(len(matrix) ** 3)


def cholesky_solve(factor: np.ndarray, rhs: np.ndarray, block: int = 128) -> np.ndarray:
    """x with L·Lᵀ·x = rhs for the lower-triangular Cholesky factor L, by forward and back
    substitution in blocks (NumPy has no triangular solver; a general solve would cost a second
    factorization)."""
    size = len(rhs)
    starts = range(0, size, block)
    forward = np.empty_like(rhs, dtype=np.result_type(factor, rhs))
    for start in starts:  # L·z = rhs
        end = min(start + block, size)
        known = rhs[start:end] - factor[start:end, :start] @ forward[:start]
        forward[start:end] = np.linalg.solve(factor[start:end, start:end], known)
    solution = np.empty_like(forward)
    for start in reversed(starts):  # Lᵀ·x = z
        end = min(start + block, size)
        known = forward[start:end] - factor[end:, start:end].T @ solution[end:]
        solution[start:end] = np.linalg.solve(factor[start:end, start:end].T, known)
    return solution


def damped_step(model, loss: float, evaluate: Callable[[np.ndarray], float], state: dict,
                lr: float = 1.0, max_tries: int = 10) -> np.ndarray | None:
    """Find an accepted step by the Levenberg–Marquardt rule (see the module docstring).

    Args:
        model: a ``DenseModel`` or ``CGModel`` at the current parameters.
        loss: the loss at the current parameters.
        evaluate: the loss at θ + step, the parameters left unchanged.
        state: the optimizer's state: ``damping`` (λ, read and updated) and ``nu``; this
            records ``trials``, ``rejected`` (trials undone) and ``rho`` (of the last trial
            evaluated; absent when none was). Numbers only, so a checkpoint holds them.
        lr: the step is lr·d.
        max_tries: trials before giving up for this step (λ keeps its grown value).

    Returns the accepted step, or None when every trial raised the loss (or M + λI stayed
    indefinite): then the parameters must stay where they are.
    """
    damping, nu = float(state["damping"]), float(state.get("nu", 2.0))
    flat_grad = model.flat_grad
    state.pop("rho", None)
    state["trials"], state["rejected"] = 0, 0
    if not flat_grad.any():  # a stationary point: nothing to step along
        return None
    # a predicted change below this is lost in the rounding of the loss: converged
    resolution = 8 * np.finfo(np.float64).eps * max(abs(float(loss)), np.finfo(np.float64).tiny)
    for trial in range(1, max_tries + 1):
        state["trials"] = trial
        direction = model.solve(damping)
        predicted = None
        if direction is not None:
            step = lr * direction
            predicted = -(float(flat_grad @ step) + 0.5 * model.curvature(step))
            if 0 <= predicted <= resolution:
                return None
        if predicted is not None and predicted > 0 and np.isfinite(predicted):
            new_loss = float(evaluate(step))
            rho = (loss - new_loss) / predicted
            state["rho"] = rho
            if new_loss < loss and np.isfinite(new_loss):
                factor = max(_SHRINK, 1.0 - (2.0 * rho - 1.0) ** 3)
                damping = damping * factor if damping > _TINY * model.scale else 0.0
                state.update(damping=damping, nu=2.0, rejected=trial - 1)
                return step
        damping = (min(damping * nu, _HUGE * model.scale) if damping > _TINY * model.scale
                   else 1e-3 * model.scale)
        nu = min(nu * 2.0, 2.0 ** 30)
    state.update(damping=damping, nu=nu, rejected=state["trials"])
    return None


def damped_direction(matrix: np.ndarray, flat_grad: np.ndarray,
                     damping: float) -> tuple[np.ndarray, float]:
    """Solve (M + λI)·d = −g for a fixed λ, raising λ (×10 from a small value) until M + λI is
    positive definite, so that d is a descent direction. Returns (d, λ).

    When λ had to be raised, the first value that passes may leave M + λI nearly singular (a
    huge step), so it is raised once more: if Cholesky succeeded at λ but failed at λ/10, the
    smallest eigenvalue of M lies in (−λ, −λ/10], and that of M + 10λ·I is above 9λ.
    """
    size = flat_grad.size
    if not (np.isfinite(matrix).all() and np.isfinite(flat_grad).all()):
        raise FloatingPointError("the gradient or the curvature matrix has non-finite entries "
                                 "(inf or nan); lower lr or check the loss")
    start = 1e-8 * max(1.0, float(np.abs(np.diag(matrix)).max(initial=0.0)))
    identity = np.eye(size, dtype=matrix.dtype)
    raised = False
    for _ in range(100):
        try:
            with threads.wide(_threads(matrix)):
                factor = np.linalg.cholesky(matrix + damping * identity)
        except np.linalg.LinAlgError:
            damping, raised = (damping * 10 if damping > 0 else start), True
            continue
        if raised:
            damping *= 10
            with threads.wide(_threads(matrix)):
                factor = np.linalg.cholesky(matrix + damping * identity)
        return -cholesky_solve(factor, flat_grad), damping
    raise FloatingPointError(f"M + λI is not positive definite even for λ = {damping:g}")


def step_parameters(model, loss, loss_at: Callable[[], float], params: list, state: dict,
                    lr: float, max_tries: int) -> None:
    """``damped_step`` on the flat vector of ``params``: each trial is scored by ``loss_at()``
    (the loss at the parameters as they are then; they are put back after it), and the
    accepted step, if any, is applied. ``state["func_evals"]`` counts the trials."""
    def evaluate(step: np.ndarray) -> float:
        state["func_evals"] += 1
        return _flat.evaluate_at(loss_at, params, step)

    step = damped_step(model, float(loss), evaluate, state, lr, max_tries)
    if step is not None:
        _flat.add_to_params(params, 1.0, step)


def check_options(options: dict) -> None:
    """The checks of the options the damped optimizers share (``damping``,
    ``adaptive_damping``, ``max_tries``; ``max_cg_iter`` and ``cg_tol`` where present)."""
    check_number("damping", options["damping"], low=0.0)
    check_int("max_tries", options["max_tries"], 1)
    if not isinstance(options["adaptive_damping"], bool):
        raise TypeError(f"adaptive_damping must be True or False, got "
                        f"{options['adaptive_damping']!r}")
    if "max_cg_iter" in options:
        check_int("max_cg_iter", options["max_cg_iter"], 1)
        check_number("cg_tol", options["cg_tol"], low=0.0)


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
