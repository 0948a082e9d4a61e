"""One row per epoch in a CSV file, written atomically."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from chainrule.train.callbacks.base import Callback
from chainrule.serialization import file_mode

__all__ = ["CSVLogger"]


class CSVLogger(Callback):
    """Write the history to a CSV file after every epoch (one row per epoch, header first).

    The whole file is rewritten atomically each epoch, so it always holds complete rows, and a
    resumed run's file includes the epochs before the resume.

    Example:
        >>> logger = CSVLogger("runs/demo/history.csv")
    """

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)

    def on_epoch_end(self, state) -> None:
        folder = self.path.parent
        folder.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".tmp",
                                             dir=folder)
        os.close(handle)
        try:
            state.history.to_csv(temporary)
            os.chmod(temporary, file_mode())  # mkstemp makes it 0600; the other files are not
            os.replace(temporary, self.path)
        except BaseException:
            try:
                os.unlink(temporary)
            except OSError:
                pass
            raise
