"""What the ``chainrule train / evaluate / predict`` commands do. The parser is in chainrule.cli,
which checks ``--config`` settings with it and calls these functions; this side never imports it.

A run folder holds ``config.json`` (the resolved configuration and the model spec: enough to
rebuild the model), ``model.safetensors`` (final weights), ``checkpoint.safetensors`` (full
state, for ``--resume``), ``history.csv``, ``curves.png``, ``confusion.png`` and, with
``--pca``, ``pca.safetensors``.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from chainrule import models, nn
from chainrule._version import __version__
from chainrule.backend import manual_seed
from chainrule.data import DataLoader
from chainrule.serialization import CheckpointError, load, save, write_file
from chainrule.train import callbacks as cb
from chainrule.train import recipe
from chainrule.train.checkpoint import check_state_dict, read_checkpoint
from chainrule.train.loop import evaluate, fit, predict
from chainrule.train.metrics import confusion_matrix
from chainrule.train.plots import plot_confusion, plot_history

__all__ = ["UsageError", "train_command", "evaluate_command", "predict_command", "load_run",
           "read_toml", "NOT_CONFIG"]

#: the parsed options of ``chainrule train`` that are not part of a run's configuration
NOT_CONFIG = ("config", "out", "resume", "quiet", "command", "handler")


class UsageError(Exception):
    """Wrong input: reported as one line on stderr with exit status 2."""


def _program() -> str:
    """How the user called us, for the commands we print."""
    return "python3 -m chainrule" if Path(sys.argv[0]).name == "__main__.py" else "chainrule"


def _tomllib():
    """The standard library's TOML reader (Python 3.11+), or None."""
    try:
        import tomllib
    except ImportError:
        return None
    return tomllib


def read_toml(path: str) -> dict[str, Any]:
    """The settings of a ``--config`` TOML file (its ``[train]`` table, or the whole file), with
    ``-`` in keys read as ``_``; the command line checks them with its parser."""
    tomllib = _tomllib()
    if tomllib is None:
        raise UsageError(f"chainrule train: error: --config needs Python 3.11 or newer (tomllib); "
                         f"this is Python {sys.version_info.major}.{sys.version_info.minor}. "
                         "Pass the settings as flags instead")
    try:
        with open(path, "rb") as stream:
            data = tomllib.load(stream)
    except FileNotFoundError:
        raise UsageError(f"chainrule train: error: --config {path}: no such file") from None
    except tomllib.TOMLDecodeError as error:
        raise UsageError(f"chainrule train: error: --config {path}: not valid TOML ({error})"
                         ) from None
    return {str(key).replace("-", "_"): value for key, value in data.get("train", data).items()}


def _checkpoint_path(target: str) -> Path:
    path = Path(target)
    if path.is_dir():
        path = path / "checkpoint.safetensors"
    if not path.is_file():
        raise UsageError(f"chainrule train: error: --resume {target}: no such checkpoint (give a "
                         "checkpoint.safetensors file or a run folder that holds one)")
    return path


def _resume_config(path: Path, explicit: dict, from_file: dict) -> tuple[dict, dict]:
    content = read_checkpoint(path)
    saved = (content.get("extra") or {}).get("config")
    if not isinstance(saved, dict):
        raise CheckpointError(f"{path} was not written by `chainrule train` (no configuration "
                              "inside); resume it from Python with fit(..., resume=path)")
    wanted = {**from_file, **explicit}
    differences = [f"{key}: checkpoint {saved.get(key)!r}, asked {wanted[key]!r}"
                   for key in recipe.STRUCTURAL if key in wanted and wanted[key] != saved.get(key)]
    if differences:
        raise UsageError(f"chainrule train: error: --resume {path} is incompatible with the "
                         f"options given ({'; '.join(differences)}); drop those options to "
                         "continue that run, or start a new run without --resume")
    config = dict(saved)
    config.update({k: v for k, v in wanted.items() if k not in recipe.STRUCTURAL})
    return config, content


def _prepare_out(out: Path) -> None:
    try:
        out.mkdir(parents=True, exist_ok=True)
        handle, probe = tempfile.mkstemp(dir=out, prefix=".write-test-")
        os.close(handle)
        os.unlink(probe)
    except OSError as error:
        raise UsageError(f"chainrule train: error: cannot write to --out {out}: "
                         f"{error.strerror or error}; choose a folder you can write to") from None


def _write_json(path: Path, document: dict) -> None:
    write_file(path, (json.dumps(document, indent=2) + "\n").encode())


