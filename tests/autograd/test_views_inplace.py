"""Views, version counters and in-place ops: never a silently wrong gradient.

Each in-place program is compared with the same program written out of place (the reference),
and checked by finite differences (gradcheck, gradgradcheck) in float64.
"""

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import chainrule as cr
from chainrule.autograd import Function, gradcheck, gradgradcheck


def _x():
    return cr.tensor(np.arange(1.0, 7.0).reshape(2, 3), dtype=cr.float64, requires_grad=True)


# ------------------------------------------------------------------ shared version counters
ALIASES = {  # name: (the alias in chainrule, the same view in NumPy)
    "slice": (lambda w: w[0:2], lambda a: a[0:2]),
    "int index": (lambda w: w[1], lambda a: a[1]),
    "view": (lambda w: w.view(3, 2), lambda a: a.reshape(3, 2)),
    "reshape": (lambda w: w.reshape(-1), lambda a: a.reshape(-1)),
    "transpose": (lambda w: w.transpose(0, 1), lambda a: a.T),
    "T": (lambda w: w.T, lambda a: a.T),
    "permute": (lambda w: w.permute(1, 0), lambda a: a.T),
    "squeeze": (lambda w: w.unsqueeze(0).squeeze(0), lambda a: a),
    "unsqueeze": (lambda w: w.unsqueeze(1), lambda a: a[:, None]),
    "flatten": (lambda w: w.flatten(), lambda a: a.reshape(-1)),
    "detach": (lambda w: w.detach(), lambda a: a),
    "chunk": (lambda w: w.chunk(2, dim=1)[0], lambda a: a[:, :2]),
    "int element": (lambda w: w[1, 2], lambda a: a[1, 2, ...]),
}


@pytest.mark.parametrize("alias", list(ALIASES))
def test_in_place_through_an_alias_of_a_saved_tensor_raises(alias):
    x = _x()
    w = cr.tensor(np.arange(2.0, 8.0).reshape(2, 3), dtype=cr.float64)
    y = (x * w).sum()          # Mul saves w for x's gradient
    ALIASES[alias][0](w).mul_(10)
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        y.backward()


@pytest.mark.parametrize("alias", list(ALIASES))
def test_alias_shares_the_version_counter_both_ways(alias):
    make, numpy_view = ALIASES[alias]
    w = cr.zeros(2, 3)
    view = make(w)
    w.add_(1)
    assert view._version == w._version == 1
    view.mul_(3)
    assert w._version == 2
    expected = np.ones((2, 3), np.float32)
    numpy_view(expected)[...] *= 3
    np.testing.assert_array_equal(w.numpy(), expected)


def test_in_place_under_no_grad_through_a_view_is_detected():
    x = _x()
    y = (x * x).sum()
    with cr.no_grad():
        x[0].mul_(2)
    with pytest.raises(RuntimeError, match="input 0 of Mul|input 1 of Mul"):
        y.backward()


def test_copies_do_not_share_the_counter():
    w = cr.tensor(np.arange(6.0).reshape(2, 3))
    x = _x()
    y = (x * w[[0, 1]]).sum()   # advanced indexing copies
    w.mul_(10)
    y.backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.arange(6.0).reshape(2, 3))


# ------------------------------------------------------------------ in place through views
def _mask_set(h):
    h[h > 2.5] = 0.0
    return h


