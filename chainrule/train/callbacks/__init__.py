"""Callbacks: code that ``fit`` runs at fixed points of training.

Hooks, in the order ``fit`` calls them (each receives the loop's ``FitState``):
``on_train_begin`` → per epoch ``on_epoch_begin`` → per batch ``on_after_backward`` (gradients
are in ``.grad``, the optimizer has not stepped) and ``on_batch_end`` → ``on_epoch_end``
(``state.logs`` holds the epoch's record) → ``on_train_end`` (always, also after an error);
``on_interrupt`` runs on Ctrl-C before ``on_train_end``. A callback stops training by setting
``state.stop_training = True`` (and ``state.stop_reason``). Callbacks run in increasing
``order`` (``Checkpoint`` last, so that it saves the others' updated state). ``fit`` calls only
the hooks a callback overrides; setting a hook to None on an instance switches it off.

Example:
    >>> class PrintLoss(Callback):
    ...     def on_epoch_end(self, state):
    ...         print(f"epoch {state.epoch}: {state.logs['train_loss']:.3f}")
"""
from chainrule.train.callbacks.base import Callback, LambdaCallback
from chainrule.train.callbacks.checkpoint import Checkpoint
from chainrule.train.callbacks.csv_logger import CSVLogger
from chainrule.train.callbacks.early_stopping import EarlyStopping
from chainrule.train.callbacks.nan_guard import TerminateOnNaN
from chainrule.train.callbacks.progress import EpochTable, ProgressBar

__all__ = ["Callback", "LambdaCallback", "ProgressBar", "EpochTable", "EarlyStopping",
           "Checkpoint", "CSVLogger", "TerminateOnNaN"]
