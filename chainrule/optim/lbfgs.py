"""L-BFGS: quasi-Newton steps from the last ``history_size`` gradient differences."""

from __future__ import annotations

from typing import Callable

import numpy as np

from chainrule.autograd.grad_mode import enable_grad, no_grad
from chainrule.optim import _flat
from chainrule.optim._flat import FlatOptimizer
from chainrule.optim.line_search import strong_wolfe
from chainrule.optim.optimizer import ParamsT, check_int, check_number


def _two_loop_direction(flat_grad: np.ndarray, old_dirs: list, old_stps: list, ro: list,
                        h_diag: float, al: list) -> np.ndarray:
    """−H·g with the L-BFGS inverse Hessian H, by the two-loop recursion (y in ``old_dirs``,
    s in ``old_stps``, ρ = 1/(yᵀs) in ``ro``, H₀ = h_diag·I)."""
    q = -flat_grad
    for i in range(len(old_dirs) - 1, -1, -1):
        al[i] = old_stps[i].dot(q) * ro[i]
        q -= al[i] * old_dirs[i]
    r = q * h_diag
    for i in range(len(old_dirs)):
        be_i = old_dirs[i].dot(r) * ro[i]
        r += (al[i] - be_i) * old_stps[i]
    return r


class QuasiNewton(FlatOptimizer):
    """The iteration loop of PyTorch's LBFGS, shared by ``LBFGS`` and ``BFGS``.

    Subclasses write ``_direction(state, flat_grad, group)``: update the curvature memory from
    the previous step (``state["d"]``, ``state["t"]``, ``state["prev_flat_grad"]``) and return
    the new search direction.
    """

    def _validate(self, options: dict) -> None:
        super()._validate(options)
        check_int("max_iter", options["max_iter"], 1)
        check_int("max_eval", options["max_eval"], 1)
        check_number("tolerance_grad", options["tolerance_grad"], low=0.0)
        check_number("tolerance_change", options["tolerance_change"], low=0.0)
        if options["line_search_fn"] not in (None, "strong_wolfe"):
            raise ValueError(f"Invalid line_search_fn: {options['line_search_fn']!r}; expected "
                             "None or 'strong_wolfe'")

    def _direction(self, state: dict, flat_grad: np.ndarray, group: dict) -> np.ndarray:
        raise NotImplementedError

    @no_grad()
    def step(self, closure: Callable | None = None):
        """Run up to ``max_iter`` iterations; returns the loss at the start of the step.

        Args:
            closure: zeroes the gradients, computes the loss, calls ``backward()`` and returns
                the loss (called several times per step).
        """
        closure = enable_grad()(self._require_closure(closure))
        group = self.param_groups[0]
        lr = float(group["lr"])
        max_iter, max_eval = group["max_iter"], group["max_eval"]
        tolerance_grad, tolerance_change = group["tolerance_grad"], group["tolerance_change"]
        params = self._params

        state = self.state[params[0]]
        state.setdefault("func_evals", 0)
        state.setdefault("n_iter", 0)

        orig_loss = closure()
        loss = float(orig_loss)
        current_evals = 1
        state["func_evals"] += 1
        flat_grad = _flat.gather_flat_grad(params)
        if np.abs(flat_grad).max() <= tolerance_grad:
            return orig_loss

        n_iter = 0
        while n_iter < max_iter:
            n_iter += 1
            state["n_iter"] += 1

            d = self._direction(state, flat_grad, group)
            if state.get("prev_flat_grad") is None:
                state["prev_flat_grad"] = flat_grad.copy()
            else:
                np.copyto(state["prev_flat_grad"], flat_grad)
            state["prev_loss"] = prev_loss = loss

            # step length: a guess at the first iteration ever, lr afterwards
            if state["n_iter"] == 1:
                t = min(1.0, 1.0 / float(np.abs(flat_grad).sum())) * lr
            else:
                t = lr
            gtd = flat_grad.dot(d)
            if gtd > -tolerance_change:  # not a descent direction any more
                state["d"], state["t"] = d, t
                break

            if group["line_search_fn"] is not None:
                x_init = _flat.clone_params(params)

                def obj_func(x, step_size, direction):
                    return _flat.directional_evaluate(closure, params, x, step_size, direction)

                loss, flat_grad, t, ls_func_evals = strong_wolfe(
                    obj_func, x_init, t, d, loss, flat_grad, gtd,
                    max_ls=max_eval - current_evals)
                t = float(t)
                _flat.add_to_params(params, t, d)
                opt_cond = np.abs(flat_grad).max() <= tolerance_grad
            else:
                _flat.add_to_params(params, t, d)
                ls_func_evals = 0
                opt_cond = False
                if n_iter != max_iter:
                    # re-evaluate only if another iteration follows (useless when stochastic)
                    loss = float(closure())
                    flat_grad = _flat.gather_flat_grad(params)
                    opt_cond = np.abs(flat_grad).max() <= tolerance_grad
                    ls_func_evals = 1
            state["d"], state["t"] = d, t

            current_evals += ls_func_evals
            state["func_evals"] += ls_func_evals

            if n_iter == max_iter or current_evals >= max_eval or opt_cond:
                break
            if np.abs(d * t).max() <= tolerance_change:
                break
            if abs(loss - prev_loss) < tolerance_change:
                break
        return orig_loss


