"""The ``chainrule`` command (also ``python -m chainrule``): the application on top of the
library. ``parser`` reads the command line, ``config`` checks a run's settings (``TrainConfig``),
``recipe`` turns them into data, model and optimizer, ``commands`` trains and writes the run
folder, ``inference`` evaluates and predicts, ``plots`` draws the run folder's pictures.
Nothing in the library imports this package.
"""

from chainrule.cli.config import ConfigError, TrainConfig, UsageError
from chainrule.cli.parser import build_parser, main

__all__ = ["main", "build_parser", "TrainConfig", "ConfigError", "UsageError"]
