"""``check_model_gradients``: does backward give the true gradient of a whole model's loss?

A float64 copy of the model is checked parameter by parameter along random directions u
(unit norm): backward's directional derivative gᵀu against the central difference
(L(p + εu) - L(p - εu)) / 2ε. Two loss evaluations per direction, whatever the parameter's
size (the vᵀJu idea of HIPS autograd), so a whole network is checked in a moment. The model you
pass is not touched.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from typing import Callable

import numpy as np

import chainrule as cr
from chainrule import backend
from chainrule.diagnostics._format import format_table, report_html

__all__ = ["check_model_gradients", "ModelGradcheckReport", "ParameterCheck"]


@dataclass
class ParameterCheck:
    """One parameter's check: the worst of its random directions."""

    name: str
    shape: tuple
    analytical: float
    numerical: float
    abs_error: float
    rel_error: float
    ok: bool


@dataclass
class ModelGradcheckReport:
    """What ``check_model_gradients`` returns.

    Attributes:
        parameters: one ``ParameterCheck`` per parameter that requires grad.
        loss: the float64 loss at the unperturbed parameters.
        tolerance: the relative error allowed.
        atol: the absolute error allowed (atol·max(1, |loss|)).
        ok: every parameter passed.
        max_rel_error: the largest relative error among gradients large enough for the
            relative tolerance to apply.
    """

    parameters: list[ParameterCheck]
    loss: float
    tolerance: float
    atol: float = 0.0

    @property
    def ok(self) -> bool:
        return all(p.ok for p in self.parameters)

    @property
    def max_rel_error(self) -> float:
        """The largest relative error among parameters whose directional derivative is not
        negligible (those near zero pass or fail on the absolute error alone)."""
        return max((p.rel_error for p in self.parameters
                    if self.tolerance * max(abs(p.analytical), abs(p.numerical)) > self.atol),
                   default=0.0)

    def _rows(self) -> tuple[list[str], list[list]]:
        rows = [[p.name, "x".join(map(str, p.shape)) or "scalar", p.analytical, p.numerical,
                 p.abs_error, p.rel_error, "ok" if p.ok else "FAIL"] for p in self.parameters]
        return ["parameter", "shape", "backward gᵀu", "finite diff.", "abs error", "rel error",
                ""], rows

    def _verdict(self) -> str:
        verdict = "all gradients match" if self.ok else "MISMATCH"
        return (f"{verdict}: worst relative error {self.max_rel_error:.2e} among gradients "
                f"larger than the absolute tolerance (relative tolerance {self.tolerance:g}); "
                "rows with both values near zero pass on the absolute tolerance")

    def table(self) -> str:
        """Per-parameter directional derivatives and errors as a text table."""
        return format_table(*self._rows()) + "\n" + self._verdict()

    def _repr_html_(self) -> str:
        return report_html(*self._rows(), footer=self._verdict())

    def __str__(self) -> str:
        return self.table()


