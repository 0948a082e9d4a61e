"""Convolutions (chainrule/ops/conv.py): conv1d and conv2d by the op specs (strides, padding,
dilation, groups, with and without bias) against a loop reference, more geometries against the
loop and PyTorch, third order, argument errors, the scratch-buffer reuse that must never
corrupt saved values, and the flat layout of stride-1 columns against the plain one."""

import warnings

import numpy as np
import pytest

import chainrule as cr
from chainrule.autograd.gradcheck import gradcheck, gradgradcheck
from chainrule.ops import _conv_arrays as conv_arrays, conv
from chainrule.ops.conv import conv1d, conv2d
from tests.ops.spec import OpSpec, SpecChecks

RNG = np.random.default_rng(1234)


def randn(*shape, dtype=np.float64, grad=False):
    return cr.tensor(RNG.standard_normal(shape), dtype=dtype, requires_grad=grad)


def as_pair(v):
    return (v, v) if isinstance(v, int) else tuple(v)


def reference_conv2d(x, w, b, stride=1, padding=0, dilation=1, groups=1):
    """Direct loops over output positions; padding is an int, a pair or (t, b, l, r)."""
    sh, sw = as_pair(stride)
    dh, dw = as_pair(dilation)
    if isinstance(padding, int):
        padding = (padding,) * 4
    elif len(padding) == 2:
        padding = (padding[0], padding[0], padding[1], padding[1])
    pt, pb, pl, pr = padding
    xp = np.pad(x, ((0, 0), (0, 0), (pt, pb), (pl, pr)))
    n, c, h, wd = xp.shape
    o, cg, kh, kw = w.shape
    ho, wo = (h - dh * (kh - 1) - 1) // sh + 1, (wd - dw * (kw - 1) - 1) // sw + 1
    per_group = o // groups
    out = np.zeros((n, o, ho, wo))
    for ni in range(n):
        for oi in range(o):
            g = oi // per_group
            for i in range(ho):
                for j in range(wo):
                    patch = xp[ni, g * cg:(g + 1) * cg,
                               i * sh:i * sh + dh * (kh - 1) + 1:dh,
                               j * sw:j * sw + dw * (kw - 1) + 1:dw]
                    out[ni, oi, i, j] = (patch * w[oi]).sum() + (0.0 if b is None else b[oi])
    return out


CASES_2D = [
    # (N, C, H, W, O, kernel, stride, padding, dilation, groups, bias)
    (2, 3, 5, 5, 4, 3, 1, 0, 1, 1, True),
    (1, 2, 7, 6, 3, 3, 2, 1, 1, 1, False),
    (2, 4, 6, 7, 6, (2, 3), (1, 2), (1, 0), (2, 1), 2, True),
    (1, 3, 5, 8, 6, 1, 1, 0, 1, 3, True),
    (2, 1, 9, 4, 2, (4, 1), (3, 1), (2, 0), 1, 1, True),
    (1, 2, 6, 6, 2, 3, 1, 2, 2, 2, True),
]


