"""Layers, losses and the tools to build models: ``Module``, ``Parameter``, containers,
layers (dense, convolutional, recurrent, embedding), activations, losses, ``init``,
``functional`` (as ``F``), ``utils`` and ``registry`` (the activations that can be chosen by
name).

Example:
    >>> import chainrule as cr
    >>> from chainrule import nn
    >>> model = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 3))
    >>> loss = nn.CrossEntropyLoss()(model(cr.randn(8, 4)), cr.randint(0, 3, (8,)))
    >>> loss.backward()
"""

from chainrule.nn.parameter import Parameter
from chainrule.nn.module import IncompatibleKeys, Module, RemovableHandle
from chainrule.nn.container import Flatten, Identity, ModuleDict, ModuleList, Sequential, Unflatten
from chainrule.nn.linear import Linear, Maxout
from chainrule.nn.activation import (
    CELU, ELU, GELU, SELU, Hardtanh, LeakyReLU, LogSigmoid, LogSoftmax, PReLU, ReLU, ReLU6, RReLU,
    Sigmoid, SiLU, Softmax, Softplus, Softsign, Tanh,
)
from chainrule.nn.conv import Conv1d, Conv2d
from chainrule.nn.pooling import (
    AdaptiveAvgPool1d, AdaptiveAvgPool2d, AvgPool1d, AvgPool2d, MaxPool1d, MaxPool2d,
)
from chainrule.nn.dropout import Dropout, Dropout1d, Dropout2d
from chainrule.nn.normalization import BatchNorm1d, BatchNorm2d, LayerNorm
from chainrule.nn.residual import BasicBlock, Residual, ResidualMLPBlock
from chainrule.nn.loss import (
    BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, HuberLoss, L1Loss, MSELoss, NLLLoss,
    SmoothL1Loss,
)
from chainrule.nn.rnn import GRU, LSTM, RNN, RNNBase
from chainrule.nn.rnn_cells import GRUCell, LSTMCell, RNNCell, RNNCellBase
from chainrule.nn.sparse import Embedding
from chainrule.nn import functional, init, registry, utils
