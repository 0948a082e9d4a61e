"""``chainrule evaluate`` and ``chainrule predict``: a run folder (or checkpoint) read back,
checked, and its model applied to the test split or to the arrays of a ``.npy`` file."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

from chainrule import models, nn
from chainrule.cli import config as settings
from chainrule.cli import recipe
from chainrule.cli.config import ConfigError, UsageError
from chainrule.data import DataLoader
from chainrule.serialization import CheckpointError, load
from chainrule.train.checkpoint import check_state_dict, read_checkpoint
from chainrule.train.loop import evaluate, predict
from chainrule.train.metrics import confusion_matrix

__all__ = ["load_run", "evaluate_command", "predict_command", "PREDICT_HELP"]

PREDICT_HELP = ("Predict with a trained run. INPUT.npy holds one float array (np.save) of "
                "samples shaped like the run's training inputs: (N, *input_shape), one sample, "
                "or flat rows (N, features); digits take (N, 1, 8, 8) or (N, 64) with values "
                "in [0, 1], moons and spirals (N, 2). config.json's input_shape and "
                "input_stats say what a run takes.")


def _read_document(config_file: Path, command: str) -> dict:
    try:
        document = json.loads(config_file.read_text())
    except (OSError, UnicodeDecodeError, ValueError) as error:
        raise UsageError(f"chainrule {command}: error: {config_file} is damaged (not readable "
                         f"JSON: {error}); train the run again or restore that file") from None
    if not isinstance(document, dict):
        raise UsageError(f"chainrule {command}: error: {config_file} is damaged (not a JSON "
                         "object); train the run again or restore that file")
    return document


def load_run(target: str, command: str) -> tuple[dict, Any, dict, Any]:
    """(config.json document, its TrainConfig, weights, projection or None) of a run folder or
    checkpoint, all checked."""
    path = Path(target)
    if path.is_dir():
        config_file = path / "config.json"
        if not config_file.is_file():
            raise UsageError(f"chainrule {command}: error: {path} is not a run folder (no "
                             "config.json); give the folder `chainrule train` wrote, or a "
                             "checkpoint file")
        weights_file = path / "model.safetensors"
        if not weights_file.is_file():
            weights_file = path / "checkpoint.safetensors"
        document = _read_document(config_file, command)
        weights = load(weights_file)
        pca_file = path / "pca.safetensors"
        pca = load(pca_file) if pca_file.is_file() else None
    elif path.is_file():
        try:
            content = read_checkpoint(path)
            document = content.get("extra") or {}
            weights, pca = content["model"], document.get("pca")
        except CheckpointError as error:
            if "weights only" not in str(error):
                raise
            config_file = path.parent / "config.json"
            if not config_file.is_file():
                raise UsageError(f"chainrule {command}: error: {path} holds weights only and "
                                 f"there is no config.json beside it to rebuild the model"
                                 ) from None
            document = _read_document(config_file, command)
            weights = load(path)
            pca_file = path.parent / "pca.safetensors"
            pca = load(pca_file) if pca_file.is_file() else None
    else:
        raise UsageError(f"chainrule {command}: error: {target}: no such run folder or "
                         "checkpoint")
    if "config" not in document or "model" not in document:
        raise UsageError(f"chainrule {command}: error: {target} has no chainrule train "
                         "configuration; it was not written by `chainrule train`")
    config = settings.from_document(document["config"], f"the configuration of {target}")
    projection = None if pca is None else recipe.Projection(pca["mean"], pca["components"])
    return document, config, weights, projection


def _rebuild(document: dict, weights: dict, target: str):
    try:
        model = models.build(document["model"])
    except (ValueError, TypeError, KeyError) as error:
        raise ConfigError(f"the model spec in {target}'s config.json is damaged ({error}); "
                          "train the run again") from None
    check_state_dict(target, model, weights)
    model.load_state_dict(weights)
    return model.eval()


def evaluate_command(args: Any) -> int:
    """``chainrule evaluate``: test loss, accuracy and the confusion matrix."""
    document, config, weights, projection = load_run(args.target, "evaluate")
    if args.data_dir:
        if config.dataset not in settings.IDX_DATASETS:
            raise UsageError(f"chainrule evaluate: error: --data-dir does not apply: "
                             f"{config.dataset} is bundled; drop it")
        config = config.replace(data_dir=args.data_dir)
    model = _rebuild(document, weights, args.target)
    _, test = recipe.raw_splits(config)
    loader = DataLoader(test, 512, transform=projection, seed=0)
    with np.errstate(all="ignore"):
        result = evaluate(model, loader, nn.CrossEntropyLoss(), ("accuracy",),
                          return_outputs=True)
    matrix = confusion_matrix(result["outputs"], result["targets"], document["num_classes"])
    print(f"{config.model} on {config.dataset} ({args.target}): {len(test):,} test samples")
    print(f"test loss {result['loss']:.4f}, accuracy {100 * result['accuracy']:.2f}% "
          f"({int(np.trace(matrix))}/{int(matrix.sum())})")
    labels = [str(c) for c in (document.get("classes") or range(len(matrix)))]
    width = max(4, max(len(str(matrix.max())), 1) + 1)
    names = [label[:width] for label in labels]
    print("confusion matrix (rows: true class, columns: predicted class):")
    print(" " * (width + 1) + "".join(f"{n:>{width}}" for n in names))
    for name, row in zip(names, matrix):
        print(f"{name:>{width}} " + "".join(f"{v:>{width}}" for v in row))
    return 0


def _read_inputs(path: str, shape: tuple) -> np.ndarray:
    def fail(problem: str) -> UsageError:
        return UsageError(f"chainrule predict: error: {path} {problem}")

    try:
        inputs = np.load(path, allow_pickle=False)
    except (FileNotFoundError, IsADirectoryError):
        raise fail("does not exist or is not a file; give a .npy file written by np.save"
                   ) from None
    except (ValueError, OSError, EOFError) as error:
        if "pickle" in str(error):  # a text file, a pickle or an object array: never unpickled
            problem = ("is not a .npy file of numbers (chainrule never loads Python objects or "
                       "pickles)")
        else:
            problem = f"is not a numeric .npy file ({error})"
        raise fail(f"{problem}; save one float array with np.save('x.npy', array)") from None
    if not isinstance(inputs, np.ndarray):
        inputs.close()
        raise fail("is a .npz archive; predict takes one array: np.save('x.npy', array)")
    if inputs.dtype.kind not in "biuf":
        raise fail(f"holds {inputs.dtype} values; predict takes real numbers (float or int): "
                   "convert with array.astype(np.float32)")
    if inputs.size == 0:
        raise fail(f"holds an empty array of shape {inputs.shape}; give at least one sample")
    features = int(np.prod(shape))
    if inputs.shape == shape or (inputs.ndim == 1 and inputs.size == features):
        inputs = inputs.reshape((1,) + shape)
    elif inputs.ndim == 2 and inputs.shape[1] == features and inputs.shape[1:] != shape:
        inputs = inputs.reshape((len(inputs),) + shape)
    if inputs.shape[1:] != shape:
        raise fail(f"holds an array of shape {inputs.shape}; this run takes samples of shape "
                   f"{shape}: give (N, {', '.join(map(str, shape))}), one sample, or "
                   f"(N, {features})")
    inputs = inputs.astype(np.float64)
    if not np.isfinite(inputs).all():
        bad = int(np.sum(~np.isfinite(inputs)))
        raise fail(f"holds {bad} NaN or infinite value(s); predict takes finite numbers")
    return inputs.astype(np.float32)


def _range_warning(path: str, inputs: np.ndarray, stats: dict | None) -> None:
    if not stats:
        return
    low, high = float(inputs.min()), float(inputs.max())
    span = max(stats["max"] - stats["min"], 1e-12)
    if low < stats["min"] - span or high > stats["max"] + span:
        print(f"chainrule predict: warning: {path} has values in [{low:g}, {high:g}], but the "
              f"model was trained on values in [{stats['min']:g}, {stats['max']:g}] and expects "
              "inputs scaled the same way (raw 0-16 digit pixels: divide by 16)",
              file=sys.stderr)


def predict_command(args: Any) -> int:
    """``chainrule predict``: classes (or probabilities) for the inputs of a .npy file."""
    document, _, weights, projection = load_run(args.target, "predict")
    shape = tuple(document.get("raw_input_shape") or document["input_shape"])
    inputs = _read_inputs(args.input, shape)
    out = Path(args.out) if args.out else Path(args.input).with_suffix(".predictions.npy")
    model = _rebuild(document, weights, args.target)
    _range_warning(args.input, inputs, document.get("input_stats"))
    if projection is not None:
        inputs = projection(inputs)
    with np.errstate(all="ignore"):
        outputs = predict(model, inputs)
        shifted = np.exp(outputs - outputs.max(axis=1, keepdims=True))
    if args.probabilities:
        result = (shifted / shifted.sum(axis=1, keepdims=True)).astype(np.float32)
    else:
        result = outputs.argmax(axis=1).astype(np.int64)
    try:
        np.save(out, result)
    except OSError as error:
        raise UsageError(f"chainrule predict: error: cannot write {out}: "
                         f"{error.strerror or error}; choose another --out") from None
    classes = outputs.argmax(axis=1)
    names = document.get("classes")
    shown = ", ".join(str(names[c]) if names else str(c) for c in classes[:10])
    more = ", ..." if len(classes) > 10 else ""
    print(f"{len(classes)} predictions written to {out}: {shown}{more}")
    return 0