class LBFGS(QuasiNewton):
    r"""Limited-memory BFGS with PyTorch's semantics (same iterates on the same problem).

    Each ``step(closure)`` runs up to ``max_iter`` iterations. Iteration k takes the direction
    d = −H·g, where H approximates the inverse Hessian from the last ``history_size`` pairs
    (s, y) = (θₖ₊₁ − θₖ, gₖ₊₁ − gₖ) by the two-loop recursion, with H₀ = (sᵀy / yᵀy)·I. The
    first step is min(1, 1/‖g‖₁)·lr, later ones lr, or a strong-Wolfe line search chooses it.
    It stops when max|g| ≤ tolerance_grad, when the step or the change of the loss is below
    tolerance_change, or after max_iter iterations / max_eval closure calls.

    The closure zeroes the gradients, computes the loss, calls ``backward()`` and returns the
    loss; it is called several times per step.

    Args:
        params: the tensors to optimize (a single group).
        lr: learning rate (default 1).
        max_iter: most iterations per ``step`` (default 20).
        max_eval: most closure calls per ``step`` (default max_iter·5/4).
        tolerance_grad: stop when max|g| ≤ this (default 1e-7).
        tolerance_change: stop when the step or the loss change is below this (default 1e-9).
        history_size: number of (s, y) pairs kept (default 100).
        line_search_fn: None (fixed step lr) or ``"strong_wolfe"``.

    State (``state[params[0]]``): func_evals, n_iter, d, t, old_dirs, old_stps, ro, H_diag,
    prev_flat_grad, prev_loss.

    Example:
        >>> import chainrule as cr
        >>> x = cr.tensor([-1.5, 2.0], dtype=cr.float64, requires_grad=True)
        >>> opt = cr.optim.LBFGS([x], line_search_fn="strong_wolfe")
        >>> def closure():
        ...     opt.zero_grad()
        ...     loss = (1 - x[0]) ** 2 + 100 * (x[1] - x[0] ** 2) ** 2
        ...     loss.backward()
        ...     return loss
        >>> for _ in range(5):
        ...     _ = opt.step(closure)
        >>> [round(v, 4) for v in x.tolist()]
        [1.0, 1.0]
    """

    def __init__(self, params: ParamsT, lr: float = 1, max_iter: int = 20,
                 max_eval: int | None = None, tolerance_grad: float = 1e-7,
                 tolerance_change: float = 1e-9, history_size: int = 100,
                 line_search_fn: str | None = None):
        if max_eval is None and isinstance(max_iter, int):
            max_eval = max_iter * 5 // 4
        defaults = dict(lr=lr, max_iter=max_iter, max_eval=max_eval,
                        tolerance_grad=tolerance_grad, tolerance_change=tolerance_change,
                        history_size=history_size, line_search_fn=line_search_fn)
        super().__init__(params, defaults)

    def _validate(self, options: dict) -> None:
        super()._validate(options)
        check_int("history_size", options["history_size"], 1)

    def _direction(self, state: dict, flat_grad: np.ndarray, group: dict) -> np.ndarray:
        """Update the (s, y) memory with the last step and return the new direction."""
        if state["n_iter"] == 1:
            state.update(old_dirs=[], old_stps=[], ro=[], H_diag=1.0)
            return -flat_grad
        y = flat_grad - state["prev_flat_grad"]
        s = state["d"] * state["t"]
        ys = y.dot(s)
        if ys > 1e-10:
            if len(state["old_dirs"]) == group["history_size"]:
                for key in ("old_dirs", "old_stps", "ro"):
                    state[key].pop(0)
            state["old_dirs"].append(y)
            state["old_stps"].append(s)
            state["ro"].append(float(1.0 / ys))
            state["H_diag"] = float(ys / y.dot(y))
        al = [0.0] * len(state["old_dirs"])
        return _two_loop_direction(flat_grad, state["old_dirs"], state["old_stps"], state["ro"],
                                   state["H_diag"], al)
