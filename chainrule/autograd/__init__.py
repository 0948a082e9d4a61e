"""Reverse-mode automatic differentiation: the engine, grad modes, gradient checks."""

from chainrule.autograd.anomaly import detect_anomaly, is_anomaly_enabled
from chainrule.autograd.engine import backward, backward_options, grad
from chainrule.autograd.function import Function
from chainrule.autograd.grad_mode import enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from chainrule.autograd.gradcheck import GradcheckError, gradcheck, gradgradcheck
from chainrule.autograd import functional

__all__ = [
    "Function", "backward", "backward_options", "grad", "no_grad", "enable_grad", "is_grad_enabled",
    "set_grad_enabled", "detect_anomaly", "is_anomaly_enabled", "gradcheck", "gradgradcheck",
    "GradcheckError", "functional",
]
