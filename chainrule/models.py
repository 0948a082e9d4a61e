"""Model presets used by the command line and the lab: ``mlp``, ``cnn``, ``resnet`` and the
recurrent ``rnn``, ``gru`` and ``lstm`` (``SequenceClassifier``).

Each returns an ``nn.Module`` built from plain options (numbers, strings, tuples), so that a run's
``config.json`` can rebuild it with ``build(spec)``: a spec names a preset of this module and its
keyword arguments, never a Python callable.

Activations by name: the keys of ``chainrule.nn.registry.ACTIVATIONS`` (``sigmoid, tanh, relu,
leaky_relu, prelu, rrelu, elu, gelu``).
Initializations by name: ``xavier`` (Glorot uniform, gain of the activation), ``he`` (Kaiming
normal, fan-in), ``normal`` (N(0, 0.01²), the "small random numbers" that make deep nets
vanish); ``None`` keeps each layer's default (PyTorch's).

Example:
    >>> from chainrule import models
    >>> net = models.mlp(64, hidden=(32,), out_features=10, activation="tanh", init="xavier")
    >>> [name for name, _ in net.named_parameters()]
    ['1.weight', '1.bias', '3.weight', '3.bias']
"""

from __future__ import annotations

import math
from typing import Any, Sequence

from chainrule import nn
from chainrule.nn import init as nn_init
from chainrule.nn import registry

__all__ = ["mlp", "cnn", "resnet", "rnn", "gru", "lstm", "SequenceClassifier", "build",
           "activation", "initialize", "ACTIVATIONS", "INITS", "PRESETS"]

ACTIVATIONS = tuple(registry.ACTIVATIONS)
INITS = ("xavier", "he", "normal")


def activation(name: str) -> nn.Module:
    """A new activation layer from its name (one of ``ACTIVATIONS``).

    Example:
        >>> activation("leaky_relu")
        LeakyReLU(negative_slope=0.01)
    """
    return registry.activation(name)


def initialize(model: nn.Module, scheme: str | None, activation_name: str = "relu") -> nn.Module:
    """Re-initialize every Linear/Conv weight of ``model`` by ``scheme``; biases become 0.

    The output layer (the last Linear) gets the linear gain (1); the others the gain of
    ``activation_name``. ``None`` leaves the layers' default initialization.

    Example:
        >>> net = initialize(mlp(4, (8,), 2), "he")
    """
    if scheme is None:
        return model
    if scheme not in INITS:
        raise ValueError(f"unknown init {scheme!r}; choose one of {', '.join(INITS)}")
    layers = [m for m in model.modules() if isinstance(m, (nn.Linear, nn.Conv1d, nn.Conv2d))]
    entry = registry.ACTIVATIONS.get(activation_name, registry.ACTIVATIONS["relu"])
    slope = entry.negative_slope
    for position, layer in enumerate(layers):
        last = position == len(layers) - 1 and isinstance(layer, nn.Linear)
        if scheme == "xavier":
            nn_init.xavier_uniform_(layer.weight, gain=1.0 if last else entry.gain)
        elif scheme == "he":
            if last:
                nn_init.kaiming_normal_(layer.weight, nonlinearity="linear")
            else:
                nn_init.kaiming_normal_(layer.weight, a=slope or 0.0,
                                        nonlinearity="leaky_relu" if slope else "relu")
        else:
            nn_init.normal_(layer.weight, 0.0, 0.01)
        if getattr(layer, "bias", None) is not None:
            nn_init.zeros_(layer.bias)
    return model


def _widths(hidden: int | Sequence[int], name: str) -> tuple[int, ...]:
    if isinstance(hidden, int):
        hidden = (hidden,)
    hidden = tuple(hidden)
    if any(isinstance(h, bool) or not isinstance(h, int) or h < 1 for h in hidden):
        raise ValueError(f"{name} must be positive ints, got {hidden!r}")
    return hidden


def _check_dropout(dropout: float) -> float:
    if not 0.0 <= float(dropout) < 1.0:
        raise ValueError(f"dropout must be in [0, 1), got {dropout}")
    return float(dropout)


