"""Selection and conversion (chainrule/ops/select.py): maximum, minimum, clip, where, cast and
clone, by the op specs."""

from __future__ import annotations

import numpy as np

import chainrule as cr
from tests.ops.spec import OpSpec, SpecChecks

BINARY_SHAPES = [((3, 4), (3, 4)), ((3, 1), (4,)), ((2, 3, 4), (1, 4)), ((), (3,)), ((0, 3), (3,))]
UNARY_SHAPES = [((3, 4),), ((2, 3, 2),), ((),), ((0, 2),)]


def _off_the_bounds(x):
    """Inputs kept away from clip's bounds at ±0.5."""
    return np.where(np.abs(np.abs(x) - 0.5) < 0.05, x * 0.5, x)


SPECS = [
    OpSpec("maximum", cr.maximum, np.maximum, BINARY_SHAPES, covers=("Maximum",),
           torch=lambda torch, a, b: torch.maximum(a, b)),
    OpSpec("minimum", cr.minimum, np.minimum, BINARY_SHAPES, covers=("Minimum",),
           torch=lambda torch, a, b: torch.minimum(a, b)),
    OpSpec("clip", lambda a: cr.clip(a, -0.5, 0.5), lambda a: np.clip(a, -0.5, 0.5),
           UNARY_SHAPES, covers=("Clip",), domain=_off_the_bounds,
           torch=lambda torch, a: torch.clamp(a, -0.5, 0.5)),
    OpSpec("where", lambda a, b: cr.where(a.data > 0, a, b),
           lambda a, b: np.where(a > 0, a, b), BINARY_SHAPES, covers=("Where",),
           torch=lambda torch, a, b: torch.where(a > 0, a, b)),
    # Through long double and back: exact, so finite differences in float64 see no rounding.
    OpSpec("cast", lambda a: (a.to(np.longdouble) * 2).to(a.dtype), lambda a: a * 2,
           UNARY_SHAPES, covers=("Cast",)),
    OpSpec("clone", lambda a: a.clone() * 2, lambda a: a * 2, UNARY_SHAPES, covers=("Clone",),
           torch=lambda torch, a: a.clone() * 2),
]


class TestSpecs(SpecChecks):
    specs = SPECS
