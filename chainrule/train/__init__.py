"""Training: the ``fit`` loop, ``evaluate``, metrics, callbacks, history and checkpoints.

Example:
    >>> import chainrule as cr, numpy as np
    >>> from chainrule import nn, optim
    >>> from chainrule.data import DataLoader, TensorDataset
    >>> from chainrule.train import fit, EarlyStopping
    >>> x = np.random.default_rng(0).normal(size=(128, 2)).astype(np.float32)
    >>> train = DataLoader(TensorDataset(x, (x.sum(1) > 0).astype(np.int64)), 32, shuffle=True)
    >>> model = nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Linear(16, 2))
    >>> history = fit(model, nn.CrossEntropyLoss(), optim.Adam(model.parameters(), 0.01),
    ...               train, epochs=3, callbacks=[EarlyStopping("train_loss", patience=2)])
    >>> len(history)
    3
"""

from chainrule.train import metrics
from chainrule.train.callbacks import (
    Callback, Checkpoint, CSVLogger, EarlyStopping, EpochTable, LambdaCallback, ProgressBar,
    TerminateOnNaN,
)
from chainrule.serialization import CheckpointError, load, save
from chainrule.train.checkpoint import load_checkpoint, read_checkpoint, save_checkpoint
from chainrule.train.history import History
from chainrule.train.loop import FitState, evaluate, fit, needs_closure, predict

__all__ = [
    "fit", "evaluate", "predict", "FitState", "needs_closure", "History", "metrics",
    "Callback", "LambdaCallback", "ProgressBar", "EpochTable", "EarlyStopping", "Checkpoint",
    "CSVLogger", "TerminateOnNaN", "CheckpointError", "save", "load", "save_checkpoint",
    "load_checkpoint", "read_checkpoint",
]
