"""The ``chainrule`` command (also ``python -m chainrule``).

    chainrule train [options]              train a model; no options: the CNN on the digits
    chainrule evaluate RUN_OR_CHECKPOINT   test loss, accuracy and confusion matrix
    chainrule predict RUN INPUT.npy        predicted classes for the inputs in a .npy file
    chainrule lab NAME | all               the lab's experiments (chainrule.lab)
    chainrule export RUN [--out FILE.onnx]  the run's model as an ONNX file (chainrule.onnx)

Wrong input gives one line on stderr and exit status 2; Ctrl-C during training saves a
checkpoint, prints the command that resumes it and exits with status 130.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from typing import Sequence

import numpy as np

from chainrule import lab, models
from chainrule._version import __version__
from chainrule.cli import config as settings
from chainrule.cli.commands import train_command
from chainrule.cli import parallel
from chainrule.cli.config import ConfigError, UsageError, read_toml
from chainrule.cli.inference import PREDICT_HELP, evaluate_command, predict_command
from chainrule.data import DataError
from chainrule.nn.registry import ACTIVATIONS
from chainrule.onnx import ExportError, export_run
from chainrule.optim.registry import OPTIMIZERS
from chainrule.serialization import CheckpointError

_STARTED = time.perf_counter()

__all__ = ["main", "build_parser"]


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors raise UsageError (so ``main`` prints one line)."""

    def error(self, message: str):  # type: ignore[override]
        raise UsageError(f"{self.prog}: error: {message}")


# The types below only read the text; what each setting accepts is checked in one place,
# chainrule.cli.config, for flags, TOML and config.json alike.
def _int_list(text: str) -> list[int]:
    try:
        return [int(part) for part in str(text).replace(" ", "").split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated whole numbers such as "
                                         f"100,100, got {text!r}") from None