def _describe(config: dict, data: dict, model: Any) -> str:
    sizes = [f"{len(data['train']):,} train"]
    if data["val"] is not None:
        sizes.append(f"{len(data['val']):,} validation")
    sizes.append(f"{len(data['test']):,} test")
    batch = config["batch_size"] or "full"
    extras = [name for name, on in (("batch norm", config["batch_norm"] or
                                     config["model"] == "resnet"),
                                    ("augmentation", config["augment"]),
                                    (f"mixup {config['mixup']}", config["mixup"]),
                                    (f"pca {config['pca']}", config["pca"]),
                                    (f"dropout {config['dropout']}", config["dropout"])) if on]
    params = sum(p.data.size for p in model.parameters())
    return (f"{config['model']} on {config['dataset']}: {' / '.join(sizes)} samples, "
            f"{params:,} parameters{', ' + ', '.join(extras) if extras else ''}\n"
            f"{config['optimizer']} lr {config['lr']:g}, batch {batch}, {config['epochs']} epochs, "
            f"{config['scheduler']} schedule, seed {config['seed']}")


def train_command(args: Any, started: float | None = None,
                  from_file: dict[str, Any] | None = None) -> int:
    """``chainrule train``: resolve the configuration, train, write the run folder.

    Args:
        args: the parsed options. started: ``time.perf_counter()`` when the command began.
        from_file: the settings of ``--config`` (checked by the command line's parser).
    """
    started = time.perf_counter() if started is None else started
    explicit = {k: v for k, v in vars(args).items() if k not in NOT_CONFIG}
    from_file = dict(from_file or {})
    resume = getattr(args, "resume", None)
    if resume:
        checkpoint = _checkpoint_path(resume)
        config, content = _resume_config(checkpoint, explicit, from_file)
        if content["epoch"] >= config["epochs"]:
            raise UsageError(f"chainrule train: error: --resume {checkpoint}: that run already "
                             f"trained {content['epoch']} of {config['epochs']} epochs; pass "
                             "--epochs with a larger number to train further")
        out = Path(getattr(args, "out", None) or checkpoint.parent)
    else:
        config = recipe.resolve(explicit, from_file)
        stamp = time.strftime("%Y%m%d-%H%M%S")
        out = Path(getattr(args, "out", None)
                   or Path("runs") / f"{config['dataset']}-{config['model']}-{stamp}")
    quiet = getattr(args, "quiet", False)
    manual_seed(int(config["seed"]))
    data = recipe.load_data(config)  # before creating the folder: missing data leaves nothing
    _prepare_out(out)
    train_loader, val_loader, test_loader = recipe.make_loaders(config, data)
    spec = recipe.model_spec(config, data["input_shape"], data["num_classes"])
    model = models.build(spec)
    optimizer = recipe.build_optimizer(config, model)
    scheduler = recipe.build_scheduler(config, optimizer, len(train_loader))
    document = {"config": config, "model": spec, "input_shape": list(data["input_shape"]),
                "raw_input_shape": list(data["raw_input_shape"]),
                "num_classes": data["num_classes"], "classes": data["classes"],
                "chainrule_version": __version__}
    _write_json(out / "config.json", document)
    extra = dict(document)
    projection = data["projection"]
    if projection is not None:
        save({"mean": projection.mean, "components": projection.components},
             out / "pca.safetensors")
        extra["pca"] = {"mean": projection.mean, "components": projection.components}

    saver = cb.Checkpoint(out, every=1, keep_best=False, extra=extra)
    callbacks = [cb.TerminateOnNaN(), cb.CSVLogger(out / "history.csv"), saver]
    if config["early_stopping"]:
        callbacks.append(cb.EarlyStopping("val_loss", patience=int(config["early_stopping"]),
                                          restore_best=True))
    if not quiet:
        callbacks += [cb.ProgressBar(batches=len(train_loader) >= 100), cb.EpochTable()]
        print(_describe(config, data, model), flush=True)
    loss_fn = nn.CrossEntropyLoss()
    try:
        history = fit(model, loss_fn, optimizer, train_loader, val_loader,
                      epochs=int(config["epochs"]), scheduler=scheduler, callbacks=callbacks,
                      metrics=("accuracy",), clip_grad_norm=config["clip_grad_norm"],
                      l1=float(config["l1"]), resume=str(checkpoint) if resume else None)
    except KeyboardInterrupt:
        path = out / "checkpoint.safetensors"
        if not path.is_file():
            print("\ninterrupted before a checkpoint could be saved", file=sys.stderr)
            return 130
        saved = saver.saved_epoch if saver.saved_epoch is not None else "the last finished"
        print(f"\ninterrupted: the state after epoch {saved} is saved in {path}\nresume "
              f"with:\n  {_program()} train --resume {path}", file=sys.stderr, flush=True)
        return 130
    save(model, out / "model.safetensors",
         metadata={"config": json.dumps(document), "epochs": str(len(history))})
    result = evaluate(model, test_loader, loss_fn, ("accuracy",), return_outputs=True)
    matrix = confusion_matrix(result["outputs"], result["targets"], data["num_classes"])
    _plots(history, matrix, data["classes"], config, result["accuracy"], out)
    correct, total = int(np.trace(matrix)), int(matrix.sum())
    seconds = time.perf_counter() - started
    print(f"test accuracy {100 * result['accuracy']:.2f}% ({correct}/{total}), test loss "
          f"{result['loss']:.4f}, {len(history)} epochs, {seconds:.1f} s", flush=True)
    if not quiet:
        print(f"run folder: {out}/ (model.safetensors, checkpoint.safetensors, config.json, "
              f"history.csv, curves.png, confusion.png)", flush=True)
    if history.stop_reason and history.stop_reason.startswith("TerminateOnNaN"):
        return 1
    if history.stop_reason and not quiet:
        print(history.stop_reason, flush=True)
    return 0