PROGRAMS = {
    # name: (in place, out of place)
    "slice mul_": (lambda x: _do(x * 1, lambda h: h[0:1].mul_(10)),
                   lambda x: cr.cat([x[0:1] * 10, x[1:]], 0)),
    "chained setitem": (lambda x: _do(x * 1, lambda h: h[0].__setitem__(1, 7.0)),
                        lambda x: x * cr.tensor([[1, 0, 1], [1, 1, 1.0]], dtype=cr.float64)
                        + cr.tensor([[0, 7, 0], [0, 0, 0.0]], dtype=cr.float64)),
    "T add_": (lambda x: _do(x * 1, lambda h: h.T.add_(1)), lambda x: x + 1),
    "mask setitem": (lambda x: _mask_set(x * 1), lambda x: cr.where(x.data > 2.5, 0.0, x)),
    "view then base in place": (lambda x: _do(x * 1, lambda h: h.mul_(2), before=lambda h: h[1]),
                                lambda x: x[1] * 2),
    "sibling view after write": (
        lambda x: _do(x * 1, lambda h: h[:, 1:].mul_(x[:, :2]), before=lambda h: h[0],
                      after=lambda h, early: early + h[1]),
        lambda x: (lambda h: h[0] + h[1])(cr.cat([x[:, :1], x[:, 1:] * x[:, :2]], 1))),
    "reshape slice": (lambda x: _do(x * 1, lambda h: h.reshape(6)[2:4].mul_(5)),
                      lambda x: (x.reshape(6) * cr.tensor([1, 1, 5, 5, 1, 1.0],
                                                          dtype=cr.float64)).reshape(2, 3)),
    "view of a view": (lambda x: _do(x * 1, lambda h: h[1][1:].add_(x[0, :2] ** 2)),
                       lambda x: cr.stack([x[0], cr.cat([x[1, :1], x[1, 1:] + x[0, :2] ** 2])])),
    "into a buffer": (lambda x: _buffer(x),
                      lambda x: cr.stack([x[1], cr.cat([x[0, 1:], cr.zeros(1, dtype=cr.float64)])])),
    "copy_ into a row": (lambda x: _do(x * 1, lambda h: h[0].copy_(x[1] * 2)),
                         lambda x: cr.stack([x[1] * 2, x[1]])),
    "zero_ a column": (lambda x: _do(x * 1, lambda h: h[:, 0].zero_(), after=lambda h, _: h * x),
                       lambda x: x * x * cr.tensor([0, 1, 1.0], dtype=cr.float64)),
    "exp then in place on a copy": (lambda x: _do(x.exp() * 1, lambda h: h[0].mul_(x[1])),
                                    lambda x: cr.stack([x.exp()[0] * x[1], x.exp()[1]])),
    "fill_ with a tensor": (lambda x: _do(x * 1, lambda h: h[1].fill_(x[0, 0])),
                            lambda x: cr.stack([x[0], x[0, 0].expand(3)])),
    "in place twice on the base": (lambda x: _do(x * 1, lambda h: (h.mul_(x), h.add_(x))),
                                   lambda x: x * x + x),
    "clamp_ a slice": (lambda x: _do(x * 2, lambda h: h[:, 1:].clamp_(min=5.0)),
                       lambda x: cr.cat([x[:, :1] * 2, (x[:, 1:] * 2).clamp(min=5.0)], 1)),
}


def _do(h, change, before=None, after=None):
    """Change ``h`` in place; ``before(h)`` is taken first (a view, read afterwards), and the
    result is ``after(h, early)``, the early view, or ``h``."""
    early = before(h) if before is not None else None
    change(h)
    if after is not None:
        return after(h, early)
    return h if early is None else early


def _buffer(x):
    buffer = cr.zeros(2, 3, dtype=cr.float64)
    buffer[0] = x[1]
    buffer[1, 0:2] = x[0, 1:]
    return buffer


@pytest.mark.parametrize("name", list(PROGRAMS))
def test_in_place_program_equals_its_out_of_place_version(name):
    in_place, reference = PROGRAMS[name]
    results = []
    for program in (in_place, reference):
        x = _x()
        out = program(x)
        (out * out).sum().backward()
        results.append((out.detach().numpy().copy(), x.grad.numpy()))
    np.testing.assert_allclose(results[0][0], results[1][0], rtol=1e-12)
    np.testing.assert_allclose(results[0][1], results[1][1], rtol=1e-12)


@pytest.mark.parametrize("name", list(PROGRAMS))
def test_in_place_program_passes_gradcheck_and_gradgradcheck(name):
    in_place, _ = PROGRAMS[name]
    x = cr.tensor(np.random.default_rng(0).uniform(0.5, 2.0, (2, 3)), dtype=cr.float64,
                  requires_grad=True)
    assert gradcheck(in_place, x)
    assert gradgradcheck(in_place, x)


