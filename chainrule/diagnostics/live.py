"""``LivePlot``: a callback that redraws the learning curves in a notebook after every epoch, in
one figure updated in place (no new figure per epoch, no display needed elsewhere)."""

from __future__ import annotations

import sys
from pathlib import Path

from chainrule.train.callbacks import Callback

__all__ = ["LivePlot", "in_notebook"]


def in_notebook() -> bool:
    """True inside a Jupyter kernel (IPython with a kernel attached), False in a terminal."""
    shell = sys.modules.get("IPython")
    if shell is None:
        return False
    ipython = shell.get_ipython()
    return ipython is not None and getattr(ipython, "kernel", None) is not None


class LivePlot(Callback):
    """Redraw ``state.history``'s curves after each epoch in one notebook output.

    In a notebook the figure is shown once and then replaced in place (IPython's
    ``display_id``); outside one nothing is displayed, and with ``path`` the PNG is written
    there after each epoch either way.

    Args:
        every: redraw every this many epochs (the last epoch is always drawn).
        path: also save the figure to this PNG after each redraw.

    Example:
        >>> from chainrule.train import fit
        >>> live = LivePlot()
        >>> fit(model, "mse", opt, loader, epochs=10, callbacks=[live])  # doctest: +SKIP
    """

    def __init__(self, every: int = 1, path: str | Path | None = None):
        if every < 1:
            raise ValueError(f"LivePlot: every should be a positive number of epochs, got {every}")
        self.every = every
        self.path = None if path is None else Path(path)
        self.handle = None
        self.draws = 0

    def on_epoch_end(self, state) -> None:
        if state.epoch % self.every == 0:
            self.draw(state.history)

    def on_train_end(self, state) -> None:
        history = getattr(state, "history", None)
        if history is not None and len(history) and self.draws and (
                len(history) % self.every != 0):
            self.draw(history)

    def draw(self, history) -> None:
        """Show (or replace) the figure of ``history``, and save it to ``path`` if given."""
        if not len(history):
            return
        self.draws += 1
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            history.figure().savefig(self.path, dpi=90)
        if not in_notebook():
            return
        from IPython.display import Image, display

        image = Image(data=history._repr_png_(), format="png")
        if self.handle is None:
            self.handle = display(image, display_id=True)
        else:
            self.handle.update(image)
