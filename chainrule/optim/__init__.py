"""Optimizers and learning-rate schedules, with PyTorch's names, data shape and update formulas.

First-order: ``SGD``, ``Adagrad``, ``RMSprop``, ``Adam``, ``AdamW`` — ``optimizer.step()`` after
``loss.backward()``. Second-order, on the flat parameter vector, with a closure:
``LBFGS``, ``BFGS``, ``Newton``, ``NewtonCG``, ``GaussNewton`` — ``optimizer.step(closure)``
(``GaussNewton``'s closure returns ``(loss, output)``). Schedules live in
``chainrule.optim.lr_scheduler``; the optimizers that can be chosen by name (the command line,
the lab) in ``chainrule.optim.registry``.

Example:
    >>> import chainrule as cr
    >>> w = cr.tensor([2.0], requires_grad=True)
    >>> opt = cr.optim.SGD([w], lr=0.25)
    >>> for _ in range(3):
    ...     opt.zero_grad()
    ...     (w * w).sum().backward()
    ...     opt.step()
    >>> w.tolist()  # each step halves w: w ← w − 0.25·2w
    [0.25]
"""

from chainrule.optim.optimizer import Optimizer
from chainrule.optim.sgd import SGD
from chainrule.optim.adagrad import Adagrad
from chainrule.optim.rmsprop import RMSprop
from chainrule.optim.adam import Adam, AdamW
from chainrule.optim.lbfgs import LBFGS
from chainrule.optim.bfgs import BFGS
from chainrule.optim.newton import Newton, NewtonCG
from chainrule.optim.gauss_newton import GaussNewton
from chainrule.optim import lr_scheduler, line_search, registry, trust_region

__all__ = ["Optimizer", "SGD", "Adagrad", "RMSprop", "Adam", "AdamW", "LBFGS", "BFGS", "Newton",
           "NewtonCG", "GaussNewton", "lr_scheduler", "line_search", "registry", "trust_region"]