def mlp(in_features: int, hidden: int | Sequence[int] = (100, 100), out_features: int = 10,
        activation: str = "relu", dropout: float = 0.0, batch_norm: bool = False,
        bias: bool = True, init: str | None = None) -> nn.Sequential:
    """A fully connected network: Flatten, then per hidden width Linear → [BatchNorm1d] →
    activation → [Dropout], then a Linear output layer (logits).

    Args:
        in_features: inputs per sample (images are flattened first).
        hidden: the widths of the hidden layers (``()`` for logistic/linear regression).
        out_features: outputs (classes).
        activation: the name of the activation (see ``ACTIVATIONS``).
        dropout: drop probability after each hidden activation (0 = none).
        batch_norm: BatchNorm1d after each hidden Linear.
        bias: give the Linear layers a bias.
        init: ``'xavier'``, ``'he'``, ``'normal'`` or None (layer default).

    Shape:
        ``(N, in_features)`` or ``(N, *dims)`` with ``prod(dims) = in_features`` ->
        ``(N, out_features)``.

    Example:
        >>> import chainrule as cr
        >>> mlp(40, (100, 100), 10)(cr.zeros(5, 40)).shape
        (5, 10)
    """
    hidden = _widths(hidden, "mlp hidden widths")
    dropout = _check_dropout(dropout)
    layers: list[nn.Module] = [nn.Flatten()]
    width = int(in_features)
    for size in hidden:
        layers.append(nn.Linear(width, size, bias=bias))
        if batch_norm:
            layers.append(nn.BatchNorm1d(size))
        layers.append(registry.activation(activation))
        if dropout:
            layers.append(nn.Dropout(dropout))
        width = size
    layers.append(nn.Linear(width, int(out_features), bias=bias))
    return initialize(nn.Sequential(*layers), init, activation)


def _spatial(input_size: int | Sequence[int], owner: str) -> tuple[int, ...]:
    if isinstance(input_size, int):
        input_size = (input_size,)
    size = tuple(int(s) for s in input_size)
    if len(size) not in (1, 2) or min(size) < 1:
        raise ValueError(f"{owner} input_size must be (H, W) for images or L for 1-D signals, got "
                         f"{input_size!r}")
    return size


def _layers_for(size: tuple[int, ...]):
    if len(size) == 2:
        return nn.Conv2d, nn.MaxPool2d, nn.BatchNorm2d, nn.AdaptiveAvgPool2d
    return nn.Conv1d, nn.MaxPool1d, nn.BatchNorm1d, nn.AdaptiveAvgPool1d


