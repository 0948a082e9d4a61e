"""``nn.utils``: gradient clipping, parameter vectors and penalties (``parameters``), and
variable-length sequences for the recurrent layers (``rnn``: pad, pack, unpack).

Example:
    >>> import chainrule as cr
    >>> from chainrule.nn.utils.rnn import pad_sequence
    >>> pad_sequence([cr.ones(3, 2), cr.ones(1, 2)]).shape
    (3, 2, 2)
"""

from chainrule.nn.utils.parameters import (
    clip_grad_norm_, clip_grad_value_, l1_penalty, l2_penalty, parameters_to_vector,
    vector_to_parameters,
)
from chainrule.nn.utils import rnn

__all__ = ["clip_grad_norm_", "clip_grad_value_", "parameters_to_vector", "vector_to_parameters",
           "l1_penalty", "l2_penalty", "rnn"]