@pytest.mark.parametrize("name", list(PROGRAMS))
def test_in_place_program_matches_pytorch(name):
    torch = pytest.importorskip("torch")
    in_place, _ = PROGRAMS[name]
    start = np.arange(1.0, 7.0).reshape(2, 3)
    source = TORCH_PROGRAMS[name]
    xt = torch.tensor(start, requires_grad=True)
    out_t = source(xt, torch)
    (out_t * out_t).sum().backward()
    x = _x()
    out = in_place(x)
    (out * out).sum().backward()
    np.testing.assert_allclose(out.detach().numpy(), out_t.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(x.grad.numpy(), xt.grad.numpy(), rtol=1e-12)


def _torch_buffer(x, torch):
    buffer = torch.zeros(2, 3, dtype=torch.float64)
    buffer[0] = x[1]
    buffer[1, 0:2] = x[0, 1:]
    return buffer


TORCH_PROGRAMS = {
    "slice mul_": lambda x, t: _do(x * 1, lambda h: h[0:1].mul_(10)),
    "chained setitem": lambda x, t: _do(x * 1, lambda h: h[0].__setitem__(1, 7.0)),
    "T add_": lambda x, t: _do(x * 1, lambda h: h.T.add_(1)),
    "mask setitem": lambda x, t: _mask_set(x * 1),
    "view then base in place": lambda x, t: _do(x * 1, lambda h: h.mul_(2), before=lambda h: h[1]),
    "sibling view after write": lambda x, t: _do(x * 1, lambda h: h[:, 1:].mul_(x[:, :2]),
                                                 before=lambda h: h[0],
                                                 after=lambda h, early: early + h[1]),
    "reshape slice": lambda x, t: _do(x * 1, lambda h: h.reshape(6)[2:4].mul_(5)),
    "view of a view": lambda x, t: _do(x * 1, lambda h: h[1][1:].add_(x[0, :2] ** 2)),
    "into a buffer": _torch_buffer,
    "copy_ into a row": lambda x, t: _do(x * 1, lambda h: h[0].copy_(x[1] * 2)),
    "zero_ a column": lambda x, t: _do(x * 1, lambda h: h[:, 0].zero_(), after=lambda h, _: h * x),
    "exp then in place on a copy": lambda x, t: _do(x.exp() * 1, lambda h: h[0].mul_(x[1])),
    "fill_ with a tensor": lambda x, t: _do(x * 1, lambda h: h[1].fill_(x[0, 0])),
    "in place twice on the base": lambda x, t: _do(x * 1, lambda h: (h.mul_(x), h.add_(x))),
    "clamp_ a slice": lambda x, t: _do(x * 2, lambda h: h[:, 1:].clamp_(min=5.0)),
}


def test_in_place_on_an_output_that_backward_needs_raises():
    x = _x()
    h = x.exp()               # Exp saves its output
    h[0].mul_(2)
    with pytest.raises(RuntimeError, match="output of Exp"):
        h.sum().backward()


def test_in_place_on_a_view_of_a_leaf_that_requires_grad_raises():
    x = _x()
    with pytest.raises(RuntimeError, match="view of a leaf tensor that requires grad"):
        x[0].mul_(2)
    np.testing.assert_array_equal(x.numpy() if not x.requires_grad else x.data,
                                  np.arange(1.0, 7.0).reshape(2, 3))


def test_view_written_under_no_grad_updates_the_base():
    x = _x()
    with cr.no_grad():
        x[0].mul_(2)
        x.T[2].add_(1)
    expected = np.arange(1.0, 7.0).reshape(2, 3)
    expected[0] *= 2
    expected[:, 2] += 1
    np.testing.assert_array_equal(x.data, expected)


def test_retain_grad_follows_the_tensor_through_an_in_place_op():
    x = _x()
    h = x * 2
    h.retain_grad()
    h.mul_(3)
    (h * h).sum().backward()
    np.testing.assert_allclose(h.grad.numpy(), 2 * h.detach().numpy())


# ------------------------------------------------------------------ shape and dtype are kept
@pytest.mark.parametrize("grad", [False, True])
def test_in_place_never_changes_the_shape(grad):
    h = cr.ones(1, 3, requires_grad=grad) * 1
    with pytest.raises(RuntimeError, match=r"shape \(4, 3\).*shape \(1, 3\)"):
        h.add_(cr.ones(4, 3))
    np.testing.assert_array_equal(h.data, np.ones((1, 3)))


@pytest.mark.parametrize("grad", [False, True])
def test_float32_stays_float32_after_mul_by_float64(grad):
    x = cr.tensor([1.0, 2.0, 3.0], requires_grad=True)
    h = x * 1 if grad else cr.tensor([1.0, 2.0, 3.0])
    h.mul_(cr.tensor([2.0, 2.0, 2.0], dtype=cr.float64))
    assert h.dtype == np.float32
    np.testing.assert_array_equal(h.data, np.array([2, 4, 6], np.float32))
    if grad:
        h.sum().backward()
        assert x.grad.dtype == np.float32
        np.testing.assert_array_equal(x.grad.data, np.full(3, 2, np.float32))


def test_int_tensor_refuses_a_float_result():
    h = cr.tensor([1, 2, 3])
    with pytest.raises(RuntimeError, match="result type float.* can't be cast .* int64"):
        h.mul_(1.5)
    np.testing.assert_array_equal(h.data, [1, 2, 3])
    h.mul_(2)
    assert h.dtype == np.int64 and h.tolist() == [2, 4, 6]


@pytest.mark.parametrize("grad", [False, True])
@pytest.mark.parametrize("target", ["expanded", "row of expanded"])
def test_in_place_on_expanded_tensor_raises_clearly(grad, target):
    base = cr.ones(1, 3, requires_grad=grad) * 1
    e = base.expand(4, 3)
    if target == "row of expanded":
        e = e[0]
    with pytest.raises(RuntimeError, match=r"clone\(\)"):
        e.add_(1)
    np.testing.assert_array_equal(base.data, np.ones((1, 3)))


# ------------------------------------------------------------------ set_grad_enabled
def test_set_grad_enabled_as_a_plain_call():
    x = _x()
    try:
        cr.set_grad_enabled(False)
        assert not (x * 2).requires_grad and not cr.is_grad_enabled()
    finally:
        cr.set_grad_enabled(True)
    assert (x * 2).requires_grad


@pytest.mark.parametrize("outer", [True, False])
def test_set_grad_enabled_as_a_context_restores_the_mode(outer):
    with cr.set_grad_enabled(outer):
        with cr.set_grad_enabled(not outer):
            assert cr.is_grad_enabled() is (not outer)
        assert cr.is_grad_enabled() is outer
        with pytest.raises(ZeroDivisionError):
            with cr.set_grad_enabled(not outer):
                1 / 0
        assert cr.is_grad_enabled() is outer
    assert cr.is_grad_enabled()


def test_set_grad_enabled_as_a_decorator():
    @cr.set_grad_enabled(False)
    def double(t):
        return t * 2

    assert cr.is_grad_enabled()  # decorating changes nothing
    x = _x()
    assert not double(x).requires_grad
    assert cr.is_grad_enabled()

    @cr.set_grad_enabled(False)
    def fails():
        raise ValueError("inside")

    with pytest.raises(ValueError):
        fails()
    assert cr.is_grad_enabled()


def test_set_grad_enabled_rejects_a_non_bool():
    with pytest.raises(TypeError, match="True or False"):
        cr.set_grad_enabled("no")
    assert cr.is_grad_enabled()


# ------------------------------------------------------------------ the engine checks gradients
class _WrongShape(Function):
    needs_inputs = False

    def forward(self, x):
        return x * 2

    def backward(self, grad_output):
        return grad_output.sum()


class _WrongDtype(Function):
    needs_inputs = False

    def forward(self, x):
        return x * 2

    def backward(self, grad_output):
        return grad_output.double()


@pytest.mark.parametrize("op, what", [(_WrongShape, r"shape \(\)"), (_WrongDtype, "float64")])
def test_engine_names_the_op_that_returns_a_wrong_gradient(op, what):
    x = cr.ones(3, requires_grad=True)
    y = op.apply(x)
    with pytest.raises(RuntimeError, match=f"{op.__name__}Backward.*{what}.*shape \\(3,\\)"):
        y.sum().backward()
    assert x.grad is None


def test_leaf_grad_has_the_leaf_dtype_and_shape_after_mixed_dtypes():
    x = cr.tensor([[1.0, 2.0, 3.0]], requires_grad=True)        # float32, (1, 3)
    y = x * cr.tensor(2.0, dtype=cr.float64) + cr.ones(4, 3, dtype=cr.float64)
    assert y.dtype == np.float64  # the dimensioned float64 operand decides
    y.sum().backward()
    assert x.grad.dtype == np.float32 and x.grad.shape == (1, 3)
    np.testing.assert_array_equal(x.grad.data, np.full((1, 3), 8.0, np.float32))


# ------------------------------------------------------------------ random programs
_VIEWS = [
    ("all", lambda t: t, lambda i: i),
    ("row", lambda t: t[1], lambda i: i[1]),
    ("rows", lambda t: t[0:2], lambda i: i[0:2]),
    ("cols", lambda t: t[:, 1:3], lambda i: i[:, 1:3]),
    ("T", lambda t: t.T, lambda i: i.T),
    ("T row", lambda t: t.T[2], lambda i: i.T[2]),
    ("flat slice", lambda t: t.reshape(12)[3:9], lambda i: i.reshape(12)[3:9]),
    ("unsqueezed", lambda t: t.unsqueeze(0)[0, 2], lambda i: i[None][0, 2]),
    ("strided", lambda t: t[:, ::2], lambda i: i[:, ::2]),
]
_OPS = ["mul_const", "add_const", "mul_x", "set_x", "zero", "clamp"]


def _apply_op(kind, view, x_view):
    if kind == "mul_const":
        view.mul_(1.5)
    elif kind == "add_const":
        view.add_(-0.5)
    elif kind == "mul_x":
        view.mul_(x_view)
    elif kind == "set_x":
        view[...] = x_view * 0.5
    elif kind == "zero":
        view.zero_()
    else:
        view.clamp_(min=1.0)


def _reference_op(kind, values, x_values):
    if kind == "mul_const":
        return values * 1.5
    if kind == "add_const":
        return values - 0.5
    if kind == "mul_x":
        return values * x_values
    if kind == "set_x":
        return x_values * 0.5
    if kind == "zero":
        return values * 0.0
    return values.clamp(min=1.0)


@settings(max_examples=60, deadline=None)
@given(steps=st.lists(st.tuples(st.integers(0, len(_VIEWS) - 1), st.sampled_from(_OPS)),
                      min_size=1, max_size=5),
       keep=st.integers(0, len(_VIEWS) - 1), start=st.sampled_from(["mul", "exp"]))
def test_random_view_and_in_place_programs_match_out_of_place(steps, keep, start):
    rng = np.random.default_rng(len(steps) * 7 + keep)
    x0 = rng.uniform(0.5, 2.0, (3, 4))
    weights = rng.normal(size=(3, 4))
    index = np.arange(12).reshape(3, 4)

    # In place, through views; a view made before the changes is read after them.
    x = cr.tensor(x0, dtype=cr.float64, requires_grad=True)
    h = x * 1 if start == "mul" else x.exp() * 1
    early = _VIEWS[keep][1](h)
    for view_id, kind in steps:
        pick = _VIEWS[view_id][1]
        _apply_op(kind, pick(h), pick(x))
    loss = (h * cr.tensor(weights, dtype=cr.float64)).sum() + (early * early).sum()
    loss.backward()

    # The same program without any in-place op: scatter through a 0/1 matrix.
    xr = cr.tensor(x0, dtype=cr.float64, requires_grad=True)
    flat = (xr * 1 if start == "mul" else xr.exp() * 1).reshape(12)
    x_flat = xr.reshape(12)
    for view_id, kind in steps:
        positions = _VIEWS[view_id][2](index).reshape(-1)
        new = _reference_op(kind, flat[positions], x_flat[positions])
        scatter = np.zeros((12, positions.size))
        scatter[positions, np.arange(positions.size)] = 1.0
        keep_mask = 1.0 - scatter.sum(1)
        flat = flat * cr.tensor(keep_mask, dtype=cr.float64) + cr.tensor(
            scatter, dtype=cr.float64) @ new
    early_positions = _VIEWS[keep][2](index).reshape(-1)
    early_ref = flat[early_positions]
    loss_ref = (flat * cr.tensor(weights.reshape(12), dtype=cr.float64)).sum() + (
        early_ref * early_ref).sum()
    loss_ref.backward()

    np.testing.assert_allclose(h.detach().numpy().reshape(12), flat.detach().numpy(),
                               rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(loss.item(), loss_ref.item(), rtol=1e-12)
    np.testing.assert_allclose(x.grad.numpy(), xr.grad.numpy(), rtol=1e-10, atol=1e-12)