def cnn(in_channels: int = 1, num_classes: int = 10, input_size: int | Sequence[int] = (8, 8),
        channels: Sequence[int] = (32, 64), kernel_size: int = 3, hidden: int = 128,
        activation: str = "relu", dropout: float = 0.0, batch_norm: bool = False,
        bias: bool = True, init: str | None = None) -> nn.Sequential:
    """A small LeNet-style network: per entry of ``channels`` a convolution ("same" padding) →
    [BatchNorm] → activation → 2× max pooling (while the size allows), then Flatten → Linear
    (``hidden``) → activation → [Dropout] → Linear (logits).

    Two-dimensional ``input_size`` (H, W) builds Conv2d layers for images ``(N, C, H, W)``; an int
    L builds Conv1d layers for signals ``(N, C, L)`` (e.g. MNIST-1D).

    Args:
        in_channels: input channels (1 for grayscale). num_classes: outputs.
        input_size: (H, W) or L. channels: output channels of each convolution.
        kernel_size: odd kernel size. hidden: width of the fully connected layer (0: none).
        activation, dropout, batch_norm, bias, init: as in ``mlp``.

    Example:
        >>> import chainrule as cr
        >>> cnn(1, 10, (8, 8))(cr.zeros(2, 1, 8, 8)).shape
        (2, 10)
        >>> cnn(1, 10, 40)(cr.zeros(2, 1, 40)).shape
        (2, 10)
    """
    size = _spatial(input_size, "cnn")
    dropout = _check_dropout(dropout)
    channels = _widths(channels, "cnn channels")
    if kernel_size % 2 != 1:
        raise ValueError(f"cnn kernel_size must be odd (for 'same' padding), got {kernel_size}")
    Conv, Pool, Norm, _ = _layers_for(size)
    layers: list[nn.Module] = []
    previous = int(in_channels)
    for width in channels:
        layers.append(Conv(previous, width, kernel_size, padding=kernel_size // 2, bias=bias))
        if batch_norm:
            layers.append(Norm(width))
        layers.append(registry.activation(activation))
        if min(size) >= 4:
            layers.append(Pool(2))
            size = tuple(s // 2 for s in size)
        previous = width
    layers.append(nn.Flatten())
    features = previous * math.prod(size)
    if hidden:
        layers += [nn.Linear(features, int(hidden), bias=bias),
                   registry.activation(activation)]
        features = int(hidden)
    if dropout:
        layers.append(nn.Dropout(dropout))
    layers.append(nn.Linear(features, int(num_classes), bias=bias))
    return initialize(nn.Sequential(*layers), init, activation)


def resnet(in_channels: int = 1, num_classes: int = 10, input_size: int | Sequence[int] = (8, 8),
           channels: Sequence[int] = (16, 32), blocks: int = 1, activation: str = "relu",
           dropout: float = 0.0, init: str | None = None) -> nn.Sequential:
    """A small residual network with batch norm: a 3×3 stem (conv → BatchNorm → activation),
    then per entry of ``channels`` ``blocks`` residual blocks (the first of each later stage
    halves the size with stride 2), global average pooling, [Dropout], and a Linear layer.

    The blocks are ``nn.BasicBlock`` (torchvision's layout): Conv2d for images, Conv1d for
    signals; an activation other than ReLU becomes the blocks' ``act1``/``act2`` layers.

    Example:
        >>> import chainrule as cr
        >>> resnet(1, 10, (8, 8))(cr.zeros(2, 1, 8, 8)).shape
        (2, 10)
    """
    size = _spatial(input_size, "resnet")
    dropout = _check_dropout(dropout)
    channels = _widths(channels, "resnet channels")
    if isinstance(blocks, bool) or not isinstance(blocks, int) or blocks < 1:
        raise ValueError(f"resnet blocks must be an int >= 1, got {blocks!r}")
    Conv, _, Norm, AdaptivePool = _layers_for(size)
    layers: list[nn.Module] = [Conv(int(in_channels), channels[0], 3, padding=1, bias=False),
                               Norm(channels[0]), registry.activation(activation)]
    block_activation = None if activation == "relu" else registry.ACTIVATIONS[activation].module
    previous = channels[0]
    for stage, width in enumerate(channels):
        for index in range(blocks):
            stride = 2 if stage > 0 and index == 0 else 1
            layers.append(nn.BasicBlock(previous, width, stride=stride,
                                        activation=block_activation, spatial_dims=len(size)))
            previous = width
    layers += [AdaptivePool(1), nn.Flatten()]
    if dropout:
        layers.append(nn.Dropout(dropout))
    layers.append(nn.Linear(previous, int(num_classes)))
    return initialize(nn.Sequential(*layers), init, activation)


class SequenceClassifier(nn.Module):
    """A recurrent layer over the steps of a signal or the rows of an image, then a Linear
    layer: on every step's output (``readout='all'``, as Greydanus's MNIST-1D GRU) or on the
    last layer's final states (``'last'``).

    A signal (N, C, L) is L steps of C features; an image (N, C, H, W) is H steps of C·W.
    """

    def __init__(self, kind: str, features: int, steps: int, num_classes: int, hidden: int = 6,
                 num_layers: int = 1, bidirectional: bool = True, readout: str = "all",
                 dropout: float = 0.0, bias: bool = True, nonlinearity: str = "tanh"):
        super().__init__()
        if readout not in ("all", "last"):
            raise ValueError(f"readout must be 'all' or 'last', got {readout!r}")
        options = dict(num_layers=num_layers, bias=bias, batch_first=True,
                       bidirectional=bidirectional)
        if kind == "rnn":
            self.rnn = nn.RNN(features, hidden, nonlinearity=nonlinearity, **options)
        else:
            self.rnn = (nn.GRU if kind == "gru" else nn.LSTM)(features, hidden, **options)
        self.readout, self.steps = readout, int(steps)
        width = hidden * (2 if bidirectional else 1)
        self.dropout = nn.Dropout(dropout) if dropout else nn.Identity()
        self.linear = nn.Linear(width * (self.steps if readout == "all" else 1), num_classes,
                                bias=bias)

    def forward(self, x):
        if x.ndim == 4:  # rows of an image, channels side by side
            x = x.permute(0, 2, 1, 3).reshape(x.shape[0], x.shape[2], -1)
        else:
            x = x.transpose(1, 2)
        out, state = self.rnn(x)
        if self.readout == "all":
            features = out.reshape(out.shape[0], -1)
        else:
            h_n = state[0] if isinstance(state, tuple) else state
            last = h_n[-2:] if self.rnn.bidirectional else h_n[-1:]
            features = last.transpose(0, 1).reshape(h_n.shape[1], -1)
        return self.linear(self.dropout(features))


def _recurrent(kind: str, in_channels: int, num_classes: int, input_size, hidden: int,
               num_layers: int, bidirectional: bool, readout: str, dropout: float, bias: bool,
               nonlinearity: str = "tanh") -> SequenceClassifier:
    size = _spatial(input_size, kind)
    features = int(in_channels) * (size[1] if len(size) == 2 else 1)
    return SequenceClassifier(kind, features, size[0], int(num_classes), int(hidden),
                              int(num_layers), bool(bidirectional), readout,
                              _check_dropout(dropout), bias, nonlinearity)


def gru(in_channels: int = 1, num_classes: int = 10, input_size: int | Sequence[int] = 40,
        hidden: int = 6, num_layers: int = 1, bidirectional: bool = True, readout: str = "all",
        dropout: float = 0.0, bias: bool = True) -> SequenceClassifier:
    """The MNIST-1D paper's GRU by default (Greydanus & Kobak): bidirectional, hidden 6, one
    input per step, a Linear layer on the outputs of all steps (see ``SequenceClassifier``).

    Example:
        >>> import chainrule as cr
        >>> gru()(cr.zeros(2, 1, 40)).shape
        (2, 10)
    """
    return _recurrent("gru", in_channels, num_classes, input_size, hidden, num_layers,
                      bidirectional, readout, dropout, bias)


def lstm(in_channels: int = 1, num_classes: int = 10, input_size: int | Sequence[int] = 40,
         hidden: int = 6, num_layers: int = 1, bidirectional: bool = True, readout: str = "all",
         dropout: float = 0.0, bias: bool = True) -> SequenceClassifier:
    """As ``gru`` with an LSTM.

    Example:
        >>> import chainrule as cr
        >>> lstm(1, 10, (8, 8))(cr.zeros(2, 1, 8, 8)).shape
        (2, 10)
    """
    return _recurrent("lstm", in_channels, num_classes, input_size, hidden, num_layers,
                      bidirectional, readout, dropout, bias)


def rnn(in_channels: int = 1, num_classes: int = 10, input_size: int | Sequence[int] = 40,
        hidden: int = 6, num_layers: int = 1, bidirectional: bool = True, readout: str = "all",
        dropout: float = 0.0, bias: bool = True, activation: str = "tanh") -> SequenceClassifier:
    """As ``gru`` with an Elman RNN, ``activation`` 'tanh' or 'relu'.

    Example:
        >>> import chainrule as cr
        >>> rnn(activation="relu")(cr.zeros(2, 1, 40)).shape
        (2, 10)
    """
    return _recurrent("rnn", in_channels, num_classes, input_size, hidden, num_layers,
                      bidirectional, readout, dropout, bias, activation)


PRESETS = {"mlp": mlp, "cnn": cnn, "resnet": resnet, "rnn": rnn, "gru": gru, "lstm": lstm}


def build(spec: dict[str, Any]) -> nn.Module:
    """A model from a plain spec ``{"preset": "cnn", "kwargs": {...}}`` (as stored in a run's
    config.json). Only the presets of this module can be named.

    Example:
        >>> build({"preset": "mlp", "kwargs": {"in_features": 2, "hidden": [8],
        ...                                    "out_features": 3}})[1]
        Linear(in_features=2, out_features=8, bias=True)
    """
    preset = spec.get("preset")
    if preset not in PRESETS:
        raise ValueError(f"unknown model preset {preset!r}; choose one of {sorted(PRESETS)}")
    kwargs = dict(spec.get("kwargs") or {})
    for key in ("hidden", "channels", "input_size"):
        if isinstance(kwargs.get(key), list):
            kwargs[key] = tuple(kwargs[key])
    return PRESETS[preset](**kwargs)
