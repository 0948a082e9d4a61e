"""Gradient checks by central finite differences in float64.

``gradcheck`` compares the Jacobian that backward computes with one built from
(f(x + eps) - f(x - eps)) / 2eps, column by column; ``fast_mode=True`` compares a single random
projection vᵀJu instead, which costs two evaluations of ``fn`` whatever the sizes.
``gradgradcheck`` applies the same check to the gradient itself (second order).
"""

from __future__ import annotations

import warnings
from typing import Callable, Sequence

import numpy as np

from chainrule.autograd.engine import grad as autograd_grad
from chainrule.tensor import Tensor


class GradcheckError(AssertionError):
    """Raised when an analytical gradient does not match finite differences."""


def _as_tuple(values):
    return (values,) if isinstance(values, Tensor) else tuple(values)


def _differentiable_inputs(inputs):
    return [i for i, t in enumerate(inputs) if isinstance(t, Tensor) and t.requires_grad]


def _warn_if_single_precision(inputs) -> None:
    for t in inputs:
        if isinstance(t, Tensor) and t.requires_grad and t.dtype != np.float64:
            warnings.warn(
                f"gradcheck got an input of dtype {t.dtype}: finite differences in single "
                "precision are too noisy to check gradients. Use .double() inputs.",
                stacklevel=3,
            )
            return


def _evaluate(fn, inputs) -> list[np.ndarray]:
    # Not under no_grad: fn may itself differentiate (gradgradcheck's first derivative).
    outputs = _as_tuple(fn(*inputs))
    return [np.array(o.data, dtype=np.float64) for o in outputs]


def _numerical_jvp(fn, inputs, index: int, direction: np.ndarray, eps: float):
    """(f(x + eps·u) - f(x - eps·u)) / 2eps for input ``index`` along ``direction``."""
    tensor = inputs[index]
    original = tensor.data.copy()
    try:
        tensor.data = original + eps * direction
        plus = _evaluate(fn, inputs)
        tensor.data = original - eps * direction
        minus = _evaluate(fn, inputs)
    finally:
        tensor.data = original
    return [(p - m) / (2 * eps) for p, m in zip(plus, minus)]


def _analytical_vjp(fn, inputs, wanted: list[int], cotangents: list[np.ndarray]):
    outputs = _as_tuple(fn(*inputs))
    pairs = [(o, Tensor._make(c.astype(o.dtype))) for o, c in zip(outputs, cotangents)
             if o.requires_grad]
    if not pairs:
        return [np.zeros(inputs[i].shape) for i in wanted]
    grads = autograd_grad([o for o, _ in pairs], [inputs[i] for i in wanted],
                          [c for _, c in pairs], allow_unused=True)
    return [np.zeros(inputs[i].shape) if g is None else np.asarray(g.data, dtype=np.float64)
            for i, g in zip(wanted, grads)]


def _mismatch(analytical, numerical, atol, rtol):
    difference = np.abs(analytical - numerical)
    bad = difference > atol + rtol * np.abs(numerical)
    return bad, difference


