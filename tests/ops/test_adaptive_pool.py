"""Adaptive average pooling (chainrule/ops/adaptive_pool.py) in 1-D and 2-D by the op specs
against the start/end formula, and against PyTorch; errors."""

import numpy as np
import pytest

import chainrule as cr
from chainrule.ops.adaptive_pool import adaptive_avg_pool1d, adaptive_avg_pool2d
from tests.ops.spec import OpSpec, SpecChecks

RNG = np.random.default_rng(99)


def reference_adaptive(x, output_size):
    """Window i of n over a dim of size L is [floor(i·L/n), ceil((i+1)·L/n)), as PyTorch."""
    sizes = x.shape[2:]
    output_size = output_size if isinstance(output_size, tuple) else (output_size,) * len(sizes)
    output_size = tuple(o or s for o, s in zip(output_size, sizes))
    out = np.zeros(x.shape[:2] + output_size)
    for index in np.ndindex(*output_size):
        window = tuple(slice(i * s // o, -(-(i + 1) * s // o))
                       for i, s, o in zip(index, sizes, output_size))
        out[(Ellipsis,) + index] = x[(Ellipsis,) + window].mean(axis=tuple(range(2, x.ndim)))
    return out


def _spec(name, function, output_size, shape):
    return OpSpec(name, lambda x: function(x, output_size),
                  lambda x: reference_adaptive(x, output_size), [(shape,), ((0,) + shape[1:],)],
                  covers=("MatMul",) if output_size != 1 else (),
                  torch=lambda torch, x: getattr(torch.nn.functional, function.__name__)(
                      x, output_size))


SPECS = [
    _spec("adaptive_avg_pool2d", adaptive_avg_pool2d, (2, 3), (2, 2, 5, 7)),
    _spec("adaptive_avg_pool2d_global", adaptive_avg_pool2d, 1, (2, 2, 5, 7)),
    _spec("adaptive_avg_pool2d_keep_height", adaptive_avg_pool2d, (None, 3), (2, 2, 5, 7)),
    _spec("adaptive_avg_pool1d", adaptive_avg_pool1d, 4, (2, 3, 11)),
    _spec("adaptive_avg_pool1d_global", adaptive_avg_pool1d, 1, (2, 3, 11)),
]


class TestSpecs(SpecChecks):
    specs = SPECS


def test_adaptive_avg_pool2d_matches_start_end_formula():
    x = RNG.standard_normal((2, 3, 7, 10))
    for size in [(3, 4), (7, 10), (2, 5), 1, (None, 3), 5]:
        out = adaptive_avg_pool2d(cr.tensor(x, dtype=cr.float64), size)
        oh, ow = (size, size) if not isinstance(size, tuple) else size
        oh, ow = oh or 7, ow or 10
        expected = np.zeros((2, 3, oh, ow))
        for i in range(oh):
            for j in range(ow):
                r0, r1 = i * 7 // oh, -(-(i + 1) * 7 // oh)
                c0, c1 = j * 10 // ow, -(-(j + 1) * 10 // ow)
                expected[:, :, i, j] = x[:, :, r0:r1, c0:c1].mean(axis=(2, 3))
        np.testing.assert_allclose(out.data, expected, rtol=1e-12, err_msg=str(size))


def test_one_d_matches_the_start_end_formula():
    x = RNG.standard_normal((2, 3, 11))
    t = cr.tensor(x, dtype=cr.float64)
    expected = np.stack([x[..., i * 11 // 4: -(-(i + 1) * 11 // 4)].mean(-1) for i in range(4)], -1)
    np.testing.assert_allclose(adaptive_avg_pool1d(t, 4).data, expected, rtol=1e-12)
    np.testing.assert_allclose(adaptive_avg_pool1d(t, 1).data, x.mean(-1, keepdims=True))


def test_float32_stays_float32_and_unbatched_inputs():
    out = adaptive_avg_pool2d(cr.randn(3, 8, 8), 3)
    assert out.dtype == np.float32 and out.ndim == 3


def test_matches_torch():
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    x1 = RNG.standard_normal((2, 3, 13))
    x2 = RNG.standard_normal((2, 3, 9, 11))
    t1, t2 = cr.tensor(x1, dtype=cr.float64), cr.tensor(x2, dtype=cr.float64)
    np.testing.assert_allclose(adaptive_avg_pool1d(t1, 5).data,
                               F.adaptive_avg_pool1d(torch.tensor(x1), 5).numpy())
    for size in [(4, 5), 1, 3, (None, 2)]:
        np.testing.assert_allclose(adaptive_avg_pool2d(t2, size).data,
                                   F.adaptive_avg_pool2d(torch.tensor(x2), size).numpy())


def test_output_size_error():
    with pytest.raises(ValueError, match=r"output_size must be an int or 2 ints"):
        adaptive_avg_pool2d(cr.randn(2, 3, 8, 8), (1, 2, 3))
