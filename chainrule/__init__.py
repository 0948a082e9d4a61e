"""chainrule: neural-network fundamentals on NumPy.

Tensors that record the operations applied to them, reverse-mode differentiation to any order,
layers, losses, optimizers from SGD to Newton's method, data and augmentation, and tools that
show what happens inside a network. The API follows PyTorch's names.
"""

from chainrule import backend
from chainrule.backend import manual_seed
from chainrule.threads import get_num_threads, set_num_threads
from chainrule.tensor import Tensor
from chainrule.creation import (
    arange, empty, eye, from_numpy, full, full_like, linspace, ones, ones_like, rand, randint,
    randn, randperm, tensor, zeros, zeros_like,
)
from chainrule.autograd import (
    detect_anomaly, enable_grad, grad, is_grad_enabled, no_grad, set_grad_enabled,
)
from chainrule.ops.elementwise import add, div, mul, neg, sub
from chainrule.ops.pointwise import abs, cos, exp, log, pow, relu, sigmoid, sin, sqrt, tanh
from chainrule.ops.select import (
    clamp, clip, eq, ge, gt, isfinite, isnan, le, logical_and, logical_not, logical_or, lt,
    maximum, minimum, ne, sign, where,
)
from chainrule.ops.linalg import dot, matmul
from chainrule.ops.reduce import (
    all, amax, amin, any, argmax, argmin, logsumexp, max, mean, min, norm, std, sum, var,
)
from chainrule.ops.shape import (
    cat, chunk, concatenate, expand, flatten, pad, permute, repeat, reshape, split, squeeze, stack,
    transpose, unsqueeze, view,
)
from chainrule.ops.indexing import getitem

float32 = backend.float32
float64 = backend.float64
float16 = backend.float16
int32 = backend.int32
int64 = backend.int64
bool = backend.bool_
float = float32
double = float64
long = int64

from chainrule._version import __version__  # noqa: E402

# The packages, so that `import chainrule as cr` gives cr.nn, cr.optim, cr.data, cr.train.
# None of them imports an optional dependency until a function that needs it is called.
from chainrule import autograd, data, nn, optim, train  # noqa: E402
from chainrule.serialization import load, save  # noqa: E402  (weights files: safetensors)
from chainrule.diagnostics.summary import summary  # noqa: E402  (cr.summary(model, input_size))