@pytest.mark.parametrize("case", CASES_2D)
def test_conv2d_matches_loop_reference(case):
    n, c, h, w, o, k, s, p, d, g, has_bias = case
    kh, kw = as_pair(k)
    x = RNG.standard_normal((n, c, h, w))
    weight = RNG.standard_normal((o, c // g, kh, kw))
    bias = RNG.standard_normal(o) if has_bias else None
    out = conv2d(cr.tensor(x, dtype=cr.float64), cr.tensor(weight, dtype=cr.float64),
                 None if bias is None else cr.tensor(bias, dtype=cr.float64), s, p, d, g)
    np.testing.assert_allclose(out.data, reference_conv2d(x, weight, bias, s, p, d, g),
                               rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("kernel,dilation", [(3, 1), (4, 1), (2, 3), ((2, 3), (1, 2))])
def test_padding_same_and_valid(kernel, dilation):
    x = RNG.standard_normal((1, 2, 6, 7))
    kh, kw = as_pair(kernel)
    dh, dw = as_pair(dilation)
    weight = RNG.standard_normal((3, 2, kh, kw))
    same = conv2d(cr.tensor(x, dtype=cr.float64), cr.tensor(weight, dtype=cr.float64),
                  padding="same", dilation=dilation)
    assert same.shape == (1, 3, 6, 7)
    # PyTorch's rule: total d·(k-1), the odd one extra at the bottom/right.
    th, tw = dh * (kh - 1), dw * (kw - 1)
    expected = reference_conv2d(x, weight, None, 1, (th // 2, th - th // 2, tw // 2, tw - tw // 2),
                                dilation)
    np.testing.assert_allclose(same.data, expected, rtol=1e-10, atol=1e-12)
    valid = conv2d(cr.tensor(x, dtype=cr.float64), cr.tensor(weight, dtype=cr.float64),
                   padding="valid", dilation=dilation)
    np.testing.assert_allclose(valid.data, reference_conv2d(x, weight, None, 1, 0, dilation),
                               rtol=1e-10, atol=1e-12)


def test_conv1d_matches_loop_reference():
    x = RNG.standard_normal((2, 4, 11))
    weight = RNG.standard_normal((6, 2, 3))
    bias = RNG.standard_normal(6)
    out = conv1d(cr.tensor(x, dtype=cr.float64), cr.tensor(weight, dtype=cr.float64),
                 cr.tensor(bias, dtype=cr.float64), stride=2, padding=2, dilation=2, groups=2)
    expected = reference_conv2d(x[:, :, None], weight[:, :, None], bias, (1, 2), (0, 2), (1, 2),
                                2)[:, :, 0]
    assert out.shape == expected.shape
    np.testing.assert_allclose(out.data, expected, rtol=1e-10, atol=1e-12)


def test_unbatched_input_and_float32_kept():
    x = randn(3, 6, 6, dtype=np.float32)
    weight = randn(4, 3, 3, 3, dtype=np.float32)
    bias = randn(4, dtype=np.float32)
    out = conv2d(x, weight, bias, padding=1)
    assert out.shape == (4, 6, 6) and out.dtype == np.float32
    batched = conv2d(x.unsqueeze(0), weight, bias, padding=1)
    np.testing.assert_allclose(out.data, batched.data[0], rtol=1e-6)
    assert conv1d(randn(3, 9, dtype=np.float32), randn(2, 3, 4, dtype=np.float32)).shape == (2, 6)


# ---------------------------------------------------------------------------- the specs
# The backward is ConvolutionInputGrad, ConvolutionWeightGrad and ChannelSum (the bias); their
# own backwards are convolutions again, so the double backward covers all four.
CONV_COVERS = ("Convolution", "ConvolutionInputGrad", "ConvolutionWeightGrad", "ChannelSum")


def _conv2d_spec(name, x_shape, weight_shape, bias=True, **options):
    def op(x, weight, bias=None):
        return conv2d(x, weight, bias, **options)

    def reference(x, weight, bias=None):
        padding = options.get("padding", 0)
        if padding == "valid":
            padding = 0
        elif padding == "same":  # PyTorch's rule: the odd one of d·(k-1) at the bottom/right
            (dh, dw), (kh, kw) = as_pair(options.get("dilation", 1)), weight.shape[2:]
            th, tw = dh * (kh - 1), dw * (kw - 1)
            padding = (th // 2, th - th // 2, tw // 2, tw - tw // 2)
        return reference_conv2d(x, weight, bias, options.get("stride", 1), padding,
                                options.get("dilation", 1), options.get("groups", 1))

    def torch_op(torch, x, weight, bias=None):
        with warnings.catch_warnings():  # PyTorch warns that 'same' may copy the input
            warnings.simplefilter("ignore", UserWarning)
            return torch.nn.functional.conv2d(x, weight, bias, **options)

    shapes = [x_shape, weight_shape] + ([(weight_shape[0],)] if bias else [])
    empty = [(0,) + x_shape[1:]] + shapes[1:]
    return OpSpec(name, op, reference, [tuple(shapes), tuple(empty)],
                  covers=CONV_COVERS if bias else CONV_COVERS[:3], torch=torch_op)


def _conv1d_spec(name, x_shape, weight_shape, padding, bias=True, **options):
    def op(x, weight, bias=None):
        return conv1d(x, weight, bias, padding=padding, **options)

    def reference(x, weight, bias=None):
        stride, dilation = options.get("stride", 1), options.get("dilation", 1)
        total = {"valid": 0, "same": dilation * (weight.shape[-1] - 1)}[padding]
        out = reference_conv2d(x[:, :, None], weight[:, :, None], bias, (1, stride),
                               (0, 0, total // 2, total - total // 2), (1, dilation))
        return out[:, :, 0]

    def torch_op(torch, x, weight, bias=None):
        return torch.nn.functional.conv1d(x, weight, bias, padding=padding, **options)

    shapes = [x_shape, weight_shape] + ([(weight_shape[0],)] if bias else [])
    empty = [(0,) + x_shape[1:]] + shapes[1:]
    return OpSpec(name, op, reference, [tuple(shapes), tuple(empty)],
                  covers=CONV_COVERS if bias else CONV_COVERS[:3], torch=torch_op)


SPECS = [
    _conv2d_spec("conv2d", (1, 2, 5, 4), (2, 2, 3, 2), stride=1, padding=1),
    _conv2d_spec("conv2d_strided_dilated_groups", (1, 2, 5, 4), (2, 1, 3, 2), stride=(2, 1),
                 padding=(1, 2), dilation=(1, 2), groups=2),
    _conv2d_spec("conv2d_valid_stride2", (2, 2, 5, 4), (3, 2, 3, 2), stride=2, padding="valid"),
    _conv2d_spec("conv2d_no_bias", (1, 2, 4, 4), (2, 2, 2, 2), bias=False, padding=1),
    # Stride 1 with more than FEW_ROWS column rows: the flat layout.
    _conv2d_spec("conv2d_flat", (2, 4, 5, 6), (3, 4, 3, 3), padding=1),
    _conv2d_spec("conv2d_flat_same", (1, 6, 5, 5), (2, 6, 2, 3), padding="same"),
    # Small strided outputs of many column rows: the plain layout with the batch last.
    _conv2d_spec("conv2d_batch_last", (6, 4, 5, 5), (3, 4, 3, 3), stride=2, padding=1),
    _conv1d_spec("conv1d_batch_last", (12, 12, 9), (5, 12, 3), "valid", stride=2),
    _conv1d_spec("conv1d", (2, 2, 7), (3, 2, 3), "valid", stride=2, dilation=2),
    _conv1d_spec("conv1d_same_no_bias", (2, 2, 7), (3, 2, 3), "same", bias=False),
]


class TestSpecs(SpecChecks):
    specs = SPECS


def test_third_order_through_conv_is_consistent():
    """d/dw of the Hessian-vector product of a cubic in conv output matches finite differences."""
    x, w = randn(1, 1, 4, 4, grad=True), randn(1, 1, 2, 2, grad=True)

    def hvp_norm(x, w):
        y = conv2d(x, w)
        (gx,) = cr.grad((y ** 3).sum(), x, create_graph=True)
        return (gx * gx).sum()

    assert gradcheck(hvp_norm, (x, w))


def test_first_layer_skips_input_gradient():
    x = randn(2, 1, 5, 5)  # no grad, like a batch of images
    w, b = randn(3, 1, 3, 3, grad=True), randn(3, grad=True)
    out = conv2d(x, w, b, padding=1)
    assert out.grad_fn.next[0] is None
    g = RNG.standard_normal(out.shape)
    out.backward(cr.tensor(g, dtype=cr.float64))
    # grad w[o, c, i, j] = Σ g[n, o, h, w] · x_pad[n, c, h + i, w + j]
    xp = np.pad(x.data, ((0, 0), (0, 0), (1, 1), (1, 1)))
    expected = np.zeros(w.shape)
    for i in range(3):
        for j in range(3):
            expected[:, :, i, j] = np.einsum("nohw,nchw->oc", g, xp[:, :, i:i + 5, j:j + 5])
    np.testing.assert_allclose(w.grad.data, expected, rtol=1e-10)
    np.testing.assert_allclose(b.grad.data, g.sum(axis=(0, 2, 3)), rtol=1e-10)
    assert x.grad is None


def test_saved_columns_are_not_overwritten_by_later_calls():
    """Two graphs alive at once and an unrecorded result kept: scratch buffers must not alias."""
    w = randn(2, 1, 3, 3, dtype=np.float32, grad=True)
    x1, x2 = randn(4, 1, 6, 6, dtype=np.float32), randn(4, 1, 6, 6, dtype=np.float32)
    y1 = conv2d(x1, w, padding=1)
    y2 = conv2d(x2, w, padding=1)
    with cr.no_grad():
        kept = conv2d(x1, w, padding=1)
        kept_copy = kept.data.copy()
        conv2d(x2, w, padding=1)
    (gw2,) = cr.grad(y2.sum(), w)
    (gw1,) = cr.grad(y1.sum(), w)
    for x, gw in ((x1, gw1), (x2, gw2)):
        xp = np.pad(x.data, ((0, 0), (0, 0), (1, 1), (1, 1)))
        expected = np.array([[[[xp[:, 0, i:i + 6, j:j + 6].sum() for j in range(3)]
                               for i in range(3)]]] * 2)
        np.testing.assert_allclose(gw.data, expected, rtol=1e-4)
    np.testing.assert_array_equal(kept.data, kept_copy)


def test_input_gradient_is_not_overwritten_by_a_later_backward():
    w = randn(2, 2, 3, 3, grad=True)
    xa, xb = randn(1, 2, 5, 5, grad=True), randn(1, 2, 5, 5, grad=True)
    conv2d(xa, w, padding=1).sum().backward()
    kept = xa.grad.data.copy()
    (conv2d(xb, w, padding=1) * 3.0).sum().backward()
    np.testing.assert_array_equal(xa.grad.data, kept)


# ---------------------------------------------------------------------------- errors
def test_errors_name_what_is_wrong():
    x, w = randn(2, 3, 8, 8), randn(4, 3, 3, 3)
    with pytest.raises(ValueError, match=r"conv2d expects a 4-D input \(N, C, H, W\).*got shape "
                                         r"\(8, 8\)"):
        conv2d(randn(8, 8), w)
    with pytest.raises(ValueError, match=r"conv1d expects a 3-D input \(N, C, L\)"):
        conv1d(x, randn(4, 3, 3))
    with pytest.raises(ValueError, match=r"input has 2 channels but the weight expects "
                                         r"weight.shape\[1\] \* groups = 3 \* 1 = 3"):
        conv2d(randn(2, 2, 8, 8), w)
    with pytest.raises(ValueError, match=r"groups=2 must divide both the input channels \(3\)"):
        conv2d(x, randn(4, 1, 3, 3), groups=2)
    with pytest.raises(ValueError, match=r"kernel \(size 9x9 with dilation\) is larger than the "
                                         r"padded input \(8x8\)"):
        conv2d(x, w, dilation=4)
    with pytest.raises(ValueError, match=r"kernel \(size 3x3.*padded input \(2x2\)"):
        conv2d(randn(1, 3, 2, 2), w)
    with pytest.raises(ValueError, match=r"expects a 4-D weight"):
        conv2d(x, randn(4, 3, 3))
    with pytest.raises(ValueError, match=r"bias must have shape \(4,\)"):
        conv2d(x, w, randn(3))
    with pytest.raises(ValueError, match=r"padding='same' is not supported for strided"):
        conv2d(x, w, padding="same", stride=2)
    with pytest.raises(ValueError, match=r"stride must be at least 1"):
        conv2d(x, w, stride=0)
    with pytest.raises(TypeError, match=r"input dtype float32 and weight dtype float64 differ"):
        conv2d(x.float(), w)


# ---------------------------------------------------------------------------- PyTorch
TORCH_CASES = CASES_2D + [(3, 6, 11, 9, 9, 3, 2, 1, 1, 3, True), (2, 5, 10, 10, 8, 5, 2, 2, 1, 1,
                                                                    True)]


@pytest.mark.parametrize("case", TORCH_CASES)
def test_conv2d_forward_and_backward_match_torch(case):
    torch = pytest.importorskip("torch")
    n, c, h, w, o, k, s, p, d, g, has_bias = case
    kh, kw = as_pair(k)
    arrays = [RNG.standard_normal(shape) for shape in ((n, c, h, w), (o, c // g, kh, kw), (o,))]
    ours = [cr.tensor(a, dtype=cr.float64, requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    out = conv2d(ours[0], ours[1], ours[2] if has_bias else None, s, p, d, g)
    expected = torch.nn.functional.conv2d(theirs[0], theirs[1], theirs[2] if has_bias else None,
                                          s, p, d, g)
    np.testing.assert_allclose(out.data, expected.detach().numpy(), rtol=1e-10, atol=1e-12)
    grad = RNG.standard_normal(expected.shape)
    out.backward(cr.tensor(grad, dtype=cr.float64))
    expected.backward(torch.tensor(grad))
    for mine, reference in zip(ours[:2 + has_bias], theirs):
        np.testing.assert_allclose(mine.grad.data, reference.grad.numpy(), rtol=1e-9, atol=1e-11)


@pytest.mark.parametrize("padding", ["same", "valid", 2])
def test_conv1d_matches_torch(padding):
    torch = pytest.importorskip("torch")
    x, w, b = (RNG.standard_normal(s).astype(np.float32) for s in ((3, 4, 12), (6, 2, 4), (6,)))
    out = conv1d(cr.tensor(x), cr.tensor(w), cr.tensor(b), padding=padding, dilation=2, groups=2)
    expected = torch.nn.functional.conv1d(torch.tensor(x), torch.tensor(w), torch.tensor(b),
                                          padding=padding, dilation=2, groups=2)
    np.testing.assert_allclose(out.data, expected.numpy(), rtol=1e-5, atol=1e-5)


def test_double_backward_matches_torch():
    torch = pytest.importorskip("torch")
    arrays = [RNG.standard_normal(s) for s in ((2, 2, 5, 5), (3, 2, 3, 3))]
    ours = [cr.tensor(a, dtype=cr.float64, requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    (gx,) = cr.grad((conv2d(*ours, stride=2, padding=1) ** 2).sum(), ours[0], create_graph=True)
    (tgx,) = torch.autograd.grad((torch.nn.functional.conv2d(*theirs, stride=2, padding=1) ** 2)
                                 .sum(), theirs[0], create_graph=True)
    (gx.sum() * 1.0).backward()
    tgx.sum().backward()
    for mine, reference in zip(ours, theirs):
        np.testing.assert_allclose(mine.grad.data, reference.grad.numpy(), rtol=1e-9, atol=1e-10)


def test_empty_batch_gives_empty_output_and_zero_parameter_gradients():
    for groups in (1, 2):
        w, b = randn(4, 4 // groups, 3, 3, grad=True), randn(4, grad=True)
        x = cr.tensor(np.zeros((0, 4, 6, 6)), dtype=cr.float64, requires_grad=groups == 2)
        out = conv2d(x, w, b, padding=1, groups=groups)
        assert out.shape == (0, 4, 6, 6)
        out.sum().backward()
        np.testing.assert_array_equal(w.grad.data, np.zeros(w.shape))
        np.testing.assert_array_equal(b.grad.data, np.zeros(4))


# ---------------------------------------------------------------------------- the flat layout
# Stride-1 convolutions with many column rows use the flat layout (chainrule/ops/_conv_arrays.py);
# every geometry it accepts must give what the plain layout gives, to every order.
FLAT_CASES = [
    # (N, C, H, W, O, kernel, padding, dilation, groups)
    (3, 5, 7, 6, 4, 3, 1, 1, 1),
    (1, 4, 5, 9, 3, 3, 0, 1, 1),
    (2, 3, 6, 5, 2, 3, 2, 1, 1),
    (2, 1, 8, 7, 3, 3, 1, 1, 1),
    (1, 4, 6, 6, 4, 4, "same", 1, 2),
    (2, 3, 7, 5, 2, (2, 3), "same", (2, 1), 1),
    (2, 2, 5, 5, 3, 1, 2, 1, 1),
    (1, 6, 9, 8, 2, 3, (0, 2), 2, 1),
]


def _layout(monkeypatch, flat: bool, batch_last: bool | None = None):
    """Force the layout the plans choose (batch_last None: leave that choice to the shapes)."""
    monkeypatch.setattr(conv_arrays, "use_flat", lambda *args: flat)
    if batch_last is not None:
        monkeypatch.setattr(conv_arrays, "use_batch_last", lambda *args: batch_last)
    # no plan kept from elsewhere
    monkeypatch.setattr(conv, "_plan", getattr(conv._plan, "__wrapped__", conv._plan))


def _assert_layouts_agree(mine: list, plain: list, dtype, rtol: float) -> None:
    for got, expected in zip(mine, plain):
        assert got.dtype == dtype and got.shape == expected.shape
        np.testing.assert_allclose(got, expected, rtol=0, atol=rtol * np.abs(expected).max())


def _forward_and_gradients(case, dtype, noncontiguous=False, stride=1):
    """Output, input/weight/bias gradients and a second-order gradient, as arrays."""
    n, c, h, w, o, k, p, d, g = case
    kh, kw = as_pair(k)
    rng = np.random.default_rng(7)
    arrays = [rng.standard_normal((n, c, h, 2 * w)), rng.standard_normal((o, c // g, kh, kw)),
              rng.standard_normal(o)]
    wide, weight, bias = (cr.tensor(a, dtype=dtype, requires_grad=True) for a in arrays)
    # Every other column of a wide input is a strided view; the contiguous case copies it.
    x = wide[..., ::2] if noncontiguous else cr.tensor(arrays[0][..., ::2], dtype=dtype,
                                                       requires_grad=True)
    assert x.data.flags.c_contiguous != noncontiguous
    out = conv2d(x, weight, bias, stride=stride, padding=p, dilation=d, groups=g)
    grad = cr.tensor(rng.standard_normal(out.shape), dtype=dtype)
    gx, gw, gb = cr.grad((out * grad).sum(), (x, weight, bias), create_graph=True)
    (second,) = cr.grad((gx * gx).sum() + (gw * gw).sum(), weight)
    return [out.data, gx.data, gw.data, gb.data, second.data]


@pytest.mark.parametrize("case", FLAT_CASES)
@pytest.mark.parametrize("dtype,rtol", [(np.float64, 1e-12), (np.float32, 2e-5)])
def test_flat_layout_matches_the_plain_one(monkeypatch, case, dtype, rtol):
    for noncontiguous in (False, True):
        _layout(monkeypatch, False)
        plain = _forward_and_gradients(case, dtype, noncontiguous)
        _layout(monkeypatch, True)
        _assert_layouts_agree(_forward_and_gradients(case, dtype, noncontiguous), plain, dtype,
                              rtol)


@pytest.mark.parametrize("case", FLAT_CASES[:3] + FLAT_CASES[4:6])
def test_gradients_of_any_order_through_the_flat_layout(monkeypatch, case):
    _layout(monkeypatch, True)
    n, c, h, w, o, k, p, d, g = case
    kh, kw = as_pair(k)
    x, weight, bias = randn(n, c, h, w, grad=True), randn(o, c // g, kh, kw, grad=True), \
        randn(o, grad=True)

    def op(x, weight, bias):
        return conv2d(x, weight, bias, padding=p, dilation=d, groups=g)

    assert gradcheck(op, (x, weight, bias))
    assert gradgradcheck(op, (x, weight, bias))


def test_flat_layout_serves_stride_one_layers_with_many_rows():
    def plan(x_shape, w_shape, stride=1, padding=1):
        geometry = conv._geometry("conv2d", cr.zeros(*x_shape), cr.zeros(*w_shape), None, stride,
                                  padding, 1, 1, 2)
        return conv._plan(x_shape, w_shape, geometry)

    assert plan((64, 32, 14, 14), (64, 32, 3, 3)).flat  # 288 rows, 225 grid positions per 196
    assert not plan((64, 1, 28, 28), (32, 1, 3, 3)).flat  # 9 rows: per-sample weight gradient
    assert not plan((64, 32, 14, 14), (64, 32, 3, 3), stride=2).flat
    assert not plan((8, 32, 3, 3), (8, 32, 3, 3)).flat  # a 4x4 grid for 3x3 outputs


def test_flat_buffers_keep_their_zero_border_between_shapes(monkeypatch):
    """Inputs of different heights can share a grid; the rows one writes are the other's gaps."""
    _layout(monkeypatch, True)
    weight = randn(2, 4, 3, 3)
    for h, p in ((5, 1), (4, 2), (5, 1), (4, 2)):
        x = randn(2, 4, h, 5)
        out = conv2d(x, weight, padding=p)
        np.testing.assert_allclose(out.data, reference_conv2d(x.data, weight.data, None, 1, p),
                                   rtol=1e-10, atol=1e-12)


def test_plans_are_kept_per_shape_and_geometry():
    conv._plan.cache_clear()
    x, w = cr.randn(2, 3, 6, 6), cr.randn(4, 3, 3, 3)
    for _ in range(3):
        conv2d(x, w, padding=1)
    conv2d(x, w, padding=2)
    info = conv._plan.cache_info()
    assert info.misses == 2 and info.hits == 2



# ---------------------------------------------------------------------------- the batch last
BATCH_LAST_CASES = [
    # (stride, (N, C, H, W, O, kernel, padding, dilation, groups))
    ((1, 2), (12, 12, 1, 9, 5, (1, 3), (0, 1), 1, 1)),  # the MNIST-1D CNN's strided layers
    (2, (6, 4, 5, 5, 3, 3, 1, 1, 1)),
    ((1, 2), (9, 6, 4, 7, 4, (2, 3), (1, 0), (1, 2), 2)),
    (1, (7, 8, 3, 3, 2, 3, 1, 1, 1)),
    ((1, 2), (40, 1, 1, 19, 5, (1, 5), (0, 1), 1, 1)),  # a first layer: one weight product
]


@pytest.mark.parametrize("stride, case", BATCH_LAST_CASES)
@pytest.mark.parametrize("dtype,rtol", [(np.float64, 1e-12), (np.float32, 2e-5)])
def test_batch_last_matches_the_plain_layout(monkeypatch, stride, case, dtype, rtol):
    for noncontiguous in (False, True):
        _layout(monkeypatch, False, batch_last=False)
        plain = _forward_and_gradients(case, dtype, noncontiguous, stride)
        _layout(monkeypatch, False, batch_last=True)
        _assert_layouts_agree(_forward_and_gradients(case, dtype, noncontiguous, stride), plain,
                              dtype, rtol)


@pytest.mark.parametrize("stride, case", BATCH_LAST_CASES[:3])
def test_gradients_of_any_order_with_the_batch_last(monkeypatch, stride, case):
    _layout(monkeypatch, False, batch_last=True)
    n, c, h, w, o, k, p, d, g = case
    kh, kw = as_pair(k)
    x, weight, bias = randn(n, c, h, w, grad=True), randn(o, c // g, kh, kw, grad=True), \
        randn(o, grad=True)

    def op(x, weight, bias):
        return conv2d(x, weight, bias, stride=stride, padding=p, dilation=d, groups=g)

    assert gradcheck(op, (x, weight, bias))
    assert gradgradcheck(op, (x, weight, bias))


def test_the_batch_last_serves_small_outputs_of_many_rows_and_chains_without_copies():
    def plan(x_shape, w_shape, stride, padding):
        geometry = conv._geometry("conv2d", cr.zeros(*x_shape), cr.zeros(*w_shape), None, stride,
                                  padding, 1, 1, 2)
        return conv._plan(x_shape, w_shape, geometry)

    assert plan((100, 25, 1, 19), (25, 25, 1, 3), (1, 2), (0, 1)).batch_last  # MNIST-1D CNN
    first = plan((100, 1, 1, 40), (25, 1, 1, 5), (1, 2), (0, 1))  # its first layer too,
    assert first.batch_last and not conv_arrays.per_sample(first, 1)  # one weight product
    assert not plan((64, 1, 28, 28), (32, 1, 3, 3), 1, 1).batch_last  # 784 outputs
    assert not plan((64, 32, 14, 14), (64, 32, 3, 3), 1, 1).batch_last  # flat
    assert not plan((64, 32, 28, 28), (64, 32, 3, 3), 2, 1).batch_last  # 196 outputs
    assert not plan((4, 32, 7, 7), (8, 32, 3, 3), 2, 1).batch_last  # batch shorter than a row
    # The output is stored batch last, and the next such layer reads it as it is.
    x, w1, w2 = cr.randn(100, 25, 19), cr.randn(25, 25, 3), cr.randn(25, 25, 3)
    first = conv1d(x, w1, stride=2, padding=1).relu()
    assert first.data.transpose(1, 2, 0).flags.c_contiguous
    second = conv1d(first, w2, stride=2, padding=1)
    again = conv1d(cr.tensor(np.ascontiguousarray(first.data)), w2, stride=2, padding=1)
    np.testing.assert_array_equal(second.data, again.data)