def check_model_gradients(model, loss_fn: Callable, batch, eps: float = 1e-6,
                          directions: int = 3, tolerance: float = 1e-5, atol: float = 1e-8,
                          seed: int = 0) -> ModelGradcheckReport:
    """Compare backward's gradient of ``loss_fn(model(x), y)`` with finite differences.

    Relative error per direction: |gᵀu - (L(p+εu) - L(p-εu))/2ε| / max(|gᵀu|, |numerical|);
    each parameter reports its worst direction and passes when every direction has
    abs error <= tolerance·max(|gᵀu|, |numerical|) + atol·max(1, |L|) (the atol term absorbs
    the rounding noise of the difference quotient, ~1e-16·|L|/ε, for gradients near zero).
    Dropout draws the same masks in every evaluation (chainrule's generator is rewound), and
    the generator's state is restored afterwards.

    Args:
        model: the ``Module`` (deep-copied and converted to float64; the original is unchanged).
        loss_fn: ``loss_fn(output, targets) -> scalar Tensor`` (or ``loss_fn(output)`` when the
            batch has no targets).
        batch: ``(inputs, targets)`` or the inputs alone (Tensors or arrays).
        eps: finite-difference step (float64).
        directions: random unit directions per parameter.
        tolerance: the relative error allowed.
        atol: the absolute error allowed, per unit of loss.
        seed: seed of the random directions.

    Returns:
        ``ModelGradcheckReport`` with ``table()``, ``ok``, ``max_rel_error`` and the rows.

    Example:
        >>> import chainrule as cr
        >>> from chainrule import nn
        >>> model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 1))
        >>> x, y = cr.randn(8, 3), cr.randn(8, 1)
        >>> check_model_gradients(model, lambda out, t: ((out - t) ** 2).mean(), (x, y)).ok
        True
    """
    if directions < 1:
        raise ValueError(f"directions must be at least 1, got {directions}")
    clone = copy.deepcopy(model).double()
    inputs, targets = (batch if isinstance(batch, (tuple, list)) and len(batch) == 2
                       else (batch, None))
    inputs, targets = _as_double(inputs), _as_double(targets)
    params = [(n, p) for n, p in clone.named_parameters() if p.requires_grad]
    if not params:
        raise ValueError("check_model_gradients: the model has no parameter with "
                         "requires_grad=True, so there is nothing to check")
    rng_state = backend.get_rng_state()

    def loss_at() -> "cr.Tensor":
        backend.set_rng_state(rng_state)  # the same dropout masks in every evaluation
        output = clone(inputs)
        loss = loss_fn(output) if targets is None else loss_fn(output, targets)
        if not isinstance(loss, cr.Tensor) or loss.data.size != 1:
            raise ValueError("check_model_gradients: loss_fn must return a one-element Tensor, "
                             f"got {type(loss).__name__} {getattr(loss, 'shape', '')}")
        return loss

    try:
        loss = loss_at()
        allowed = atol * max(1.0, abs(float(loss.data)))
        grads = cr.grad(loss, [p for _, p in params], allow_unused=True)
        rng = np.random.default_rng(seed)
        rows = []
        for (name, param), grad in zip(params, grads):
            gradient = np.zeros(param.shape) if grad is None else np.asarray(grad.data)
            rows.append(_check_parameter(name, param, gradient, loss_at, rng, eps, directions,
                                         tolerance, allowed))
    finally:
        backend.set_rng_state(rng_state)
    return ModelGradcheckReport(rows, float(loss.data), tolerance, allowed)


def _as_double(value):
    if value is None:
        return None
    tensor = value if isinstance(value, cr.Tensor) else cr.tensor(np.asarray(value))
    return tensor.double() if tensor.is_floating_point() else tensor


def _check_parameter(name, param, gradient, loss_at, rng, eps, directions, tolerance,
                     allowed) -> ParameterCheck:
    original = param.data
    worst, ok = None, True
    try:
        for _ in range(directions):
            direction = rng.standard_normal(param.shape)
            norm = np.linalg.norm(direction)
            direction = direction / norm if norm > 0 else direction
            with cr.no_grad():
                param.data = original + eps * direction
                plus = float(loss_at().data)
                param.data = original - eps * direction
                minus = float(loss_at().data)
            numerical = (plus - minus) / (2 * eps)
            analytical = float(np.sum(gradient * direction))
            abs_error = abs(analytical - numerical)
            scale = max(abs(analytical), abs(numerical))
            rel_error = abs_error / scale if scale > 0 else 0.0
            if not math.isfinite(abs_error):
                rel_error = math.inf
            ok = ok and abs_error <= tolerance * scale + allowed
            if worst is None or rel_error > worst[3]:
                worst = (analytical, numerical, abs_error, rel_error)
    finally:
        param.data = original
    analytical, numerical, abs_error, rel_error = worst
    return ParameterCheck(name, tuple(param.shape), analytical, numerical, abs_error, rel_error,
                          ok)
