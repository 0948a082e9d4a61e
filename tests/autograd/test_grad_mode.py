"""Grad mode (chainrule/autograd/grad_mode.py): no_grad and enable_grad as contexts and
decorators, set_grad_enabled as a call, a context and a decorator."""

import numpy as np
import pytest

import chainrule as cr


def _x():
    return cr.tensor(np.arange(1.0, 7.0).reshape(2, 3), dtype=cr.float64, requires_grad=True)


def f64(values, requires_grad=True):
    return cr.tensor(values, dtype=cr.float64, requires_grad=requires_grad)


def test_no_grad_and_enable_grad_as_context_and_decorator():
    x = f64([1.0])
    with cr.no_grad():
        assert not (x * 2).requires_grad
        with cr.enable_grad():
            assert (x * 2).requires_grad
    assert cr.is_grad_enabled()

    @cr.no_grad()
    def doubled(t):
        return t * 2

    assert not doubled(x).requires_grad
    assert cr.is_grad_enabled()


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
