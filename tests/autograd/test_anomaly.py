"""Anomaly detection (chainrule/autograd/anomaly.py): detect_anomaly names the op that produced
a non-finite gradient and the line of user code that recorded it."""

import pytest

import chainrule as cr


def test_detect_anomaly_names_the_op_and_the_users_line():
    x = cr.tensor([0.0, 1.0], requires_grad=True)
    with cr.detect_anomaly():
        y = cr.sqrt(x)  # the derivative is inf at 0
        with pytest.raises(RuntimeError, match="SqrtBackward returned inf") as info:
            y.sum().backward()
    assert "test_anomaly.py" in str(info.value)
    with cr.detect_anomaly():
        (x * 2).sum().backward()  # finite: no error
