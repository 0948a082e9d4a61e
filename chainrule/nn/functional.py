"""Everything functional (imported as ``F``): the math that modules call, without state.

Example:
    >>> import chainrule as cr
    >>> import chainrule.nn.functional as F
    >>> logits = cr.tensor([[2.0, 0.5, -1.0]])
    >>> round(float(F.cross_entropy(logits, cr.tensor([0]))), 4)
    0.2413
"""

from chainrule.ops.adaptive_pool import adaptive_avg_pool1d, adaptive_avg_pool2d
from chainrule.ops.conv import conv1d, conv2d
from chainrule.ops.pool import avg_pool1d, avg_pool2d, max_pool1d, max_pool2d
from chainrule.ops.pointwise import relu, sigmoid, tanh
from chainrule.ops.cross_entropy import cross_entropy, nll_loss
from chainrule.ops.loss import (
    binary_cross_entropy, binary_cross_entropy_with_logits, huber_loss, l1_loss, mse_loss,
    smooth_l1_loss,
)
from chainrule.ops.activations import (
    celu, elu, gelu, hardtanh, leaky_relu, logsigmoid, prelu, relu6, rrelu, selu, silu, softplus,
    softsign,
)
from chainrule.ops.dropout import dropout, dropout1d, dropout2d
from chainrule.ops.indexing import one_hot
from chainrule.ops.linalg import linear, linear_relu
from chainrule.ops.softmax import log_softmax, softmax
from chainrule.ops.special import erf
from chainrule.ops.normalization import batch_norm, layer_norm
from chainrule.ops.shape import pad
from chainrule.ops.embedding import embedding

__all__ = [
    "linear", "linear_relu", "relu", "sigmoid", "tanh", "leaky_relu", "prelu", "rrelu", "elu",
    "selu", "celu",
    "gelu", "silu", "softplus", "logsigmoid", "hardtanh", "relu6", "softsign", "erf", "softmax",
    "log_softmax", "dropout", "dropout1d", "dropout2d", "batch_norm", "layer_norm", "one_hot",
    "pad", "l1_loss", "mse_loss", "smooth_l1_loss", "huber_loss", "binary_cross_entropy",
    "binary_cross_entropy_with_logits", "cross_entropy", "nll_loss", "conv1d", "conv2d",
    "max_pool1d", "max_pool2d", "avg_pool1d", "avg_pool2d", "adaptive_avg_pool1d",
    "adaptive_avg_pool2d", "embedding",
]
