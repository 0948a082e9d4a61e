"""Loss modules (chainrule/nn/loss.py): each computes its functional op with the same options
(the ops themselves are specced in tests/ops/test_loss.py and test_cross_entropy.py); bad
options are refused at construction."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn.functional as F
from chainrule import nn

RNG = np.random.default_rng(5)
W4 = np.array([0.5, 1.0, 2.0, 1.5])


def normal(*shape):
    return lambda: RNG.standard_normal(shape)


def probabilities(*shape):
    return lambda: 1 / (1 + np.exp(-RNG.standard_normal(shape)))


def labels(classes, *shape, ignore=False):
    def make():
        t = RNG.integers(0, classes, shape)
        if ignore:
            t.flat[0] = -100
        return t
    return make


def binary(*shape):
    return lambda: RNG.integers(0, 2, shape).astype(np.float64)


def distributions(*shape):
    def make():
        p = RNG.random(shape) + 0.1
        return p / p.sum(axis=1, keepdims=True)
    return make


def _w(values):
    return cr.tensor(values, dtype=cr.float64)


# (name, module factory, function, its options, input maker, target maker)
CASES = []
for reduction in ("mean", "sum", "none"):
    r = {"reduction": reduction}
    CASES += [
        (f"l1-{reduction}", lambda r=r: nn.L1Loss(**r), F.l1_loss, r, normal(3, 4),
         normal(3, 4)),
        (f"mse-{reduction}", lambda r=r: nn.MSELoss(**r), F.mse_loss, r, normal(3, 4),
         normal(3, 4)),
        (f"smooth_l1-{reduction}", lambda r=r: nn.SmoothL1Loss(beta=0.7, **r), F.smooth_l1_loss,
         {**r, "beta": 0.7}, normal(3, 4), normal(3, 4)),
        (f"huber-{reduction}", lambda r=r: nn.HuberLoss(delta=0.7, **r), F.huber_loss,
         {**r, "delta": 0.7}, normal(3, 4), normal(3, 4)),
        (f"bce-{reduction}", lambda r=r: nn.BCELoss(**r), F.binary_cross_entropy, r,
         probabilities(3, 4), probabilities(3, 4)),
        (f"bce_logits-{reduction}", lambda r=r: nn.BCEWithLogitsLoss(**r),
         F.binary_cross_entropy_with_logits, r, normal(3, 4), binary(3, 4)),
        (f"cross_entropy-{reduction}", lambda r=r: nn.CrossEntropyLoss(**r), F.cross_entropy, r,
         normal(5, 4), labels(4, 5)),
        (f"cross_entropy_full-{reduction}",
         lambda r=r: nn.CrossEntropyLoss(_w(W4), label_smoothing=0.2, **r), F.cross_entropy,
         {**r, "weight": W4, "label_smoothing": 0.2}, normal(5, 4), labels(4, 5, ignore=True)),
        (f"cross_entropy_spatial-{reduction}", lambda r=r: nn.CrossEntropyLoss(_w(W4), **r),
         F.cross_entropy, {**r, "weight": W4}, normal(2, 4, 3, 2),
         labels(4, 2, 3, 2, ignore=True)),
        (f"cross_entropy_probs-{reduction}",
         lambda r=r: nn.CrossEntropyLoss(_w(W4), label_smoothing=0.1, **r), F.cross_entropy,
         {**r, "weight": W4, "label_smoothing": 0.1}, normal(5, 4), distributions(5, 4)),
        (f"nll-{reduction}", lambda r=r: nn.NLLLoss(_w(W4), **r), F.nll_loss,
         {**r, "weight": W4}, normal(5, 4), labels(4, 5, ignore=True)),
    ]
CASES += [
    ("bce_weighted", lambda: nn.BCELoss(_w([1.0, 2.0, 0.5, 1.0])), F.binary_cross_entropy,
     {"weight": np.array([1.0, 2.0, 0.5, 1.0])}, probabilities(3, 4), binary(3, 4)),
    ("bce_logits_multilabel",
     lambda: nn.BCEWithLogitsLoss(_w([1.0, 0.5, 2.0]), pos_weight=_w([3.0, 1.0, 0.5])),
     F.binary_cross_entropy_with_logits,
     {"pos_weight": np.array([3.0, 1.0, 0.5]), "weight": np.array([1.0, 0.5, 2.0])},
     normal(6, 3), binary(6, 3)),
    ("smooth_l1_beta0", lambda: nn.SmoothL1Loss(beta=0.0), F.smooth_l1_loss, {"beta": 0.0},
     normal(3, 4), normal(3, 4)),
]


@pytest.mark.parametrize("case", CASES, ids=[case[0] for case in CASES])
def test_module_computes_the_function(case):
    _, make_module, function, options, make_input, make_target = case
    x, t = make_input(), make_target()
    x_t = cr.tensor(x, dtype=cr.float64)
    t_t = cr.tensor(t, dtype=cr.float64 if t.dtype.kind == "f" else None)
    kwargs = {k: _w(v) if isinstance(v, np.ndarray) else v for k, v in options.items()}
    np.testing.assert_allclose(make_module()(x_t, t_t).data, function(x_t, t_t, **kwargs).data)


def test_bad_reduction_is_refused_at_construction():
    with pytest.raises(ValueError, match="reduction"):
        nn.CrossEntropyLoss(reduction="avg")
