"""Pooling (chainrule/ops/pool.py): max and average pooling in 1-D and 2-D by the op specs and
against loop references and PyTorch: ceil mode, padding, dilation, count_include_pad; ties go to
the first maximum; the double backward; errors; the channels-first memory layout; the 2×2
pairs path against the general one."""

import numpy as np
import pytest

import chainrule as cr
from chainrule.ops import pool as pool_module
from chainrule.ops.pool import avg_pool1d, avg_pool2d, max_pool1d, max_pool2d
from tests.ops.spec import OpSpec, SpecChecks

RNG = np.random.default_rng(99)


def as_pair(v):
    return (v, v) if isinstance(v, int) else tuple(v)


def out_len(size, k, s, p, d, ceil_mode):
    span = size + 2 * p - d * (k - 1) - 1
    if not ceil_mode:
        return span // s + 1
    out = -(-span // s) + 1
    return out - 1 if (out - 1) * s >= size + p else out


def reference_pool(x, kernel, stride=None, padding=0, dilation=1, ceil_mode=False, kind="max",
                   count_include_pad=True):
    """Loops over windows. Returns the output and, for max, the flat input index of each
    window's first maximum (None where a window holds only padding)."""
    (kh, kw), (ph, pw), (dh, dw) = as_pair(kernel), as_pair(padding), as_pair(dilation)
    sh, sw = as_pair(stride) if stride is not None else (kh, kw)
    n, c, h, w = x.shape
    ho, wo = out_len(h, kh, sh, ph, dh, ceil_mode), out_len(w, kw, sw, pw, dw, ceil_mode)
    out = np.zeros((n, c, ho, wo))
    argmax = np.zeros((n, c, ho, wo), dtype=int)
    for ni in range(n):
        for ci in range(c):
            for i in range(ho):
                for j in range(wo):
                    best, best_at, total, count_pad, count_real = -np.inf, -1, 0.0, 0, 0
                    for a in range(kh):
                        for b in range(kw):
                            r, q = i * sh - ph + a * dh, j * sw - pw + b * dw
                            if r < h + ph and q < w + pw:
                                count_pad += 1
                            if 0 <= r < h and 0 <= q < w:
                                count_real += 1
                                value = x[ni, ci, r, q]
                                total += value
                                if value > best:
                                    best, best_at = value, r * w + q
                    if kind == "max":
                        out[ni, ci, i, j], argmax[ni, ci, i, j] = best, best_at
                    else:
                        out[ni, ci, i, j] = total / (count_pad if count_include_pad else count_real)
    return out, argmax


def distinct(x):
    """The ranks of x times 0.1: distinct, well separated values, so that finite differences
    never cross a max-pool tie."""
    return np.argsort(np.argsort(x, axis=None)).reshape(x.shape) * 0.1


def _pool_spec(name, function, covers, reference_options, spatial=2, **options):
    """A spec of ``function(x, **options)``; the reference is ``reference_pool`` with
    ``reference_options`` (in its 2-D terms; 1-D inputs get a height of one)."""

    def reference(x):
        if spatial == 1:
            return reference_pool(x[:, :, None], **reference_options)[0][:, :, 0]
        return reference_pool(x, **reference_options)[0]

    def torch_op(torch, x):
        return getattr(torch.nn.functional, function.__name__)(x, **options)

    shape = (2, 2, 5, 7) if spatial == 2 else (2, 2, 35)
    return OpSpec(name, lambda x: function(x, **options), reference,
                  [(shape,), ((0,) + shape[1:],)], covers=covers, domain=distinct, eps=1e-4,
                  torch=torch_op)


MAX_COVERS = ("MaxPool", "MaxPoolScatter", "MaxPoolGather")
AVG_COVERS = ("AvgPool", "AvgPoolTranspose")
SPECS = [
    _pool_spec("max_pool2d", max_pool2d, MAX_COVERS, dict(kernel=2), kernel_size=2),
    _pool_spec("max_pool2d_ceil", max_pool2d, MAX_COVERS,
               dict(kernel=3, stride=2, padding=1, ceil_mode=True), kernel_size=3, stride=2,
               padding=1, ceil_mode=True),
    _pool_spec("max_pool2d_dilated", max_pool2d, MAX_COVERS, dict(kernel=2, stride=1, dilation=2),
               kernel_size=2, stride=1, dilation=2),
    _pool_spec("avg_pool2d", avg_pool2d, AVG_COVERS, dict(kernel=2, kind="avg"), kernel_size=2),
    _pool_spec("avg_pool2d_ceil_no_pad_count", avg_pool2d, AVG_COVERS,
               dict(kernel=3, stride=2, padding=1, ceil_mode=True, kind="avg",
                    count_include_pad=False),
               kernel_size=3, stride=2, padding=1, ceil_mode=True, count_include_pad=False),
    _pool_spec("max_pool1d", max_pool1d, MAX_COVERS, dict(kernel=(1, 3), stride=(1, 2),
               padding=(0, 1)), spatial=1, kernel_size=3, stride=2, padding=1),
    _pool_spec("avg_pool1d", avg_pool1d, AVG_COVERS, dict(kernel=(1, 4), stride=(1, 3),
               padding=(0, 2), kind="avg"), spatial=1, kernel_size=4, stride=3, padding=2),
]


class TestSpecs(SpecChecks):
    specs = SPECS


MAX_CASES = [
    dict(kernel_size=2),
    dict(kernel_size=2, stride=2),
    dict(kernel_size=3, stride=2, padding=1),
    dict(kernel_size=(2, 3), stride=(1, 2), padding=(1, 1)),
    dict(kernel_size=2, stride=1, dilation=2),
    dict(kernel_size=3, stride=2, padding=1, ceil_mode=True),
    dict(kernel_size=2, ceil_mode=True),
]


@pytest.mark.parametrize("options", MAX_CASES)
def test_max_pool2d_value_and_gradient_routing(options):
    x = RNG.standard_normal((2, 3, 7, 6))
    x[0, 0, :2, :2] = 0.5  # a tied window: the first (row-major) maximum gets the gradient
    args = dict(options)
    expected, argmax = reference_pool(x, args.pop("kernel_size"), **args)
    t = cr.tensor(x, dtype=cr.float64, requires_grad=True)
    out = max_pool2d(t, **options)
    np.testing.assert_array_equal(out.data, expected)
    grad = RNG.standard_normal(out.shape)
    out.backward(cr.tensor(grad, dtype=cr.float64))
    routed = np.zeros((2, 3, 7 * 6))
    for n in range(2):
        for c in range(3):
            np.add.at(routed[n, c], argmax[n, c].ravel(), grad[n, c].ravel())
    np.testing.assert_allclose(t.grad.data, routed.reshape(x.shape), rtol=1e-12)


def test_max_pool_ties_follow_torch():
    torch = pytest.importorskip("torch")
    x = np.ones((1, 2, 4, 4), dtype=np.float32)
    x[0, 1] = np.array([[1, 2, 2, 0], [2, 2, 0, 2], [3, 3, 1, 1], [3, 3, 1, 1]], np.float32)
    ours, theirs = cr.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    for options in (dict(kernel_size=2), dict(kernel_size=3, stride=1, padding=1)):
        ours.grad = None
        theirs.grad = None
        max_pool2d(ours, **options).sum().backward()
        torch.nn.functional.max_pool2d(theirs, **options).sum().backward()
        np.testing.assert_array_equal(ours.grad.data, theirs.grad.numpy())


AVG_CASES = [
    dict(kernel_size=2),
    dict(kernel_size=3, stride=2, padding=1),
    dict(kernel_size=3, stride=2, padding=1, count_include_pad=False),
    dict(kernel_size=(2, 3), stride=(2, 1), padding=(1, 0)),
    dict(kernel_size=3, stride=2, padding=1, ceil_mode=True),
    dict(kernel_size=3, stride=2, padding=1, ceil_mode=True, count_include_pad=False),
]


@pytest.mark.parametrize("options", AVG_CASES)
def test_avg_pool2d_matches_loop_reference(options):
    x = RNG.standard_normal((2, 2, 7, 6))
    args = dict(options)
    expected, _ = reference_pool(x, args.pop("kernel_size"), kind="avg", **args)
    out = avg_pool2d(cr.tensor(x, dtype=cr.float64), **options)
    np.testing.assert_allclose(out.data, expected, rtol=1e-12)


def test_one_d_pools_match_two_d_with_height_one():
    x = RNG.standard_normal((2, 3, 11))
    t = cr.tensor(x, dtype=cr.float64)
    x4 = x[:, :, None]
    np.testing.assert_array_equal(max_pool1d(t, 3, 2, 1).data,
                                  reference_pool(x4, (1, 3), (1, 2), (0, 1))[0][:, :, 0])
    np.testing.assert_allclose(avg_pool1d(t, 4, 3, 2).data,
                               reference_pool(x4, (1, 4), (1, 3), (0, 2), kind="avg")[0][:, :, 0])


def test_float32_stays_float32_and_unbatched_inputs():
    x = cr.randn(3, 8, 8)
    for out in (max_pool2d(x, 2), avg_pool2d(x, 2)):
        assert out.dtype == np.float32 and out.ndim == 3
    np.testing.assert_array_equal(max_pool2d(x, 2).data, max_pool2d(x.unsqueeze(0), 2).data[0])


# ---------------------------------------------------------------------------- gradients
def test_max_pool_double_backward_routes_grad_of_grad():
    """d/d(grad_output) of <grad_input, v> is v gathered at each window's winner."""
    x = cr.tensor(RNG.standard_normal((1, 1, 4, 4)), dtype=cr.float64, requires_grad=True)
    grad_out = cr.tensor(RNG.standard_normal((1, 1, 2, 2)), dtype=cr.float64, requires_grad=True)
    (gx,) = cr.grad(max_pool2d(x, 2), x, grad_out, create_graph=True)
    v = RNG.standard_normal((1, 1, 4, 4))
    (ggo,) = cr.grad((gx * cr.tensor(v, dtype=cr.float64)).sum(), grad_out)
    _, argmax = reference_pool(x.data, 2)
    np.testing.assert_allclose(ggo.data, v.reshape(-1)[argmax], rtol=1e-12)


# ---------------------------------------------------------------------------- PyTorch
@pytest.mark.parametrize("options", MAX_CASES)
def test_max_pool2d_matches_torch(options):
    torch = pytest.importorskip("torch")
    x = RNG.standard_normal((2, 3, 9, 8)).astype(np.float32)
    ours, theirs = cr.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    out, expected = max_pool2d(ours, **options), torch.nn.functional.max_pool2d(theirs, **options)
    np.testing.assert_array_equal(out.data, expected.detach().numpy())
    grad = RNG.standard_normal(expected.shape).astype(np.float32)
    out.backward(cr.tensor(grad))
    expected.backward(torch.tensor(grad))
    np.testing.assert_allclose(ours.grad.data, theirs.grad.numpy(), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("options", AVG_CASES)
def test_avg_pool2d_matches_torch(options):
    torch = pytest.importorskip("torch")
    x = RNG.standard_normal((2, 3, 9, 8))
    ours, theirs = cr.tensor(x, dtype=cr.float64, requires_grad=True), torch.tensor(
        x, requires_grad=True)
    out, expected = avg_pool2d(ours, **options), torch.nn.functional.avg_pool2d(theirs, **options)
    np.testing.assert_allclose(out.data, expected.detach().numpy(), rtol=1e-12)
    grad = RNG.standard_normal(expected.shape)
    out.backward(cr.tensor(grad, dtype=cr.float64))
    expected.backward(torch.tensor(grad))
    np.testing.assert_allclose(ours.grad.data, theirs.grad.numpy(), rtol=1e-12)


def test_one_d_pools_match_torch():
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    x1 = RNG.standard_normal((2, 3, 13))
    t1 = cr.tensor(x1, dtype=cr.float64)
    np.testing.assert_array_equal(max_pool1d(t1, 3, 2, 1, 2).data,
                                  F.max_pool1d(torch.tensor(x1), 3, 2, 1, 2).numpy())
    np.testing.assert_allclose(avg_pool1d(t1, 4, 3, 2, ceil_mode=True).data,
                               F.avg_pool1d(torch.tensor(x1), 4, 3, 2, ceil_mode=True).numpy())


# ---------------------------------------------------------------------------- errors
def test_pool_errors():
    x = cr.randn(2, 3, 8, 8)
    with pytest.raises(ValueError, match=r"max_pool2d expects a 4-D input \(N, C, H, W\).*got "
                                         r"shape \(8, 8\)"):
        max_pool2d(cr.randn(8, 8), 2)
    with pytest.raises(ValueError, match=r"avg_pool1d expects a 3-D input \(N, C, L\)"):
        avg_pool1d(x, 2)
    with pytest.raises(ValueError, match=r"padding should be at most half"):
        max_pool2d(x, 2, padding=2)
    with pytest.raises(ValueError, match=r"too small for kernel_size=9"):
        avg_pool2d(x, 9)
    with pytest.raises(ValueError, match=r"kernel_size must be at least 1"):
        max_pool2d(x, 0)
    with pytest.raises(TypeError, match=r"kernel_size must be an int or a pair"):
        max_pool2d(x, (2, 2, 2))
    with pytest.raises(TypeError, match=r"floating-point input"):
        max_pool2d(cr.tensor(np.ones((1, 1, 4, 4), dtype=np.int64)), 2)


# ---------------------------------------------------------------------------- memory layout
@pytest.mark.parametrize("pool", [lambda t: max_pool2d(t, 2), lambda t: max_pool2d(t, 3, 2, 1),
                                  lambda t: avg_pool2d(t, 2), lambda t: avg_pool2d(t, 3, 1, 1)])
def test_channels_first_memory_layout_gives_the_same_values_and_gradients(pool):
    """Convolutions return (N, C, H, W) tensors stored as (C, N, H, W); pooling keeps that
    layout for speed, which must not change any value."""
    x = RNG.standard_normal((3, 4, 6, 6))
    plain = cr.tensor(x, dtype=cr.float64, requires_grad=True)
    stored = cr.tensor(np.ascontiguousarray(x.transpose(1, 0, 2, 3)), dtype=cr.float64,
                       requires_grad=True)
    channels_first = stored.permute(1, 0, 2, 3)
    assert channels_first.data.strides[0] < channels_first.data.strides[1]
    out_plain, out_stored = pool(plain), pool(channels_first)
    np.testing.assert_array_equal(out_plain.data, out_stored.data)
    grad = RNG.standard_normal(out_plain.shape)
    out_plain.backward(cr.tensor(grad, dtype=cr.float64))
    out_stored.backward(cr.tensor(grad, dtype=cr.float64))
    np.testing.assert_allclose(stored.grad.data.transpose(1, 0, 2, 3), plain.grad.data,
                               rtol=1e-12)


# ---------------------------------------------------------------------------- 2×2 pairs
@pytest.mark.parametrize("shape", [(3, 4, 6, 8), (2, 3, 7, 5), (1, 1, 2, 2), (4, 2, 5, 9)])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("stored_channels_first", [False, True])
def test_two_by_two_pairs_path_matches_the_general_windows(monkeypatch, shape, dtype,
                                                           stored_channels_first):
    """The 2×2 stride-2 max pool by column and row pairs gives the general path's values,
    gradients (ties included: coarse values make many) and double backward, bit for bit."""
    rng = np.random.default_rng(5)
    x = np.round(rng.standard_normal(shape) * 2) / 2  # many ties within windows
    grad, grad_of_grad = rng.standard_normal((2,) + shape)

    def run():
        leaf = cr.tensor(np.ascontiguousarray(x.transpose(1, 0, 2, 3)) if stored_channels_first
                         else x, dtype=dtype, requires_grad=True)
        t = leaf.permute(1, 0, 2, 3) if stored_channels_first else leaf
        out = max_pool2d(t, 2)
        g = cr.tensor(grad[..., :out.shape[2], :out.shape[3]], dtype=dtype, requires_grad=True)
        (gx,) = cr.grad((out * g).sum(), t, create_graph=True)
        (gg,) = cr.grad((gx * cr.tensor(grad_of_grad, dtype=dtype)).sum(), g)
        return out.data, gx.data, gg.data

    pairs = run()
    monkeypatch.setattr(pool_module, "pairs", lambda spec: False)
    general = run()
    for mine, expected in zip(pairs, general):
        assert mine.dtype == dtype
        np.testing.assert_array_equal(mine, expected)