def gradcheck(fn: Callable, inputs, eps: float = 1e-6, atol: float = 1e-5, rtol: float = 1e-3,
              fast_mode: bool = False, raise_exception: bool = True, seed: int = 0) -> bool:
    """Check the gradients of ``fn`` at ``inputs`` against central finite differences.

    Args:
        fn: takes the inputs, returns a Tensor or a tuple of Tensors.
        inputs: a Tensor or a tuple; those with ``requires_grad`` are checked (use float64).
        eps: finite-difference step.
        atol, rtol: allowed error |analytical - numerical| <= atol + rtol·|numerical|.
        fast_mode: check one random projection vᵀJu per input instead of the full Jacobian.
        raise_exception: raise ``GradcheckError`` with a report (else return False).

    Returns:
        True when every gradient matches.

    Example:
        >>> import chainrule as cr
        >>> x = cr.randn(3, dtype=cr.float64, requires_grad=True)
        >>> cr.autograd.gradcheck(lambda t: (t * t).sum(), x)
        True
    """
    inputs = _as_tuple(inputs)
    _warn_if_single_precision(inputs)
    wanted = _differentiable_inputs(inputs)
    if not wanted:
        raise ValueError("gradcheck: no input requires grad, so there is nothing to check")
    out_shapes = [o.shape for o in _evaluate(fn, inputs)]
    rng = np.random.default_rng(seed)
    problems = []
    if fast_mode:
        cotangents = [rng.standard_normal(s) for s in out_shapes]
        vjps = _analytical_vjp(fn, inputs, wanted, cotangents)
        for i, vjp in zip(wanted, vjps):
            u = rng.standard_normal(inputs[i].shape)
            jvp = _numerical_jvp(fn, inputs, i, u, eps)
            numerical = float(sum(np.sum(c * j) for c, j in zip(cotangents, jvp)))
            analytical = float(np.sum(vjp * u))
            if abs(analytical - numerical) > atol + rtol * abs(numerical):
                problems.append(
                    f"input {i} (shape {tuple(inputs[i].shape)}): the projection vᵀJu is "
                    f"{analytical:.10g} by backward but {numerical:.10g} by finite differences "
                    f"(difference {abs(analytical - numerical):.3g})"
                )
    else:
        for i in wanted:
            tensor = inputs[i]
            size = tensor.data.size
            numerical_rows = [np.zeros((size,) + s) for s in out_shapes]
            for k in range(size):
                direction = np.zeros(size)
                direction[k] = 1.0
                column = _numerical_jvp(fn, inputs, i, direction.reshape(tensor.shape), eps)
                for rows, col in zip(numerical_rows, column):
                    rows[k] = col
            for o, shape in enumerate(out_shapes):
                out_size = int(np.prod(shape))
                numerical_j = numerical_rows[o].reshape(size, out_size)
                analytical_j = np.zeros((size, out_size))
                for m in range(out_size):
                    cotangents = [np.zeros(s) for s in out_shapes]
                    cotangents[o].reshape(-1)[m] = 1.0
                    (vjp,) = _analytical_vjp(fn, inputs, [i], cotangents)
                    analytical_j[:, m] = vjp.reshape(-1)
                bad, difference = _mismatch(analytical_j, numerical_j, atol, rtol)
                if bad.any():
                    k, m = np.unravel_index(np.argmax(np.where(bad, difference, -1)), bad.shape)
                    element = ([int(e) for e in np.unravel_index(k, tensor.shape)]
                               if tensor.ndim else [])
                    out_element = [int(e) for e in np.unravel_index(m, shape)] if len(shape) else []
                    problems.append(
                        f"input {i} (shape {tuple(tensor.shape)}), output {o}: "
                        f"{int(bad.sum())} of {bad.size} Jacobian entries differ; the worst is "
                        f"d out{list(out_element)} / d in{list(element)} = "
                        f"{analytical_j[k, m]:.10g} by backward, {numerical_j[k, m]:.10g} by "
                        f"finite differences (difference {difference[k, m]:.3g})"
                    )
    if problems:
        if raise_exception:
            raise GradcheckError("gradcheck failed:\n  " + "\n  ".join(problems))
        return False
    return True


def gradgradcheck(fn: Callable, inputs, grad_outputs: Sequence | None = None, eps: float = 1e-6,
                  atol: float = 1e-5, rtol: float = 1e-3, fast_mode: bool = False,
                  raise_exception: bool = True, seed: int = 0) -> bool:
    """Check second derivatives: ``gradcheck`` of the map inputs -> vᵀ·d fn/d inputs.

    ``grad_outputs`` (the v) are random when omitted; they are held fixed.
    """
    inputs = _as_tuple(inputs)
    _warn_if_single_precision(inputs)
    wanted = _differentiable_inputs(inputs)
    rng = np.random.default_rng(seed + 1)
    if grad_outputs is None:
        outs = _as_tuple(fn(*inputs))
        grad_outputs = [Tensor._make(rng.standard_normal(o.shape).astype(o.dtype)) for o in outs]
    grad_outputs = list(grad_outputs)

    def first_derivative(*args):
        outs = _as_tuple(fn(*args))
        pairs = [(o, g) for o, g in zip(outs, grad_outputs) if o.requires_grad]
        grads = autograd_grad([o for o, _ in pairs], [args[i] for i in wanted],
                              [g for _, g in pairs], create_graph=True, allow_unused=True)
        result = []
        for i, g in zip(wanted, grads):
            if g is None or not g.requires_grad:
                base = np.zeros(args[i].shape) if g is None else g.data
                g = Tensor._make(np.asarray(base, dtype=np.float64)) + args[i] * 0.0
            result.append(g)
        return tuple(result)

    return gradcheck(first_derivative, inputs, eps=eps, atol=atol, rtol=rtol,
                     fast_mode=fast_mode, raise_exception=raise_exception, seed=seed)