def _count(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None


def _number(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None


TRAIN_EPILOG = """\
examples:
  chainrule train                                   CNN on the 8x8 digits (the main job)
  chainrule train --dataset spirals --model mlp --hidden 64,64 --activation tanh
  chainrule train --dataset mnist1d --model mlp --optimizer sgd --lr 0.1 --epochs 20
  chainrule train --resume runs/NAME/checkpoint.safetensors
  chainrule train --nproc 2                         the same in 2 processes (MPI)
  chainrule train --nproc 8 --hostfile hosts.txt    8 processes on the machines listed
"""


def _add_train(sub) -> None:
    p = sub.add_parser("train", help="train a model and write a run folder",
                       description="Train a model and write a run folder (model.safetensors, "
                       "checkpoint.safetensors, config.json, history.csv, curves.png, "
                       "confusion.png). Without options: a CNN on the bundled 8x8 digits.",
                       epilog=TRAIN_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
                       argument_default=argparse.SUPPRESS)
    add = p.add_argument
    add("--dataset", choices=settings.DATASETS, help="the data (default digits)")
    add("--data-dir", metavar="DIR", help="folder with the MNIST/Fashion-MNIST IDX files "
        "(default ./data)")
    add("--model", choices=settings.MODELS, help="the preset (default: cnn for images and "
        "signals, mlp for 2-D points)")
    add("--hidden", type=_int_list, metavar="W,W", help="mlp hidden widths (e.g. 100,100); cnn: "
        "width of the dense layer; rnn/gru/lstm: the hidden size (default 6)")
    add("--channels", type=_int_list, metavar="C,C", help="cnn/resnet channels per stage")
    add("--activation", choices=list(ACTIVATIONS),
        help="hidden activation (default relu; rnn: tanh or relu, default tanh)")
    add("--no-bias", dest="bias", action="store_false", help="layers without bias")
    add("--init", choices=models.INITS, help="weight initialization (default: PyTorch's)")
    add("--optimizer", choices=list(OPTIMIZERS), help="default adam; the second-order ones "
        "(lbfgs, bfgs, newton, newton-cg, gauss-newton) train full-batch: one iteration per "
        "epoch, 30 epochs, no schedule, unless told otherwise")
    add("--lr", type=_number, help="learning rate (default per optimizer, adam 0.003)")
    add("--batch-size", type=_count, help="samples per batch, 0 = full batch (default 32)")
    add("--epochs", type=_count, help="epochs to train (default 30 on digits)")
    add("--weight-decay", type=_number, metavar="L2", help="L2 weight decay (default 0)")
    add("--l1", type=_number, help="L1 penalty weight on the weights (default 0)")
    add("--dropout", type=_number, metavar="P", help="dropout probability (default 0)")
    add("--batch-norm", action=argparse.BooleanOptionalAction, help="batch normalization "
        "(default on for cnn on images/signals)")
    add("--augment", action=argparse.BooleanOptionalAction, help="data augmentation suited to "
        "the dataset (default on for digits and mnist1d)")
    add("--mixup", type=_number, nargs="?", const=0.2, metavar="ALPHA", help="MixUp with "
        "Beta(ALPHA, ALPHA) (0.2 when no value)")
    add("--pca", type=_count, metavar="N", help="project the inputs on N principal components "
        "(mlp)")
    add("--clip-grad-norm", type=_number, metavar="MAX", help="clip the gradient norm")
    add("--scheduler", choices=settings.SCHEDULERS, help="learning-rate schedule (default cosine)")
    add("--early-stopping", type=_count, nargs="?", const=5, metavar="PATIENCE",
        help="stop when the validation loss stalls (patience 5 when no value)")
    add("--val-fraction", type=_number, metavar="F", help="training share held out for "
        "validation (default 0.1)")
    add("--seed", type=_count, help="random seed, 0 to 2**32 - 1 (default 0)")
    add("--out", metavar="DIR", help="a new run folder (default runs/DATASET-MODEL-TIME); an "
        "existing run is never overwritten")
    add("--resume", metavar="PATH", help="continue from a checkpoint or run folder")
    add("--config", metavar="FILE.toml", help="settings from a TOML file (flags override)")
    add("--quiet", action="store_true", help="print only the final result")
    add("--nproc", type=_count, metavar="N", help="train data-parallel in N processes: starts "
        "mpiexec (pip install 'chainrule[distributed]'); the batch size is per process")
    add("--hostfile", metavar="FILE", help="with --nproc: mpiexec's list of machines (one "
        "host[:processes] a line), run from a folder every machine shares")
    p.set_defaults(handler=_train)


def _add_evaluate(sub) -> None:
    p = sub.add_parser("evaluate", help="test loss, accuracy and confusion matrix of a run",
                       description="Evaluate a run folder or checkpoint on its test split.")
    p.add_argument("target", metavar="RUN_OR_CHECKPOINT")
    p.add_argument("--data-dir", metavar="DIR", help="where the IDX files are (MNIST)")
    p.set_defaults(handler=evaluate_command)


def _add_predict(sub) -> None:
    p = sub.add_parser("predict", help="predict the classes of inputs stored in a .npy file",
                       description=PREDICT_HELP)
    p.add_argument("target", metavar="RUN")
    p.add_argument("input", metavar="INPUT.npy")
    p.add_argument("--out", metavar="PREDS.npy", help="where to write the predicted classes "
                   "(default INPUT.predictions.npy)")
    p.add_argument("--probabilities", action="store_true", help="write class probabilities "
                   "(N, classes) instead of classes")
    p.set_defaults(handler=predict_command)


def _add_lab(sub) -> None:
    p = sub.add_parser("lab", help="run the lab's experiments (chainrule lab all --out report/)",
                       description="Run the lab's experiments.")
    lab.add_arguments(p)
    p.set_defaults(handler=lambda args: int(lab.run_from_args(args) or 0))


def _add_export(sub) -> None:
    p = sub.add_parser("export", help="write a run's model as an ONNX file",
                       description="Export a run folder's model to ONNX (needs the onnx package: "
                       "pip install 'chainrule[onnx]').")
    p.add_argument("target", metavar="RUN")
    p.add_argument("--out", metavar="FILE.onnx", help="the file to write (default RUN/model.onnx)")
    p.add_argument("--opset", type=int, default=17, help="the ONNX opset (default 17)")
    p.set_defaults(handler=_export)


def _export(args) -> int:
    try:
        path = export_run(args.target, args.out, args.opset)
    except (ExportError, ValueError, ImportError) as error:
        raise UsageError(f"chainrule export: error: {error}") from None
    print(f"wrote {path}")
    return 0


def build_parser(argv: Sequence[str] = ()) -> argparse.ArgumentParser:
    """The ``chainrule`` argument parser (``argv`` is accepted for compatibility; every
    command's arguments are always there)."""
    parser = _Parser(prog="chainrule", description="chainrule: neural-network fundamentals on "
                     "NumPy. Train, evaluate and predict from the command line.")
    parser.add_argument("--version", action="version", version=f"chainrule {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    _add_train(sub)
    _add_evaluate(sub)
    _add_predict(sub)
    _add_lab(sub)
    _add_export(sub)
    return parser


def _train(args) -> int:
    path = getattr(args, "config", None)
    from_file = read_toml(path) if path else {}
    return train_command(args, started=_STARTED, from_file=from_file, file=path or "")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (0 ok, 1 failed, 2 usage, 130 Ctrl-C)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        parser = build_parser(argv)
        args = parser.parse_args(argv)
        if getattr(args, "command", None) is None:
            parser.print_help()
            return 2
        if args.command == "train":
            status = parallel.launch_if_asked(args, argv)
            if status is not None:  # the job ran in processes of its own
                return status
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore", RuntimeWarning)  # results say what went wrong
            return int(args.handler(args) or 0)
    except UsageError as error:
        message = str(error)
    except (ConfigError, DataError, CheckpointError) as error:
        command = f"chainrule {argv[0]}" if argv else "chainrule"
        message = f"{command}: error: {error}"
    except KeyboardInterrupt:  # outside training (training handles its own Ctrl-C)
        print("\ninterrupted", file=sys.stderr)
        return 130
    parallel.fail(message.replace("\n", " "), 2)  # in a job of several: once, stops them all
    print(message.replace("\n", " "), file=sys.stderr)
    return 2
