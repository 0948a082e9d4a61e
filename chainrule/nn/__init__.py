"""Layers, losses and the tools to build models: ``Module``, ``Parameter``, containers,
``init``, ``functional`` (as ``F``) and ``utils``."""

from chainrule.nn.parameter import Parameter
from chainrule.nn.module import Module, RemovableHandle
from chainrule.nn.container import Flatten, Identity, ModuleDict, ModuleList, Sequential, Unflatten
from chainrule.nn import init
from chainrule.nn.conv import *  # noqa
from chainrule.nn.pooling import *  # noqa