def _plots(history, matrix, classes, config, accuracy, out: Path) -> None:
    model = {"mlp": "MLP", "cnn": "CNN", "resnet": "ResNet"}.get(config["model"], config["model"])
    name = f"{model} on {config['dataset']}"
    if len(history):
        plot_history(history, out / "curves.png", title=f"{name}: training curves")
    plot_confusion(matrix, out / "confusion.png", classes,
                   title=f"{name}: test accuracy {100 * accuracy:.2f}%")


# ---------------------------------------------------------------------- evaluate and predict
def load_run(target: str, command: str) -> tuple[dict, dict, Any]:
    """(config.json document, weights, projection or None) of a run folder or checkpoint."""
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
        document = json.loads(config_file.read_text())
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
            document = json.loads(config_file.read_text())
            weights = load(path)
            pca_file = path.parent / "pca.safetensors"
            pca = load(pca_file) if pca_file.is_file() else None
    else:
        raise UsageError(f"chainrule {command}: error: {target}: no such run folder or "
                         "checkpoint")
    if "config" not in document or "model" not in document:
        raise UsageError(f"chainrule {command}: error: {target} has no chainrule train "
                         "configuration; it was not written by `chainrule train`")
    projection = None if pca is None else recipe.Projection(pca["mean"], pca["components"])
    return document, weights, projection


def _rebuild(document: dict, weights: dict, target: str):
    model = models.build(document["model"])
    check_state_dict(target, model, weights)
    model.load_state_dict(weights)
    return model.eval()


def evaluate_command(args: Any) -> int:
    """``chainrule evaluate``: test loss, accuracy and the confusion matrix."""
    document, weights, projection = load_run(args.target, "evaluate")
    config = dict(document["config"])
    if args.data_dir:
        config["data_dir"] = args.data_dir
    model = _rebuild(document, weights, args.target)
    _, test = recipe._raw_splits(config)
    loader = DataLoader(test, 512, transform=projection, seed=0)
    result = evaluate(model, loader, nn.CrossEntropyLoss(), ("accuracy",), return_outputs=True)
    matrix = confusion_matrix(result["outputs"], result["targets"], document["num_classes"])
    print(f"{config['model']} on {config['dataset']} ({args.target}): {len(test):,} test samples")
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


def predict_command(args: Any) -> int:
    """``chainrule predict``: classes (or probabilities) for the inputs of a .npy file."""
    document, weights, projection = load_run(args.target, "predict")
    try:
        inputs = np.load(args.input, allow_pickle=False)
    except FileNotFoundError:
        raise UsageError(f"chainrule predict: error: {args.input}: no such file") from None
    except ValueError as error:
        raise UsageError(f"chainrule predict: error: {args.input} is not a numeric .npy file "
                         f"({error})") from None
    shape = tuple(document.get("raw_input_shape") or document["input_shape"])
    inputs = np.asarray(inputs, dtype=np.float32)
    if inputs.shape == shape or (inputs.ndim == 1 and inputs.size == int(np.prod(shape))):
        inputs = inputs.reshape((1,) + shape)
    elif inputs.ndim == 2 and inputs.shape[1] == int(np.prod(shape)) and inputs.shape[1:] != shape:
        inputs = inputs.reshape((len(inputs),) + shape)
    if inputs.shape[1:] != shape:
        features = int(np.prod(shape))
        raise UsageError(f"chainrule predict: error: {args.input} holds an array of shape "
                         f"{inputs.shape}; this run takes samples of shape {shape}: give (N, "
                         f"{', '.join(map(str, shape))}), one sample, or (N, {features})")
    if projection is not None:
        inputs = projection(inputs)
    outputs = predict(_rebuild(document, weights, args.target), inputs)
    if args.probabilities:
        shifted = np.exp(outputs - outputs.max(axis=1, keepdims=True))
        result = (shifted / shifted.sum(axis=1, keepdims=True)).astype(np.float32)
    else:
        result = outputs.argmax(axis=1).astype(np.int64)
    out = Path(args.out) if args.out else Path(args.input).with_suffix(".predictions.npy")
    try:
        np.save(out, result)
    except OSError as error:
        raise UsageError(f"chainrule predict: error: cannot write {out}: "
                         f"{error.strerror or error}") from None
    classes = outputs.argmax(axis=1)
    names = document.get("classes")
    shown = ", ".join(str(names[c]) if names else str(c) for c in classes[:10])
    more = ", ..." if len(classes) > 10 else ""
    print(f"{len(classes)} predictions written to {out}: {shown}{more}")
    return 0
